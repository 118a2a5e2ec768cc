package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/switchboard-chat/switchboard/internal/browsertest"
	"github.com/switchboard-chat/switchboard/internal/testnode"
	"github.com/switchboard-chat/switchboard/internal/teststore"
	"github.com/switchboard-chat/switchboard/server"
	"github.com/switchboard-chat/switchboard/store"
)

// storyNode is newNode with the public URL (embed snippets, so the widget)
// behind a NetCut: cutting it is the visitor's network going away while
// the operator, who uses the server's own address, stays on.
func storyNode(t *testing.T, st store.Store) (*node, *browsertest.NetCut) {
	t.Helper()
	proxy := browsertest.NewNetCut(t)
	tn := testnode.Start(t, st, server.Config{PublicURL: proxy.URL()})
	proxy.Serve(tn.Addr())
	return fromTestNode(t, tn), proxy
}

// Console and widget hooks.
func csb(hook string, extra ...string) string {
	return fmt.Sprintf("document.querySelector(%q)", fmt.Sprintf(`[data-sb=%q]`, hook)+strings.Join(extra, ""))
}
func wsb(hook string, extra ...string) string {
	return browsertest.Shadow(fmt.Sprintf(`[data-sb=%q]`, hook) + strings.Join(extra, ""))
}
func wall(sel string) string { return browsertest.ShadowAll(sel) }

// TestBrowserStory is issue 7's story in a real browser: a site embeds a
// department's snippet; a visitor opens the widget, fills the pre-chat form
// and writes; an operator in another browser context logs into the
// console, goes online, accepts and replies; the visitor's network drops
// and comes back with nothing lost or doubled; the operator transfers the
// chat to a private department, whose operator accepts; the chat ends, the
// visitor rates it, and the console's history lists it under completed.
func TestBrowserStory(t *testing.T) {
	teststore.Each(t, func(t *testing.T, st store.Store) {
		n, proxy := storyNode(t, st)
		var tier2 struct{ ID string }
		n.api(n.adminToken, "POST", "/api/departments", map[string]any{"name": "Tier 2", "visibility": "private"}, 201, &tier2)
		n.operator("alice", 5, n.dept.ID)
		_, bobToken := n.operator("bob", 5, tier2.ID)
		bob := n.operatorConn("bob", bobToken)
		bob.waitType("hello", 10*time.Second)
		bob.ok(frame{"type": "status.set", "status": "online"})

		// The site: a page of its own origin that pastes the snippet.
		var embed struct{ Snippet string }
		n.api(n.adminToken, "GET", "/api/departments/"+n.dept.ID+"/embed", nil, 200, &embed)
		if !strings.Contains(embed.Snippet, proxy.URL()+"/widget/") {
			t.Fatalf("snippet does not load from the public URL: %s", embed.Snippet)
		}
		site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Shop</title></head>"+
				"<body><h1>Acme shop</h1><p>Checkout page.</p>\n%s</body></html>", embed.Snippet)
		}))
		t.Cleanup(site.Close)

		// The operator goes online first: with nobody online the chat
		// would be missed at once.
		visitor := browsertest.New(t)
		op := browsertest.NewContext(t, visitor)
		browsertest.Run(t, op, navigateTo(n.http.URL+"/"))
		browsertest.WaitJS(t, op, csb("login-email")+" != null", 15*time.Second, "login form")
		browsertest.SetValue(t, op, csb("login-email"), "alice@example.com")
		browsertest.SetValue(t, op, csb("login-password"), "password-alice")
		browsertest.Click(t, op, csb("login-submit"))
		browsertest.WaitJS(t, op, `document.getElementById('app').dataset.conn === 'connected'`, 15*time.Second, "console connected")
		browsertest.SetValue(t, op, csb("status"), "online")
		browsertest.WaitJS(t, op, `document.getElementById('app').dataset.status === 'online'`, 10*time.Second, "alice online")

		// The visitor opens the widget and fills the pre-chat form.
		browsertest.Run(t, visitor, navigateTo(site.URL+"/checkout"))
		browsertest.Click(t, visitor, wsb("launcher"))
		browsertest.WaitJS(t, visitor, wsb("question")+" != null", 10*time.Second, "the pre-chat form")
		shot(t, visitor, "story-widget-prechat")
		browsertest.Type(t, visitor, wsb("name"), "Hanako")
		browsertest.Type(t, visitor, wsb("email"), "hanako@example.com")
		browsertest.Type(t, visitor, wsb("question"), "Is my order shipped?")
		browsertest.Click(t, visitor, wsb("start"))

		// The console rings; alice accepts.
		offer := csb("offer")
		browsertest.WaitJS(t, op, offer+" != null", 15*time.Second, "the offer in the console")
		var chatID string
		browsertest.Eval(t, op, offer+".dataset.chatId", &chatID)
		shot(t, op, "story-console-offer")
		browsertest.Click(t, op, offer+`.querySelector('[data-sb="accept"]')`)
		pane := csb("chat-pane", `[data-chat-id="`+chatID+`"]`)
		browsertest.WaitJS(t, op, pane+` != null && `+pane+`.querySelector('[data-sb="message"][data-from="visitor"]')?.textContent.includes('Is my order shipped?')`, 15*time.Second, "the question in the console")
		browsertest.WaitJS(t, visitor, wsb("status")+`?.dataset.status === 'ongoing'`, 15*time.Second, "the widget ongoing")

		// The visitor writes; alice replies; both see it.
		browsertest.Type(t, visitor, wsb("input"), "Order 1234, please.")
		browsertest.Click(t, visitor, wsb("send"))
		browsertest.WaitJS(t, op, pane+`.querySelector('[data-sb="messages"]').textContent.includes('Order 1234, please.')`, 10*time.Second, "the visitor's message in the console")
		browsertest.Type(t, op, pane+`.querySelector('[data-sb="input"]')`, "It left the warehouse today.")
		browsertest.Click(t, op, pane+`.querySelector('[data-sb="send"]')`)
		opMsgs := wall(`[data-sb="message"][data-from="operator"]`)
		browsertest.WaitJS(t, visitor, opMsgs+`.some(m => m.textContent.includes('It left the warehouse today.'))`, 10*time.Second, "the reply in the widget")
		shot(t, visitor, "story-widget-reply")
		shot(t, op, "story-console-chat")

		// The visitor's network drops. Both sides write meanwhile.
		proxy.Cut()
		browsertest.WaitJS(t, visitor, wsb("status")+`?.dataset.status === 'reconnecting'`, 15*time.Second, "the widget reconnecting")
		browsertest.Type(t, visitor, wsb("input"), "Are you still there?")
		browsertest.Click(t, visitor, wsb("send"))
		browsertest.Type(t, op, pane+`.querySelector('[data-sb="input"]')`, "Here is the tracking number: 42.")
		browsertest.Click(t, op, pane+`.querySelector('[data-sb="send"]')`)
		browsertest.WaitJS(t, op, pane+`.querySelectorAll('[data-sb="message"][data-from="operator"][data-state="sent"]').length === 2`, 10*time.Second, "alice's second reply stored")
		shot(t, visitor, "story-widget-offline")
		time.Sleep(time.Second)
		proxy.Restore()
		browsertest.WaitJS(t, visitor, wsb("status")+`?.dataset.status === 'ongoing'`, 30*time.Second, "the widget back")
		browsertest.WaitJS(t, visitor, opMsgs+`.filter(m => m.textContent.includes('tracking number: 42')).length === 1`, 15*time.Second, "the reply sent while offline, once")
		browsertest.WaitJS(t, op, `[...`+pane+`.querySelectorAll('[data-sb="message"][data-from="visitor"]')].filter(m => m.textContent.includes('Are you still there?')).length === 1`, 15*time.Second, "the visitor's offline message, once")
		browsertest.WaitJS(t, visitor, wall(`[data-sb="message"][data-from="visitor"]`)+`.every(m => m.dataset.state === 'sent')`, 15*time.Second, "every visitor message sent")
		checkOnce(t, n.st, chatID, "Is my order shipped?", "Order 1234, please.", "It left the warehouse today.", "Are you still there?", "Here is the tracking number: 42.")

		// Transfer to the private department; bob (a protocol client) takes it.
		browsertest.Click(t, op, pane+`.querySelector('[data-sb="transfer"]')`)
		browsertest.WaitJS(t, op, csb("transfer-department", ` option[value="`+tier2.ID+`"]`)+` != null`, 10*time.Second, "the private department listed")
		browsertest.SetValue(t, op, csb("transfer-department"), tier2.ID)
		browsertest.SetValue(t, op, csb("transfer-note"), "wants a refund")
		shot(t, op, "story-console-transfer")
		browsertest.Click(t, op, csb("transfer-submit"))
		bobOffer := bob.wait(15*time.Second, "the transfer offer", func(f frame) bool { return f.str("type") == "chat.offer" && f.str("chat_id") == chatID })
		if bobOffer.obj("transfer").str("note") != "wants a refund" {
			t.Errorf("bob's offer: %v", bobOffer)
		}
		bob.ok(frame{"type": "chat.accept", "chat_id": chatID})
		browsertest.WaitJS(t, op, pane+`.dataset.status === 'transferred'`, 10*time.Second, "the console shows the transfer")
		bob.ok(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": "bob-1", "body": "Bob from billing here."})
		browsertest.WaitJS(t, visitor, opMsgs+`.some(m => m.textContent.includes('Bob from billing here.'))`, 10*time.Second, "bob's message in the widget")
		var widgetText string
		browsertest.Eval(t, visitor, `document.getElementById('switchboard-widget').shadowRoot.textContent`, &widgetText)
		if strings.Contains(widgetText, "Tier 2") {
			t.Error("the widget shows the private department's name")
		}

		// The visitor ends the chat and rates it.
		browsertest.Click(t, visitor, wsb("end"))
		browsertest.WaitJS(t, visitor, wsb("status")+`?.dataset.status === 'ended'`, 10*time.Second, "the widget ended")
		browsertest.Click(t, visitor, wsb("rate", `[data-value="5"]`))
		browsertest.Type(t, visitor, wsb("comment"), "Quick and kind.")
		browsertest.Click(t, visitor, wsb("submit-feedback"))
		browsertest.WaitJS(t, visitor, wsb("feedback-done")+" != null", 10*time.Second, "the feedback thanks")
		shot(t, visitor, "story-widget-rated")

		// The console's history lists it under completed, rated. alice's
		// history shows only her departments' chats (the API's rule for
		// operators), and the chat now belongs to Tier 2: an admin looks.
		browsertest.Click(t, op, csb("logout"))
		browsertest.WaitJS(t, op, csb("login-email")+" != null", 10*time.Second, "the login form after logout")
		browsertest.SetValue(t, op, csb("login-email"), "admin@example.com")
		browsertest.SetValue(t, op, csb("login-password"), "admin-password")
		browsertest.Click(t, op, csb("login-submit"))
		browsertest.WaitJS(t, op, `document.getElementById('app').dataset.conn === 'connected'`, 15*time.Second, "the admin's console")
		browsertest.Click(t, op, csb("nav-history"))
		browsertest.WaitJS(t, op, csb("history")+`?.dataset.loading === 'false'`, 10*time.Second, "the history")
		browsertest.Click(t, op, csb("category", `[data-value="completed"]`))
		browsertest.WaitJS(t, op, csb("history")+`?.dataset.category === 'completed' && `+csb("history")+`.dataset.loading === 'false'`, 10*time.Second, "the completed list")
		row := csb("history-row", `[data-chat-id="`+chatID+`"]`)
		browsertest.WaitJS(t, op, row+` != null && `+row+`.dataset.status === 'completed'`, 10*time.Second, "the chat under completed")
		browsertest.Click(t, op, row)
		browsertest.WaitJS(t, op, csb("feedback")+`?.dataset.rating === '5'`, 10*time.Second, "the rating in the detail")
		browsertest.WaitJS(t, op, csb("transcript")+`?.textContent.includes('Bob from billing here.')`, 10*time.Second, "the transcript")
		shot(t, op, "story-console-history")
	})
}

// shot saves a screenshot named after the subtest (one per backend).
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	browsertest.Screenshot(t, ctx, strings.ReplaceAll(t.Name(), "/", "-")+"-"+name)
}

func navigateTo(u string) chromedp.Action { return chromedp.Navigate(u) }

// checkOnce asserts the chat's stored messages have seqs 1..n without gaps
// and hold each body exactly once.
func checkOnce(t *testing.T, st store.Store, chatID string, bodies ...string) {
	t.Helper()
	msgs, err := st.Messages(t.Context(), chatID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for i, m := range msgs {
		if m.Seq != int64(i+1) {
			t.Errorf("message %d has seq %d", i+1, m.Seq)
		}
		count[m.Body]++
	}
	for _, b := range bodies {
		if count[b] != 1 {
			t.Errorf("%q stored %d times, want once", b, count[b])
		}
	}
}
