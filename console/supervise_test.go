package console_test

import (
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-chat/switchboard/internal/browsertest"
)

// TestConsoleTransferWatchDeclineBlock: an operator in the console
// declines one offer, accepts the next, and transfers it to a private
// department whose operator (a Go client) accepts; an admin in a second
// browser context watches the chat read-only from the ongoing list; then
// the operator blocks a visitor.
func TestConsoleTransferWatchDeclineBlock(t *testing.T) {
	e := newEnv(t)
	var tier2 struct{ ID string }
	e.api(e.adminToken, "POST", "/api/departments", map[string]any{"name": "Tier 2", "visibility": "private"}, 201, &tier2)
	e.operator("alice", "operator", e.dept.ID)
	e.operator("bob", "operator", tier2.ID)
	bob := dialOperator(t, e.url, e.token("bob@example.com", "password-bob"))
	bob.wait("bob's hello", func(f frame) bool { return f.str("type") == "hello" })
	bob.ok(frame{"type": "status.set", "status": "online"})

	ctx := browsertest.New(t)
	login(t, ctx, e.url, "alice@example.com", "password-alice")
	goOnline(t, ctx)

	// Declined: the offer goes away (and, alice being the only one, the
	// chat is not offered to her again).
	v1 := dialVisitor(t, e.url, e.dept.WidgetKey)
	c1 := v1.ok(frame{"type": "chat.start", "name": "Declined", "question": "first"}).str("chat_id")
	browsertest.Click(t, ctx, sb("offer", `[data-chat-id="`+c1+`"] [data-sb="decline"]`))
	browsertest.WaitJS(t, ctx, sb("offer", `[data-chat-id="`+c1+`"]`)+` == null`, 10*time.Second, "the declined offer gone")
	v1.ws.Close(websocket.StatusNormalClosure, "")

	v := dialVisitor(t, e.url, e.dept.WidgetKey)
	chatID := v.ok(frame{"type": "chat.start", "name": "Taro", "question": "Need tier 2"}).str("chat_id")
	browsertest.Click(t, ctx, sb("offer", `[data-chat-id="`+chatID+`"] [data-sb="accept"]`))
	pane := sb("chat-pane", `[data-chat-id="`+chatID+`"]`)
	browsertest.WaitJS(t, ctx, pane+`?.querySelectorAll('[data-sb="message"][data-from="visitor"]').length === 1`, 15*time.Second, "the question")

	// The admin watches from the ongoing list.
	adm := browsertest.NewContext(t, ctx)
	login(t, adm, e.url, "admin@example.com", "admin-password")
	browsertest.Click(t, adm, sb("nav-supervise"))
	browsertest.Click(t, adm, sb("ongoing-row", `[data-chat-id="`+chatID+`"] [data-sb="watch"]`))
	wpane := sb("chat-pane", `[data-chat-id="`+chatID+`"]`)
	browsertest.WaitJS(t, adm, wpane+`?.dataset.mode === 'watch'`, 10*time.Second, "the watched chat")
	browsertest.WaitJS(t, adm, wpane+`.querySelectorAll('[data-sb="message"][data-from="visitor"]').length === 1`, 10*time.Second, "the watched messages")
	var composerHidden bool
	browsertest.Eval(t, adm, wpane+`.querySelector('[data-sb="composer"]').hidden`, &composerHidden)
	if !composerHidden {
		t.Error("a watcher has a composer")
	}
	v.ok(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": "w1", "body": "seen by the watcher?"})
	browsertest.WaitJS(t, adm, wpane+`.querySelectorAll('[data-sb="message"][data-from="visitor"]').length === 2`, 10*time.Second, "a live message for the watcher")
	var monitored struct{ Items []struct{ ID string } }
	e.api(e.adminToken, "GET", "/api/chats?category=monitored", nil, 200, &monitored)
	if len(monitored.Items) != 1 || monitored.Items[0].ID != chatID {
		t.Errorf("monitored: %+v", monitored.Items)
	}
	browsertest.Screenshot(t, adm, "console-watch")

	// Transfer to the private department, with a note.
	browsertest.Click(t, ctx, pane+`.querySelector('[data-sb="transfer"]')`)
	browsertest.WaitJS(t, ctx, sb("transfer-department", ` option[value="`+tier2.ID+`"]`)+` != null`, 10*time.Second, "the private department listed")
	browsertest.SetValue(t, ctx, sb("transfer-department"), tier2.ID)
	browsertest.SetValue(t, ctx, sb("transfer-note"), "needs a refund")
	browsertest.Screenshot(t, ctx, "console-transfer")
	browsertest.Click(t, ctx, sb("transfer-submit"))
	offer := bob.wait("the transfer offer", func(f frame) bool { return f.str("type") == "chat.offer" && f.str("chat_id") == chatID })
	if tr, _ := offer["transfer"].(map[string]any); tr == nil || tr["note"] != "needs a refund" {
		t.Errorf("transfer offer: %v", offer)
	}
	bob.ok(frame{"type": "chat.accept", "chat_id": chatID})
	browsertest.WaitJS(t, ctx, pane+`.dataset.status === 'transferred'`, 10*time.Second, "alice's pane transferred")
	v.wait("bob assigned", func(f frame) bool {
		op, _ := f["operator"].(map[string]any)
		return f.str("type") == "chat.assigned" && op["name"] == "bob"
	})
	browsertest.WaitJS(t, adm, wpane+`.querySelector('[data-sb="message"][data-key="transferred"]') != null`, 10*time.Second, "the watcher sees the transfer")
	bob.ok(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": "b1", "body": "bob here"})
	browsertest.WaitJS(t, adm, wpane+`.querySelector('[data-sb="message"][data-from="operator"]')?.textContent.includes('bob here')`, 10*time.Second, "the watcher sees bob")

	// Block: a new visitor, accepted and blocked; its socket closes with 1008.
	v3 := dialVisitor(t, e.url, e.dept.WidgetKey)
	c3 := v3.ok(frame{"type": "chat.start", "name": "Spammer", "question": "buy now"}).str("chat_id")
	browsertest.Click(t, ctx, sb("offer", `[data-chat-id="`+c3+`"] [data-sb="accept"]`))
	p3 := sb("chat-pane", `[data-chat-id="`+c3+`"]`)
	browsertest.Click(t, ctx, p3+`.querySelector('[data-sb="block"]')`)
	browsertest.SetValue(t, ctx, sb("block-reason"), "spam")
	browsertest.Click(t, ctx, sb("block-submit"))
	browsertest.WaitJS(t, ctx, p3+`.dataset.status === 'ended'`, 10*time.Second, "the blocked chat ended")
	var blocks struct{ Items []struct{ IP, Reason string } }
	e.api(e.adminToken, "GET", "/api/blocked-ips", nil, 200, &blocks)
	if len(blocks.Items) != 1 || blocks.Items[0].Reason != "spam" {
		t.Errorf("blocks: %+v", blocks.Items)
	}
}
