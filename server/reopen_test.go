package server_test

import (
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/internal/teststore"
	"github.com/switchboard-chat/switchboard/store"
)

// TestReopenRoutes: POST /api/chats/{id}/reopen queues an ended chat again
// and the router offers it to an online operator of its department, like
// a new chat.
func TestReopenRoutes(t *testing.T) {
	teststore.Each(t, func(t *testing.T, st store.Store) {
		n := newNode(t, st, nodeOptions{})
		_, aTok := n.staff("ann", switchboard.RoleOperator, n.dept.ID)
		ann := n.online("ann", aTok)
		_, chatID := answered(t, n, n.dept, ann)
		ann.ok(frame{"type": "chat.end", "chat_id": chatID})
		drain(ann)

		var row struct {
			Status   string `json:"status"`
			Reopened bool   `json:"reopened"`
		}
		n.api(aTok, "POST", "/api/chats/"+chatID+"/reopen", nil, 200, &row)
		if row.Status != "queued" || !row.Reopened {
			t.Fatalf("reopen = %+v", row)
		}
		ann.wait(wait, "offer of the reopened chat", isType("chat.offer", chatID))
	})
}

// TestReopenToMe: reopening with to_me makes the chat the caller's at once:
// its console follows the chat, the connected visitor learns that the chat
// is open again and who answers, and both can write again.
func TestReopenToMe(t *testing.T) {
	teststore.Each(t, func(t *testing.T, st store.Store) {
		n := newNode(t, st, nodeOptions{})
		_, aTok := n.staff("ann", switchboard.RoleOperator, n.dept.ID)
		ann := n.online("ann", aTok)
		v, chatID := answered(t, n, n.dept, ann)
		ann.ok(frame{"type": "chat.end", "chat_id": chatID})
		v.waitType("chat.ended", wait)
		drain(ann)
		drain(v)
		v.refused(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": "late", "body": "one more thing"}, "conflict")

		var row struct {
			Status   string `json:"status"`
			Reopened bool   `json:"reopened"`
			Operator struct {
				ID string `json:"id"`
			} `json:"operator"`
		}
		n.api(aTok, "POST", "/api/chats/"+chatID+"/reopen", map[string]any{"to_me": true}, 200, &row)
		if row.Status != "ongoing" || !row.Reopened {
			t.Fatalf("reopen to_me = %+v", row)
		}
		v.wait(wait, "chat.reopened", isType("chat.reopened", chatID))
		v.wait(wait, "chat.assigned", isType("chat.assigned", chatID))
		ann.wait(wait, "chat.assigned on the console", isType("chat.assigned", chatID))
		ann.quiet(300*time.Millisecond, "an offer of a chat reopened to her", isType("chat.offer", chatID))

		v.ok(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": "again", "body": "thanks for coming back"})
		ann.wait(wait, "the visitor's message", func(f frame) bool {
			return f.str("type") == "message" && f.str("body") == "thanks for coming back"
		})
		ann.ok(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": "reply", "body": "sure"})
		v.wait(wait, "the reply", func(f frame) bool { return f.str("type") == "message" && f.str("body") == "sure" })
	})
}

// TestVisitorReopens: a visitor who comes back to its completed chat
// (chat.reopen) opens it again: it is queued, offered like a new chat, and
// listed under reopened; a stranger's reopen of it is a not_found.
func TestVisitorReopens(t *testing.T) {
	teststore.Each(t, func(t *testing.T, st store.Store) {
		n := newNode(t, st, nodeOptions{})
		_, aTok := n.staff("ann", switchboard.RoleOperator, n.dept.ID)
		ann := n.online("ann", aTok)
		v := n.visitor("visitor", n.dept.WidgetKey, "")
		token := v.waitType("hello", wait).str("visitor_token")
		chatID := v.ok(frame{"type": "chat.start", "name": "Vera", "question": "hello?"}).str("chat_id")
		ann.wait(wait, "offer", isType("chat.offer", chatID))
		ann.ok(frame{"type": "chat.accept", "chat_id": chatID})
		v.waitType("chat.assigned", wait)
		v.ok(frame{"type": "chat.end", "chat_id": chatID})
		ann.waitType("chat.ended", wait)
		drain(ann)

		stranger := n.visitor("stranger", n.dept.WidgetKey, "")
		stranger.waitType("hello", wait)
		stranger.refused(frame{"type": "chat.reopen", "chat_id": chatID}, "not_found")

		// The same visitor on a new connection (its token), as after a page load.
		back := n.visitor("back", n.dept.WidgetKey, token)
		back.waitType("hello", wait)
		ack := back.ok(frame{"type": "chat.reopen", "chat_id": chatID})
		if ack.str("status") != "queued" {
			t.Fatalf("chat.reopen ack = %v, want status queued", ack)
		}
		back.wait(wait, "chat.reopened", isType("chat.reopened", chatID))
		ann.wait(wait, "offer of the reopened chat", isType("chat.offer", chatID))
		ann.ok(frame{"type": "chat.accept", "chat_id": chatID})
		back.wait(wait, "chat.assigned", isType("chat.assigned", chatID))
		back.ok(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": "b1", "body": "it broke again"})

		var list struct {
			Chats []struct {
				ID       string `json:"id"`
				Reopened bool   `json:"reopened"`
			} `json:"items"`
		}
		n.api(aTok, "GET", "/api/chats?category=reopened", nil, 200, &list)
		if len(list.Chats) != 1 || list.Chats[0].ID != chatID {
			t.Fatalf("reopened category = %+v, want just %s", list.Chats, chatID)
		}
		// Reopening an open chat only acks it.
		if again := back.ok(frame{"type": "chat.reopen", "chat_id": chatID}); again.str("status") != "ongoing" {
			t.Fatalf("second chat.reopen = %v", again)
		}
	})
}
