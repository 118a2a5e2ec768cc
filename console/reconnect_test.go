package console_test

import (
	"strings"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard/internal/browsertest"
)

// TestConsoleSurvivesNetworkDrop: the operator's network drops mid-chat
// (the console reaches the server through a NetCut); the visitor writes
// meanwhile and the operator sends a reply that cannot go out. When the
// network is back the console reconnects on its own, resumes the chat and
// sends the reply: each message arrives exactly once on each side.
func TestConsoleSurvivesNetworkDrop(t *testing.T) {
	e := newEnv(t)
	e.operator("alice", "operator", e.dept.ID)
	link := browsertest.NewNetCut(t)
	link.Serve(strings.TrimPrefix(e.url, "http://"))
	ctx := browsertest.New(t)
	login(t, ctx, link.URL(), "alice@example.com", "password-alice")
	goOnline(t, ctx)

	v := dialVisitor(t, e.url, e.dept.WidgetKey)
	chatID := v.ok(frame{"type": "chat.start", "name": "Ken", "question": "hello?"}).str("chat_id")
	browsertest.Click(t, ctx, sb("offer", `[data-chat-id="`+chatID+`"] [data-sb="accept"]`))
	pane := sb("chat-pane", `[data-chat-id="`+chatID+`"]`)
	browsertest.WaitJS(t, ctx, pane+`?.querySelectorAll('[data-sb="message"][data-from="visitor"]').length === 1`, 15*time.Second, "the question")
	v.wait("assigned", func(f frame) bool { return f.str("type") == "chat.assigned" })

	link.Cut()
	browsertest.WaitJS(t, ctx, `document.getElementById('app').dataset.conn === 'reconnecting'`, 10*time.Second, "the console reconnecting")
	v.ok(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": "k1", "body": "written while you were away"})
	browsertest.SetValue(t, ctx, pane+`.querySelector('[data-sb="input"]')`, "reply written offline")
	browsertest.Click(t, ctx, pane+`.querySelector('[data-sb="send"]')`)
	browsertest.WaitJS(t, ctx, pane+`.querySelector('[data-sb="message"][data-state="failed"]') != null`, 10*time.Second, "the reply waiting")
	browsertest.Screenshot(t, ctx, "console-offline")
	time.Sleep(500 * time.Millisecond)
	link.Restore()

	browsertest.WaitJS(t, ctx, `document.getElementById('app').dataset.conn === 'connected'`, 20*time.Second, "the console back")
	browsertest.WaitJS(t, ctx, `[...`+pane+`.querySelectorAll('[data-sb="message"][data-from="visitor"]')].filter(m => m.textContent.includes('written while you were away')).length === 1`, 10*time.Second, "the visitor's message, once")
	browsertest.WaitJS(t, ctx, pane+`.querySelectorAll('[data-sb="message"][data-from="operator"][data-state="sent"]').length === 1 && `+
		pane+`.querySelectorAll('[data-state="failed"], [data-state="sending"]').length === 0`, 10*time.Second, "the reply sent")
	v.wait("the offline reply", func(f frame) bool { return f.str("type") == "message" && f.str("body") == "reply written offline" })

	var detail struct {
		Messages []struct {
			Seq  int64
			Body string
		}
	}
	e.api(e.adminToken, "GET", "/api/chats/"+chatID, nil, 200, &detail)
	count := map[string]int{}
	for i, m := range detail.Messages {
		if m.Seq != int64(i+1) {
			t.Errorf("message %d has seq %d", i+1, m.Seq)
		}
		count[m.Body]++
	}
	if count["reply written offline"] != 1 || count["written while you were away"] != 1 {
		t.Errorf("stored: %v", count)
	}
	// The chat stayed alice's (the grace period outlived the drop).
	var status int
	browsertest.Eval(t, ctx, pane+`.dataset.status === 'ongoing' ? 1 : 0`, &status)
	if status != 1 {
		t.Error("the chat is no longer ongoing in the console")
	}
}
