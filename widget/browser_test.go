package widget_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/switchboard-chat/switchboard"
	bt "github.com/switchboard-chat/switchboard/internal/browsertest"
	"github.com/switchboard-chat/switchboard/store"
)

// Browser tests: a real headless Chromium loads a page on another origin
// than the server with the department's embed snippet pasted in, and a Go
// WebSocket client plays the operator.

const wait = 10 * time.Second

// sb is the JS expression of the widget element with data-sb=name.
func sb(name string) string { return bt.Shadow(`[data-sb="` + name + `"]`) }

func waitStatus(t *testing.T, ctx context.Context, status string) {
	t.Helper()
	bt.WaitJS(t, ctx, sb("status")+`?.getAttribute('data-status') === '`+status+`'`, wait, "widget status "+status)
}

// messages returns the widget's messages as "from|state|seq|text".
func messages(t *testing.T, ctx context.Context) []string {
	t.Helper()
	var out []string
	bt.Eval(t, ctx, bt.ShadowAll(`[data-sb="message"]`)+`.map(m => [m.dataset.from, m.dataset.state || '', m.dataset.seq || '', m.querySelector('.text').textContent].join('|'))`, &out)
	return out
}

func openWidget(t *testing.T, ctx context.Context) {
	t.Helper()
	bt.WaitJS(t, ctx, sb("launcher")+" != null", wait, "the launcher")
	bt.Click(t, ctx, sb("launcher"))
	bt.WaitJS(t, ctx, `!`+bt.Shadow(".win")+`.hidden && `+bt.Shadow(".win")+`.getAnimations().length === 0`, wait, "the window open")
}

func TestWidgetStory(t *testing.T) {
	e := newEnv(t)
	opToken := e.operator("alice", e.dept.ID)
	op := e.operatorConn(opToken)
	page := e.hostPage(e.dept, "en")

	ctx := bt.New(t)
	bt.Run(t, ctx, chromedp.Navigate(page))
	bt.WaitJS(t, ctx, sb("launcher")+" != null", wait, "the launcher")
	waitStatus(t, ctx, "ready")
	bt.Screenshot(t, ctx, "widget-closed")

	// The page's hostile CSS does not reach into the widget.
	var look struct {
		Display, Color, Font string
	}
	bt.Eval(t, ctx, `(() => { const s = getComputedStyle(`+sb("launcher")+`); return {Display: s.display, Color: s.color, Font: s.fontFamily}; })()`, &look)
	if look.Display == "none" || look.Color == "rgb(255, 0, 0)" || strings.HasPrefix(look.Font, "serif") {
		t.Fatalf("page CSS leaks into the widget: %+v", look)
	}

	// Open: keyboard focus goes to the form; the pre-chat form asks the
	// default fields.
	openWidget(t, ctx)
	bt.WaitJS(t, ctx, sb("question")+" != null", wait, "the pre-chat form")
	var focused string
	bt.Eval(t, ctx, `document.getElementById('switchboard-widget').shadowRoot.activeElement?.dataset.sb || ''`, &focused)
	if focused != "name" {
		t.Errorf("focus after opening is on %q, want the name field", focused)
	}
	var req []bool
	bt.Eval(t, ctx, `[`+sb("name")+`.required, `+sb("email")+`.required, `+sb("question")+`.required]`, &req)
	if !slices.Equal(req, []bool{false, false, true}) {
		t.Errorf("required name/email/question = %v, want false/false/true", req)
	}
	// Esc closes and gives focus back to the launcher.
	bt.Run(t, ctx, chromedp.KeyEvent("\x1b"))
	bt.WaitJS(t, ctx, bt.Shadow(".win")+`.hidden && document.getElementById('switchboard-widget').shadowRoot.activeElement === `+sb("launcher"), wait, "Esc closes the window")
	openWidget(t, ctx)

	// An empty required question is refused in the widget.
	bt.Click(t, ctx, sb("start"))
	bt.WaitJS(t, ctx, sb("error")+" != null", wait, "a form error")

	bt.SetValue(t, ctx, sb("name"), "Vera Visitor")
	bt.SetValue(t, ctx, sb("email"), "vera@example.com")
	bt.SetValue(t, ctx, sb("question"), "Do you ship to Japan?")
	bt.Screenshot(t, ctx, "widget-prechat")
	bt.Click(t, ctx, sb("start"))
	waitStatus(t, ctx, "queued")
	bt.WaitJS(t, ctx, bt.ShadowAll(`[data-sb="message"][data-from="visitor"][data-state="sent"]`)+`.length === 1`, wait, "the question as message 1")

	offer := op.await("chat.offer", nil)
	chatID := offer["chat_id"].(string)
	if v := offer["visitor"].(map[string]any); v["name"] != "Vera Visitor" || v["email"] != "vera@example.com" || offer["question"] != "Do you ship to Japan?" {
		t.Fatalf("offer = %v", offer)
	}
	op.call(map[string]any{"type": "chat.accept", "chat_id": chatID})
	waitStatus(t, ctx, "ongoing")
	bt.WaitJS(t, ctx, sb("status")+`.textContent.includes('alice')`, wait, "the operator's name in the status")
	bt.WaitJS(t, ctx, bt.ShadowAll(`[data-sb="message"][data-from="system"]`)+`.some(m => m.textContent.includes('alice joined'))`, wait, "the joined notice")

	// Typing, both ways.
	op.send(map[string]any{"type": "typing", "chat_id": chatID, "on": true})
	bt.WaitJS(t, ctx, `!`+sb("typing")+`.hidden`, wait, "the operator typing indicator")
	op.send(map[string]any{"type": "typing", "chat_id": chatID, "on": false})
	bt.WaitJS(t, ctx, sb("typing")+`.hidden`, wait, "the typing indicator hidden again")
	bt.Type(t, ctx, sb("input"), "Hel")
	op.await("typing", func(f map[string]any) bool { return f["on"] == true })

	// Send: sending → sent on the ack; the operator gets it.
	bt.SetValue(t, ctx, sb("input"), "Hello, is anyone there?")
	bt.Click(t, ctx, sb("send"))
	op.await("message", func(f map[string]any) bool { return f["body"] == "Hello, is anyone there?" })
	bt.WaitJS(t, ctx, bt.ShadowAll(`[data-sb="message"][data-from="visitor"]`)+`.every(m => m.dataset.state === 'sent')`, wait, "sent state")

	// The operator's reply, and one that tries to be HTML: text only.
	op.call(map[string]any{"type": "message.send", "chat_id": chatID, "client_msg_id": "op-1", "body": "Yes, we ship to Japan."})
	xss := `<img src=x onerror="window.__xss=1"><b>bold</b><script>window.__xss=2</script>`
	op.call(map[string]any{"type": "message.send", "chat_id": chatID, "client_msg_id": "op-2", "body": xss})
	bt.WaitJS(t, ctx, bt.ShadowAll(`[data-sb="message"][data-from="operator"]`)+`.length === 2`, wait, "two operator messages")
	var xssState struct {
		Flag   any
		Images int
		Bold   int
		Text   string
	}
	bt.Eval(t, ctx, `(() => { const r = document.getElementById('switchboard-widget').shadowRoot;
		const ms = r.querySelectorAll('[data-sb="message"][data-from="operator"]');
		return {Flag: window.__xss ?? null, Images: r.querySelectorAll('img').length + document.querySelectorAll('img').length,
			Bold: r.querySelectorAll('.log b').length, Text: ms[ms.length-1].querySelector('.text').textContent}; })()`, &xssState)
	if xssState.Flag != nil || xssState.Images != 0 || xssState.Bold != 0 || xssState.Text != xss {
		t.Fatalf("HTML in a message was not rendered as text: %+v", xssState)
	}
	bt.Screenshot(t, ctx, "widget-chat")

	// A message the server refuses (over 8192 bytes) is shown failed, with
	// a retry; it is not stored.
	bt.SetValue(t, ctx, sb("input"), strings.Repeat("あ", 3000))
	bt.Click(t, ctx, sb("send"))
	bt.WaitJS(t, ctx, bt.Shadow(`[data-sb="message"][data-state="failed"] [data-sb="retry"]`)+" != null", wait, "a failed message with a retry button")
	bt.Eval(t, ctx, bt.Shadow(`[data-sb="message"][data-state="failed"]`)+`.remove()`, nil) // out of the transcript comparisons below

	// The network drops. Meanwhile the visitor writes twice and the
	// operator once; after the reconnect nothing is lost or doubled.
	e.proxy.Cut()
	waitStatus(t, ctx, "reconnecting")
	for _, s := range []string{"Sent while offline 1", "Sent while offline 2"} {
		bt.SetValue(t, ctx, sb("input"), s)
		bt.Click(t, ctx, sb("send"))
	}
	bt.WaitJS(t, ctx, bt.ShadowAll(`[data-sb="message"][data-state="sending"]`)+`.length === 2`, wait, "two pending messages")
	op.call(map[string]any{"type": "message.send", "chat_id": chatID, "client_msg_id": "op-3", "body": "Are you still there?"})
	bt.Screenshot(t, ctx, "widget-reconnecting")
	e.proxy.Restore()
	waitStatus(t, ctx, "ongoing")
	bt.WaitJS(t, ctx, bt.ShadowAll(`[data-sb="message"]`)+`.every(m => m.dataset.from !== 'visitor' || m.dataset.state === 'sent') && `+
		bt.ShadowAll(`[data-sb="message"]`)+`.some(m => m.textContent.includes('Are you still there?'))`, 15*time.Second, "everything delivered after the reconnect")
	checkTranscript(t, ctx, e.st, chatID)

	// A returning visitor: after a reload the open chat is back, whole.
	before := messages(t, ctx)
	bt.Run(t, ctx, chromedp.Reload())
	waitStatus(t, ctx, "ongoing")
	bt.WaitJS(t, ctx, fmt.Sprintf(`%s.length === %d`, bt.ShadowAll(`[data-sb="message"]`), len(before)), wait, "the transcript after a reload")
	if after := messages(t, ctx); !slices.Equal(after, before) {
		t.Fatalf("after reload:\n%s\nbefore:\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
	}
	bt.WaitJS(t, ctx, `!`+bt.Shadow(".win")+`.hidden`, wait, "the window still open after the reload")

	// End, rate, comment.
	bt.Click(t, ctx, sb("end"))
	waitStatus(t, ctx, "ended")
	bt.WaitJS(t, ctx, sb("rating")+" != null", wait, "the rating form")
	op.await("chat.ended", func(f map[string]any) bool { return f["chat_id"] == chatID })
	bt.Click(t, ctx, bt.Shadow(`[data-sb="rate"][data-value="4"]`))
	bt.SetValue(t, ctx, sb("comment"), "Quick and kind.")
	bt.Screenshot(t, ctx, "widget-rating")
	bt.Click(t, ctx, sb("submit-feedback"))
	bt.WaitJS(t, ctx, sb("feedback-done")+" != null", wait, "the feedback thanks")
	bt.Screenshot(t, ctx, "widget-feedback-done")
	var detail struct {
		Status   string
		Feedback *struct {
			Rating  int
			Comment string
		}
	}
	e.api(e.adminToken, "GET", "/api/chats/"+chatID, nil, 200, &detail)
	if detail.Status != "completed" || detail.Feedback == nil || detail.Feedback.Rating != 4 || detail.Feedback.Comment != "Quick and kind." {
		t.Fatalf("chat after feedback = %+v", detail)
	}

	// The visitor comes back to the same conversation: it is reopened and
	// offered again, and the operator who accepts it answers.
	bt.Click(t, ctx, sb("reopen"))
	op.await("chat.offer", func(f map[string]any) bool { return f["chat_id"] == chatID })
	op.call(map[string]any{"type": "chat.accept", "chat_id": chatID})
	waitStatus(t, ctx, "ongoing")
	e.api(e.adminToken, "GET", "/api/chats/"+chatID, nil, 200, &detail)
	if detail.Status != "ongoing" {
		t.Fatalf("chat after the visitor reopened it = %+v", detail)
	}
	bt.Click(t, ctx, sb("end"))
	waitStatus(t, ctx, "ended")

	// After a reload the ended chat is not resumed: a fresh form.
	bt.Run(t, ctx, chromedp.Reload())
	bt.WaitJS(t, ctx, sb("question")+" != null", wait, "a fresh pre-chat form after the end")
}

// checkTranscript compares the widget's messages with the store: the same
// seqs 1..n in order, each once, every visitor message stored once.
func checkTranscript(t *testing.T, ctx context.Context, st store.Store, chatID string) {
	t.Helper()
	stored, err := st.Messages(t.Context(), chatID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	got := messages(t, ctx)
	if len(got) != len(stored) {
		t.Fatalf("widget shows %d messages, the store has %d:\n%s", len(got), len(stored), strings.Join(got, "\n"))
	}
	bodies := map[string]int{}
	for i, m := range stored {
		parts := strings.SplitN(got[i], "|", 4)
		if parts[2] != fmt.Sprint(m.Seq) || (m.FromKind != switchboard.FromSystem && parts[3] != m.Body) {
			t.Errorf("message %d: widget %q, store seq %d %q", i, got[i], m.Seq, m.Body)
		}
		if m.FromKind == switchboard.FromVisitor {
			bodies[m.Body]++
		}
	}
	for b, n := range bodies {
		if n != 1 {
			t.Errorf("visitor message %q stored %d times", b, n)
		}
	}
	for _, want := range []string{"Sent while offline 1", "Sent while offline 2", "Hello, is anyone there?", "Do you ship to Japan?"} {
		if bodies[want] != 1 {
			t.Errorf("visitor message %q stored %d times, want 1", want, bodies[want])
		}
	}
}

// TestWidgetOfflineJapanese: nobody online, a Japanese page: the widget
// shows the offline form in Japanese; what the visitor leaves lands in
// history as a missed chat with their email.
func TestWidgetOfflineJapanese(t *testing.T) {
	e := newEnv(t)
	page := e.hostPage(e.dept, "ja")
	ctx := bt.New(t)
	bt.Run(t, ctx, chromedp.Navigate(page))
	bt.WaitJS(t, ctx, sb("launcher")+`?.getAttribute('aria-label') === 'チャットを開く'`, wait, "a Japanese launcher")
	waitStatus(t, ctx, "offline")
	openWidget(t, ctx)
	bt.WaitJS(t, ctx, sb("offline-form")+" != null", wait, "the offline form")
	if got := bt.Text(t, ctx, sb("start")); got != "メッセージを送信" {
		t.Errorf("offline submit button = %q", got)
	}
	var req []bool
	bt.Eval(t, ctx, `[`+sb("email")+`.required, `+sb("question")+`.required]`, &req)
	if !slices.Equal(req, []bool{true, true}) {
		t.Errorf("offline form: email/message required = %v", req)
	}
	bt.SetValue(t, ctx, sb("name"), "山田 花子")
	bt.SetValue(t, ctx, sb("email"), "hanako@example.jp")
	bt.SetValue(t, ctx, sb("question"), "営業時間を教えてください。")
	bt.Screenshot(t, ctx, "widget-offline-ja")
	bt.Click(t, ctx, sb("start"))
	waitStatus(t, ctx, "missed")
	bt.WaitJS(t, ctx, sb("offline-done")+" != null", wait, "the thanks for the left message")
	bt.Screenshot(t, ctx, "widget-offline-done-ja")

	var list struct {
		Items []struct {
			ID      string
			Status  string
			Visitor struct{ Name, Email string }
		}
	}
	e.api(e.adminToken, "GET", "/api/chats?category=missed", nil, 200, &list)
	if len(list.Items) != 1 || list.Items[0].Visitor.Email != "hanako@example.jp" || list.Items[0].Visitor.Name != "山田 花子" {
		t.Fatalf("missed chats = %+v", list.Items)
	}
	msgs, err := e.st.Messages(t.Context(), list.Items[0].ID, 0, 10)
	if err != nil || len(msgs) == 0 || msgs[0].Body != "営業時間を教えてください。" {
		t.Fatalf("missed chat's messages = %+v, %v", msgs, err)
	}
}

// TestWidgetMissedWhileWaiting: an operator is online but does not answer;
// the chat turns missed and the widget takes a message and the email.
// Also: the snippet's data-locale overrides the page's language, and the
// department's pre-chat setting decides the fields.
func TestWidgetMissedWhileWaiting(t *testing.T) {
	e := newEnv(t)
	dept, err := e.st.UpdateDepartment(t.Context(), e.dept.ID, func(d *switchboard.Department) error {
		d.WaitTimeoutS, d.RingTimeoutS = 2, 1
		d.Prechat = switchboard.PrechatSettings{Name: switchboard.FieldOff, Email: switchboard.FieldOff, Question: switchboard.FieldRequired}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	op := e.operatorConn(e.operator("bob", dept.ID))
	page := e.hostPage(dept, "ja")
	ctx := bt.New(t)
	bt.Run(t, ctx, chromedp.Navigate(page+"?data-locale=en"))
	bt.WaitJS(t, ctx, sb("launcher")+`?.getAttribute('aria-label') === 'Open chat'`, wait, "data-locale=en beats lang=ja")
	openWidget(t, ctx)
	bt.WaitJS(t, ctx, sb("question")+" != null", wait, "the pre-chat form")
	var fields []string
	bt.Eval(t, ctx, bt.ShadowAll(`form [data-sb]`)+`.map(e => e.dataset.sb)`, &fields)
	if !slices.Equal(fields, []string{"question", "start"}) {
		t.Fatalf("pre-chat fields with name and email off = %v", fields)
	}
	bt.SetValue(t, ctx, sb("question"), "Anyone?")
	bt.Click(t, ctx, sb("start"))
	waitStatus(t, ctx, "queued")
	op.await("chat.offer", nil) // and let it ring out
	waitStatus(t, ctx, "missed")
	bt.WaitJS(t, ctx, sb("offline-form")+" != null", 15*time.Second, "the offline form in the missed chat")
	bt.SetValue(t, ctx, sb("email"), "late@example.com")
	bt.SetValue(t, ctx, sb("question"), "Please call me back.")
	bt.Click(t, ctx, sb("start"))
	bt.WaitJS(t, ctx, sb("offline-done")+" != null", wait, "the thanks")
	bt.WaitJS(t, ctx, bt.ShadowAll(`[data-sb="message"][data-from="visitor"]`)+`.map(m => m.dataset.state).join() === 'sent,sent'`, wait, "both visitor messages sent")

	var list struct {
		Items []struct {
			ID      string
			Visitor struct{ Email string }
		}
	}
	e.api(e.adminToken, "GET", "/api/chats?category=missed", nil, 200, &list)
	if len(list.Items) != 1 || list.Items[0].Visitor.Email != "late@example.com" {
		t.Fatalf("missed chats = %+v", list.Items)
	}
	msgs, err := e.st.Messages(t.Context(), list.Items[0].ID, 0, 10)
	if err != nil || len(msgs) != 2 || msgs[1].Body != "Please call me back." {
		t.Fatalf("missed chat's messages = %+v, %v", msgs, err)
	}
}

// TestWidgetMobileAndDemo: on a phone-sized screen the open widget takes
// the whole viewport; the demo page (same origin, strict CSP) works.
func TestWidgetMobileAndDemo(t *testing.T) {
	e := newEnv(t)
	// The demo page is the server's own: it works whatever the allowed origins.
	if _, err := e.st.UpdateDepartment(t.Context(), e.dept.ID, func(d *switchboard.Department) error {
		d.AllowedOrigins = []string{"https://shop.example.com"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	ctx := bt.New(t)
	bt.Run(t, ctx, emulation.SetDeviceMetricsOverride(390, 760, 2, true), chromedp.Navigate(e.proxy.URL()+"/demo"))
	waitStatus(t, ctx, "offline") // nobody online
	openWidget(t, ctx)
	var box struct{ W, H, VW, VH float64 }
	bt.Eval(t, ctx, `(() => { const r = `+bt.Shadow(".win")+`.getBoundingClientRect(); return {W: r.width, H: r.height, VW: innerWidth, VH: innerHeight}; })()`, &box)
	if box.W != box.VW || box.H != box.VH {
		t.Fatalf("mobile window %vx%v, viewport %vx%v: want full screen", box.W, box.H, box.VW, box.VH)
	}
	// Styles applied despite the demo page's CSP (no inline styles).
	var pos string
	bt.Eval(t, ctx, `getComputedStyle(`+bt.Shadow(".win")+`).display`, &pos)
	if pos != "flex" {
		t.Fatalf("widget styles not applied under the demo CSP: .win display %q", pos)
	}
	bt.Screenshot(t, ctx, "widget-mobile")
}

// dropFrames makes every WebSocket of the page ignore incoming frames while
// window.__drop is true: acks and echoes lost on the way, as when the
// network fails between the server storing a message and the visitor
// hearing of it.
const dropFrames = `(() => {
  const d = Object.getOwnPropertyDescriptor(WebSocket.prototype, 'onmessage');
  Object.defineProperty(WebSocket.prototype, 'onmessage', {
    configurable: true,
    get() { return d.get.call(this); },
    set(fn) { d.set.call(this, (e) => { if (!window.__drop) fn.call(this, e); }); },
  });
  // window.__mute: frames the page sends are lost on the way.
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) { if (!window.__mute) send.call(this, data); };
})();`

// TestWidgetLostAck: the server stores a message but its ack never reaches
// the widget; after the reconnect the widget sends it again with the same
// client_msg_id, and it is stored and shown once.
func TestWidgetLostAck(t *testing.T) {
	e := newEnv(t)
	op := e.operatorConn(e.operator("carol", e.dept.ID))
	pageURL := e.hostPage(e.dept, "en")
	ctx := bt.New(t)
	bt.Run(t, ctx, chromedp.ActionFunc(func(ctx context.Context) error {
		_, err := page.AddScriptToEvaluateOnNewDocument(dropFrames).Do(ctx)
		return err
	}), chromedp.Navigate(pageURL))
	openWidget(t, ctx)
	bt.SetValue(t, ctx, sb("question"), "First")
	bt.Click(t, ctx, sb("start"))
	offer := op.await("chat.offer", nil)
	chatID := offer["chat_id"].(string)
	op.call(map[string]any{"type": "chat.accept", "chat_id": chatID})
	waitStatus(t, ctx, "ongoing")

	bt.Eval(t, ctx, `window.__drop = true`, nil)
	bt.SetValue(t, ctx, sb("input"), "Lost ack")
	bt.Click(t, ctx, sb("send"))
	op.await("message", func(f map[string]any) bool { return f["body"] == "Lost ack" }) // stored
	op.call(map[string]any{"type": "message.send", "chat_id": chatID, "client_msg_id": "op-x", "body": "Got it"})
	time.Sleep(200 * time.Millisecond) // let the ack and echo arrive, to be dropped
	if got := bt.Attr(t, ctx, bt.Shadow(`[data-sb="message"][data-state="sending"]`), "data-from"); got != "visitor" {
		t.Fatalf("the message whose ack was lost is not pending")
	}
	e.proxy.Cut()
	waitStatus(t, ctx, "reconnecting")
	bt.Eval(t, ctx, `window.__drop = false`, nil)
	e.proxy.Restore()
	waitStatus(t, ctx, "ongoing")
	bt.WaitJS(t, ctx, bt.ShadowAll(`[data-sb="message"]`)+`.every(m => m.dataset.from !== 'visitor' || m.dataset.state === 'sent') && `+
		bt.ShadowAll(`[data-sb="message"]`)+`.some(m => m.textContent.includes('Got it'))`, 15*time.Second, "all delivered after the reconnect")
	stored, err := e.st.Messages(t.Context(), chatID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	got := messages(t, ctx)
	if len(got) != len(stored) {
		t.Fatalf("widget shows %d messages, the store has %d:\n%s", len(got), len(stored), strings.Join(got, "\n"))
	}
	n := 0
	for i, m := range stored {
		if m.Body == "Lost ack" {
			n++
		}
		if strings.SplitN(got[i], "|", 4)[2] != fmt.Sprint(m.Seq) {
			t.Errorf("message %d: widget %q, store seq %d", i, got[i], m.Seq)
		}
	}
	if n != 1 {
		t.Fatalf("the message whose ack was lost is stored %d times", n)
	}

	// Unacknowledged messages survive a reload (localStorage) and are sent
	// again, still once.
	bt.Eval(t, ctx, `window.__mute = true`, nil)
	bt.SetValue(t, ctx, sb("input"), "Before reload")
	bt.Click(t, ctx, sb("send"))
	bt.WaitJS(t, ctx, bt.Shadow(`[data-sb="message"][data-state="sending"]`)+" != null", wait, "a pending message")
	bt.Run(t, ctx, chromedp.Reload())
	op.await("message", func(f map[string]any) bool { return f["body"] == "Before reload" }) // sent only after the reload
	waitStatus(t, ctx, "ongoing")
	bt.WaitJS(t, ctx, bt.ShadowAll(`[data-sb="message"]`)+`.filter(m => m.textContent.includes('Before reload')).map(m => m.dataset.state).join() === 'sent'`,
		wait, "the message pending at the reload, sent once")
	stored, err = e.st.Messages(t.Context(), chatID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if got := messages(t, ctx); len(got) != len(stored) {
		t.Fatalf("after reload the widget shows %d messages, the store has %d:\n%s", len(got), len(stored), strings.Join(got, "\n"))
	}
}
