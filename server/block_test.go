package server_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/internal/teststore"
	"github.com/switchboard-chat/switchboard/store"
)

// dialStatus opens a visitor socket and returns the HTTP status of the
// handshake (101 when it upgraded; the socket is then closed).
func (n *node) dialStatus(widgetKey string) int {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, wsURL(n.http.URL, "/ws/visitor?widget="+widgetKey), nil)
	if err == nil {
		ws.CloseNow()
		return http.StatusSwitchingProtocols
	}
	if resp == nil {
		n.t.Fatalf("dial: %v", err)
	}
	return resp.StatusCode
}

type blockOut struct {
	ID string `json:"id"`
	IP string `json:"ip"`
}

// TestVisitorBlock: an operator blocks the visitor of its chat; the chat
// ends, the visitor's sockets close with 1008, the IP gets 403 at the
// handshake, the notification is queued; unblocking through the API lets
// it back; CIDR and department scopes; chat.start after a late block.
func TestVisitorBlock(t *testing.T) {
	teststore.Each(t, func(t *testing.T, st store.Store) {
		n := newNode(t, st, nodeOptions{})
		if _, err := st.UpdateDepartment(t.Context(), n.dept.ID, func(d *switchboard.Department) error {
			d.Email.FromAddress = "desk@example.com"
			d.Email.BlockedIP = switchboard.EmailSetting{Enabled: true, To: []string{"sec@example.com"}}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		other := n.department("Other", 30, 120)
		aliceID, aliceToken := n.operator("alice", 5, n.dept.ID)
		_, bobToken := n.operator("bob", 5, n.dept.ID)
		alice := n.operatorConn("alice", aliceToken)
		alice.waitType("hello", wait)
		alice.ok(frame{"type": "status.set", "status": "online"})
		bob := n.operatorConn("bob", bobToken)
		bob.waitType("hello", wait)

		v := n.visitor("visitor", n.dept.WidgetKey, "")
		v.waitType("hello", wait)
		chatID := v.ok(frame{"type": "chat.start", "name": "Mallory", "question": "hi", "page_url": "https://shop.example/cart"}).str("chat_id")
		alice.waitType("chat.offer", wait)
		alice.ok(frame{"type": "chat.accept", "chat_id": chatID})
		v.waitType("chat.assigned", wait)
		v2 := n.visitor("second tab", n.dept.WidgetKey, "")
		v2.waitType("hello", wait)
		elsewhere := n.visitor("other department", other.WidgetKey, "")
		elsewhere.waitType("hello", wait)

		// Visitors online: alice sees the visitor of her department with its
		// page and chat; not the other department's.
		var online struct {
			Items []struct {
				ID           string  `json:"id"`
				Name         string  `json:"name"`
				DepartmentID string  `json:"department_id"`
				PageURL      string  `json:"page_url"`
				ChatID       *string `json:"chat_id"`
				ConnectedAt  string  `json:"connected_at"`
			} `json:"items"`
			NextCursor *string `json:"next_cursor"`
		}
		n.api(aliceToken, "GET", "/api/visitors?online=true", nil, 200, &online)
		found := false
		for _, it := range online.Items {
			if it.DepartmentID != n.dept.ID {
				t.Errorf("alice sees a visitor of department %s", it.DepartmentID)
			}
			if it.ChatID != nil && *it.ChatID == chatID {
				found = true
				if it.PageURL != "https://shop.example/cart" || it.Name != "Mallory" || it.ConnectedAt == "" {
					t.Errorf("online visitor = %+v", it)
				}
			}
		}
		if !found || len(online.Items) != 2 || online.NextCursor != nil {
			t.Fatalf("alice's online visitors = %+v, want the chat's visitor and the second tab", online)
		}
		n.api(n.adminToken, "GET", "/api/visitors?online=true", nil, 200, &online)
		if len(online.Items) != 3 {
			t.Fatalf("admin's online visitors = %+v, want 3", online)
		}

		// Bad input: not in the chat, unknown chat, bad expiry.
		bob.refused(frame{"type": "visitor.block", "chat_id": chatID}, "forbidden")
		alice.refused(frame{"type": "visitor.block", "chat_id": "no-such-chat"}, "not_found")
		alice.refused(frame{"type": "visitor.block"}, "bad_request")
		alice.refused(frame{"type": "visitor.block", "chat_id": chatID, "expires_at": "soon"}, "bad_request")

		ack := alice.ok(frame{"type": "visitor.block", "chat_id": chatID, "reason": "abuse"})
		if ack.str("ip") != "127.0.0.1" || ack.str("block_id") == "" {
			t.Fatalf("visitor.block ack = %v", ack)
		}
		if code := v.waitClosed(wait); code != websocket.StatusPolicyViolation {
			t.Errorf("visitor closed with %d, want 1008", code)
		}
		if code := v2.waitClosed(wait); code != websocket.StatusPolicyViolation {
			t.Errorf("second tab closed with %d, want 1008", code)
		}
		alice.wait(wait, "chat.ended", func(f frame) bool { return f.str("type") == "chat.ended" && f.str("chat_id") == chatID })
		if ch, err := st.Chat(t.Context(), chatID); err != nil || ch.Status != switchboard.ChatCompleted {
			t.Fatalf("chat after block = %+v, %v; want completed", ch, err)
		}
		msgs, err := st.Messages(t.Context(), chatID, 0, 100)
		if err != nil || !slices.ContainsFunc(msgs, func(m switchboard.Message) bool {
			return m.FromKind == switchboard.FromSystem && m.FromID == "blocked"
		}) {
			t.Fatalf("messages = %+v, %v; want a system message from blocked", msgs, err)
		}
		mails, err := st.ChatMails(t.Context(), chatID)
		if err != nil || len(mails) != 1 || mails[0].Kind != switchboard.MailBlockedIP || !slices.Equal(mails[0].To, []string{"sec@example.com"}) ||
			mails[0].From != "desk@example.com" || mails[0].Status == switchboard.MailFailed { // pending, or sent (logged) already
			t.Fatalf("outbox = %+v, %v", mails, err)
		}
		var blocks struct {
			Items []struct{ ID, IP, Reason, DepartmentID, ChatID, CreatedBy string }
		}
		n.api(n.adminToken, "GET", "/api/blocked-ips", nil, 200, &blocks)
		if len(blocks.Items) != 1 || blocks.Items[0].ID != ack.str("block_id") || blocks.Items[0].Reason != "abuse" {
			t.Fatalf("blocks = %+v", blocks)
		}
		if got := n.dialStatus(n.dept.WidgetKey); got != http.StatusForbidden {
			t.Fatalf("a blocked IP's handshake: %d, want 403", got)
		}
		if got := n.dialStatus("no-such-widget"); got != http.StatusNotFound {
			t.Fatalf("unknown widget from a blocked IP: %d, want 404", got)
		}
		// The block is the department's: the other department still works.
		if got := n.dialStatus(other.WidgetKey); got != http.StatusSwitchingProtocols {
			t.Fatalf("another department's handshake: %d, want 101", got)
		}
		elsewhere.ok(frame{"type": "visitor.update", "name": "still here"})

		// Unblock through the API.
		n.api(n.adminToken, "DELETE", "/api/blocked-ips/"+ack.str("block_id"), nil, 204, nil)
		if got := n.dialStatus(n.dept.WidgetKey); got != http.StatusSwitchingProtocols {
			t.Fatalf("after unblock: %d, want 101", got)
		}

		// A block made after connecting refuses chat.start.
		late := n.visitor("late", n.dept.WidgetKey, "")
		late.waitType("hello", wait)
		var cidr blockOut
		n.api(n.adminToken, "POST", "/api/blocked-ips", map[string]any{"ip": "127.0.0.0/8", "reason": "whole range"}, 201, &cidr)
		late.refused(frame{"type": "chat.start", "question": "hello?"}, "blocked")
		// A CIDR without department covers every department.
		for _, key := range []string{n.dept.WidgetKey, other.WidgetKey} {
			if got := n.dialStatus(key); got != http.StatusForbidden {
				t.Fatalf("CIDR block: %d, want 403", got)
			}
		}
		n.api(n.adminToken, "DELETE", "/api/blocked-ips/"+cidr.ID, nil, 204, nil)
		// A department-scoped API block leaves the other department alone.
		var scoped blockOut
		n.api(n.adminToken, "POST", "/api/blocked-ips", map[string]any{"ip": "127.0.0.1", "department_id": other.ID}, 201, &scoped)
		if got := n.dialStatus(other.WidgetKey); got != http.StatusForbidden {
			t.Fatalf("scoped block, its department: %d, want 403", got)
		}
		if got := n.dialStatus(n.dept.WidgetKey); got != http.StatusSwitchingProtocols {
			t.Fatalf("scoped block, another department: %d, want 101", got)
		}
		if aliceID == "" {
			t.Fatal("no operator id")
		}
	})
}

// TestQueuePositions: two waiting visitors are told positions 1 and 2; when
// the first is answered the second is told 1. Operators keep getting the
// department's waiting count.
func TestQueuePositions(t *testing.T) {
	teststore.Each(t, func(t *testing.T, st store.Store) {
		n := newNode(t, st, nodeOptions{})
		_, token := n.operator("carol", 5, n.dept.ID)
		op := n.operatorConn("carol", token)
		op.waitType("hello", wait)
		op.ok(frame{"type": "status.set", "status": "online"})

		isPos := func(chatID string, pos int64) func(frame) bool {
			return func(f frame) bool {
				return f.str("type") == "queue" && f.str("chat_id") == chatID && f.num("position") == pos
			}
		}
		a := n.visitor("first", n.dept.WidgetKey, "")
		a.waitType("hello", wait)
		aChat := a.ok(frame{"type": "chat.start", "question": "first"}).str("chat_id")
		a.wait(wait, "position 1", isPos(aChat, 1))
		op.wait(wait, "waiting 1", func(f frame) bool {
			return f.str("type") == "queue" && f.str("department_id") == n.dept.ID && f.num("waiting") == 1
		})

		b := n.visitor("second", n.dept.WidgetKey, "")
		b.waitType("hello", wait)
		bChat := b.ok(frame{"type": "chat.start", "question": "second"}).str("chat_id")
		b.wait(wait, "position 2", isPos(bChat, 2))
		op.wait(wait, "waiting 2", func(f frame) bool {
			return f.str("type") == "queue" && f.str("department_id") == n.dept.ID && f.num("waiting") == 2
		})

		op.ok(frame{"type": "chat.accept", "chat_id": aChat})
		b.wait(wait, "position 1 after the first is answered", isPos(bChat, 1))
		op.wait(wait, "waiting 1", func(f frame) bool {
			return f.str("type") == "queue" && f.str("department_id") == n.dept.ID && f.num("waiting") == 1
		})
		// Visitors only ever see their own chat's position.
		a.quiet(200*time.Millisecond, "another chat's position", func(f frame) bool {
			return f.str("type") == "queue" && f.str("chat_id") != aChat
		})
	})
}
