package console_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/switchboard-chat/switchboard/console"
	"github.com/switchboard-chat/switchboard/internal/browsertest"
	"github.com/switchboard-chat/switchboard/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func navigate(u string) chromedp.Action { return chromedp.Navigate(u) }

func TestHandlerServesPageAndAssetsUnderStrictCSP(t *testing.T) {
	t.Parallel()
	h := console.Handler()
	for _, c := range []struct {
		path, wantType, wantBody string
		wantStatus               int
	}{
		{"/", "text/html", `src="/console/assets/main.js"`, 200},
		{"/console", "text/html", `type="module"`, 200},
		{"/console/", "text/html", `id="app"`, 200},
		{"/console/assets/main.js", "text/javascript", "import", 200},
		{"/console/assets/console.css", "text/css", ":root", 200},
		{"/console/assets/nope.js", "", "", 404},
		{"/console/elsewhere", "", "", 404},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", c.path, nil))
		res := rec.Result()
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != c.wantStatus {
			t.Errorf("%s: status %d, want %d", c.path, res.StatusCode, c.wantStatus)
			continue
		}
		csp := res.Header.Get("Content-Security-Policy")
		for _, want := range []string{"script-src 'self'", "connect-src 'self' ws: wss:", "object-src 'none'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", c.path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP allows inline code: %q", c.path, csp)
		}
		if c.wantStatus != 200 {
			continue
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, c.wantType) {
			t.Errorf("%s: Content-Type %q, want %s", c.path, ct, c.wantType)
		}
		if !strings.Contains(string(body), c.wantBody) {
			t.Errorf("%s: body lacks %q", c.path, c.wantBody)
		}
	}
}

// TestNoUserDataThroughHTMLParsing keeps the console's promise that text
// from users is only ever inserted as text: no script may use innerHTML,
// outerHTML, insertAdjacentHTML or document.write.
func TestNoUserDataThroughHTMLParsing(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(console.Handler())
	defer srv.Close()
	for _, f := range []string{"main.js", "chats.js", "history.js", "admin.js", "supervise.js", "dom.js", "ui.js", "api.js", "live.js", "i18n.js"} {
		resp, err := http.Get(srv.URL + "/console/assets/" + f)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", f, resp.StatusCode)
		}
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("} {
			if strings.Contains(string(body), bad) {
				t.Errorf("%s uses %s", f, bad)
			}
		}
	}
}

// TestConsoleOperatorChat drives the console in Chromium: login, go online,
// an offer from a visitor (a Go protocol client) rings, accept, messages and
// typing both ways, visitor details, a note, end, and the chat in the
// history under "completed"; then the language switch.
func TestConsoleOperatorChat(t *testing.T) {
	e := newEnv(t)
	alice := e.operator("alice", "operator", e.dept.ID)
	ctx := browsertest.New(t)
	// Record CSP violations from the first moment of every page (this
	// script is injected by the browser, outside the page's CSP).
	browsertest.Run(t, ctx, chromedp.ActionFunc(func(ctx context.Context) error {
		_, err := page.AddScriptToEvaluateOnNewDocument(`window.__csp = [];
			document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
			// A granted Notification that records, and a tab in the background,
			// which is when the console notifies.
			window.__notes = [];
			window.Notification = class { static permission = 'granted'; static requestPermission() { return Promise.resolve('granted'); }
				constructor(title, opts) { window.__notes.push(title + ' | ' + (opts && opts.body)); } close() {} };
			document.hasFocus = () => false;`).Do(ctx)
		return err
	}))
	login(t, ctx, e.url, "alice@example.com", "password-alice")
	goOnline(t, ctx)

	v := dialVisitor(t, e.url, e.dept.WidgetKey)
	v.wait("hello", func(f frame) bool { return f.str("type") == "hello" })
	start := v.ok(frame{"type": "chat.start", "name": "Hanako <script>", "email": "hanako@example.com",
		"question": "Where is my <b>order</b>?", "page_url": "https://shop.example/cart"})
	chatID := start.str("chat_id")

	offer := sb("offer", `[data-chat-id="`+chatID+`"]`)
	browsertest.WaitJS(t, ctx, offer+" != null", 15*time.Second, "the offer")
	browsertest.WaitJS(t, ctx, `Number(document.getElementById('app').dataset.beeps) >= 1`, 5*time.Second, "the offer's beep")
	var notes []string
	browsertest.Eval(t, ctx, `window.__notes`, &notes)
	if len(notes) != 1 || !strings.Contains(notes[0], "Hanako <script>") || !strings.Contains(notes[0], "Where is my <b>order</b>?") {
		t.Errorf("notifications: %q", notes)
	}
	if got := browsertest.Text(t, ctx, offer+`.querySelector('[data-sb="offer-question"]')`); got != "Where is my <b>order</b>?" {
		t.Errorf("offer question shows %q", got)
	}
	browsertest.Screenshot(t, ctx, "console-offer")
	browsertest.Click(t, ctx, offer+`.querySelector('[data-sb="accept"]')`)

	pane := sb("chat-pane", `[data-chat-id="`+chatID+`"]`)
	visitorMsgs := pane + `.querySelectorAll('[data-sb="message"][data-from="visitor"]')`
	browsertest.WaitJS(t, ctx, visitorMsgs+`.length === 1`, 15*time.Second, "the question in the chat")
	v.wait("chat.assigned", func(f frame) bool { return f.str("type") == "chat.assigned" })

	// Markup from the visitor stays text.
	v.ok(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": "m1", "body": "<img src=x onerror=alert(1)> hi"})
	browsertest.WaitJS(t, ctx, visitorMsgs+`.length === 2`, 10*time.Second, "the visitor's message")
	var imgs int
	browsertest.Eval(t, ctx, pane+`.querySelectorAll('img').length`, &imgs)
	if imgs != 0 {
		t.Errorf("a visitor's markup became %d elements", imgs)
	}
	if got := browsertest.Text(t, ctx, visitorMsgs+`[1].querySelector('[data-sb="message-body"]')`); got != "<img src=x onerror=alert(1)> hi" {
		t.Errorf("message shows %q", got)
	}

	// Visitor details beside the chat.
	browsertest.WaitJS(t, ctx, sb("visitor-ua")+`?.textContent === 'ConsoleTest/1.0'`, 10*time.Second, "the visitor's user agent")
	for hook, want := range map[string]string{"visitor-name": "Hanako <script>", "visitor-email": "hanako@example.com",
		"visitor-ip": "127.0.0.1", "visitor-page": "https://shop.example/cart"} {
		if got := browsertest.Text(t, ctx, pane+`.querySelector('[data-sb="`+hook+`"]')`); got != want {
			t.Errorf("%s = %q, want %q", hook, got, want)
		}
	}

	// Typing, visitor to operator.
	v.send(frame{"type": "typing", "chat_id": chatID, "on": true})
	browsertest.WaitJS(t, ctx, pane+`.querySelector('[data-sb="typing"]').hidden === false`, 10*time.Second, "the typing indicator")
	v.send(frame{"type": "typing", "chat_id": chatID, "on": false})
	browsertest.WaitJS(t, ctx, pane+`.querySelector('[data-sb="typing"]').hidden === true`, 10*time.Second, "the typing indicator off")

	// Typing and a reply, operator to visitor (real key events).
	browsertest.Type(t, ctx, pane+`.querySelector('[data-sb="input"]')`, "Let me check, Hanako.")
	v.wait("operator typing", func(f frame) bool { return f.str("type") == "typing" && f["on"] == true })
	browsertest.Click(t, ctx, pane+`.querySelector('[data-sb="send"]')`)
	reply := v.wait("the reply", func(f frame) bool {
		return f.str("type") == "message" && f.str("body") == "Let me check, Hanako."
	})
	if from, _ := reply["from"].(map[string]any); from["id"] != alice || from["kind"] != "operator" {
		t.Errorf("reply from %v", reply["from"])
	}
	browsertest.WaitJS(t, ctx, pane+`.querySelectorAll('[data-sb="message"][data-from="operator"][data-state="sent"]').length === 1`, 10*time.Second, "the reply marked sent")
	browsertest.WaitJS(t, ctx, pane+`.querySelectorAll('[data-state="sending"]').length === 0`, 5*time.Second, "nothing pending")

	// A note, stored through the API.
	browsertest.SetValue(t, ctx, pane+`.querySelector('[data-sb="note-input"]')`, "VIP customer")
	browsertest.Click(t, ctx, pane+`.querySelector('[data-sb="add-note"]')`)
	browsertest.WaitJS(t, ctx, pane+`.querySelector('[data-sb="note"]')?.textContent.includes('VIP customer')`, 10*time.Second, "the note")
	var detail struct {
		Notes []struct {
			Body       string
			OperatorID string `json:"operator_id"`
		}
	}
	e.api(e.adminToken, "GET", "/api/chats/"+chatID, nil, 200, &detail)
	if len(detail.Notes) != 1 || detail.Notes[0].Body != "VIP customer" {
		t.Errorf("notes in the store: %+v", detail.Notes)
	}
	browsertest.Screenshot(t, ctx, "console-chat")

	// End the chat (with confirmation).
	browsertest.Click(t, ctx, pane+`.querySelector('[data-sb="end"]')`)
	browsertest.Click(t, ctx, sb("confirm-ok"))
	v.wait("chat.ended", func(f frame) bool { return f.str("type") == "chat.ended" })
	browsertest.WaitJS(t, ctx, pane+`.dataset.status === 'ended'`, 10*time.Second, "the pane ended")

	// History, category completed.
	browsertest.Click(t, ctx, sb("nav-history"))
	waitHistory(t, ctx, "all")
	browsertest.Click(t, ctx, sb("category", `[data-value="completed"]`))
	waitHistory(t, ctx, "completed")
	row := sb("history-row", `[data-chat-id="`+chatID+`"]`)
	browsertest.WaitJS(t, ctx, row+` != null && `+row+`.dataset.status === 'completed'`, 10*time.Second, "the chat under completed")
	browsertest.Click(t, ctx, row)
	browsertest.WaitJS(t, ctx, `document.querySelectorAll('[data-sb="transcript-message"]').length >= 4`, 10*time.Second, "the transcript")
	if href := browsertest.Attr(t, ctx, sb("transcript-html"), "href"); href != "/api/chats/"+chatID+"/transcript?format=html" {
		t.Errorf("html transcript link %q", href)
	}
	var transcript string
	browsertest.Eval(t, ctx, `fetch(`+sb("transcript-text")+`.href).then(r => r.text())`, &transcript)
	if !strings.Contains(transcript, "Let me check, Hanako.") {
		t.Errorf("text transcript through the link lacks the reply:\n%s", transcript)
	}
	browsertest.Screenshot(t, ctx, "console-history")

	// The ongoing category does not list it.
	browsertest.Click(t, ctx, sb("category", `[data-value="ongoing"]`))
	waitHistory(t, ctx, "ongoing")
	browsertest.WaitJS(t, ctx, sb("history-empty")+`.hidden === false`, 10*time.Second, "no ongoing chats")

	// Reopen it to herself: it opens among her live chats and she can write.
	browsertest.Click(t, ctx, sb("category", `[data-value="completed"]`))
	waitHistory(t, ctx, "completed")
	browsertest.Click(t, ctx, row)
	browsertest.Click(t, ctx, sb("reopen-to-me"))
	browsertest.WaitJS(t, ctx, pane+`?.dataset.status === 'ongoing' && `+pane+`.querySelectorAll('[data-sb="message"]').length >= 4`, 10*time.Second, "the reopened chat in the chats view")
	browsertest.SetValue(t, ctx, pane+`.querySelector('[data-sb="input"]')`, "One more thing, Hanako.")
	browsertest.Click(t, ctx, pane+`.querySelector('[data-sb="send"]')`)
	browsertest.WaitJS(t, ctx, `[...`+pane+`.querySelectorAll('[data-sb="message"][data-state="sent"]')].some(m => m.textContent.includes('One more thing'))`, 10*time.Second, "a message in the reopened chat")
	var reopened struct {
		Status   string
		Reopened bool
		Messages []struct{ Body string }
	}
	e.api(e.adminToken, "GET", "/api/chats/"+chatID, nil, 200, &reopened)
	if reopened.Status != "ongoing" || !reopened.Reopened || reopened.Messages[len(reopened.Messages)-1].Body != "One more thing, Hanako." {
		t.Errorf("reopened chat: %+v", reopened)
	}
	browsertest.Click(t, ctx, sb("nav-history"))
	waitHistory(t, ctx, "completed")

	// Japanese.
	browsertest.SetValue(t, ctx, sb("lang"), "ja")
	browsertest.WaitJS(t, ctx, sb("nav-history")+`.textContent === '履歴' && document.documentElement.lang === 'ja'`, 5*time.Second, "Japanese UI")
	browsertest.Screenshot(t, ctx, "console-history-ja")

	var violations []string
	browsertest.Eval(t, ctx, `window.__csp`, &violations)
	if len(violations) != 0 {
		t.Errorf("CSP violations: %v", violations)
	}
	// The recorder works and the CSP holds: injected inline code is refused.
	var ran bool
	browsertest.Eval(t, ctx, `(() => { const s = document.createElement('script'); s.textContent = 'window.__ran = true';
		document.body.appendChild(s); return new Promise(r => setTimeout(() => r(!!window.__ran), 100)); })()`, &ran)
	browsertest.Eval(t, ctx, `window.__csp`, &violations)
	if ran || len(violations) != 1 {
		t.Errorf("inline script ran=%v, violations %v", ran, violations)
	}

	// Logout ends the session.
	browsertest.Click(t, ctx, sb("logout"))
	browsertest.WaitJS(t, ctx, sb("login-form")+` != null`, 10*time.Second, "the login form after logout")
	var status int
	browsertest.Eval(t, ctx, `fetch('/api/me').then(r => r.status)`, &status)
	if status != 401 {
		t.Errorf("GET /api/me after logout: %d, want 401", status)
	}
}

// TestConsoleLanguage: the login page follows the browser's language
// (Japanese here), and a choice made on the page is kept across reloads.
func TestConsoleLanguage(t *testing.T) {
	e := newEnv(t)
	ctx := browsertest.New(t)
	browsertest.Run(t, ctx, chromedp.ActionFunc(func(ctx context.Context) error {
		return emulation.SetUserAgentOverride("Mozilla/5.0 ConsoleTest").WithAcceptLanguage("ja-JP,ja").Do(ctx)
	}))
	browsertest.Run(t, ctx, navigate(e.url+"/console"))
	browsertest.WaitJS(t, ctx, sb("login-submit")+`?.textContent === 'ログイン'`, 10*time.Second, "the Japanese login page")
	browsertest.Screenshot(t, ctx, "console-login-ja")
	browsertest.SetValue(t, ctx, sb("lang"), "en")
	browsertest.WaitJS(t, ctx, sb("login-submit")+`?.textContent === 'Log in'`, 10*time.Second, "English after the switch")
	browsertest.Run(t, ctx, navigate(e.url+"/"))
	browsertest.WaitJS(t, ctx, sb("login-submit")+`?.textContent === 'Log in' && document.documentElement.lang === 'en'`, 10*time.Second, "English kept after a reload")
}
