package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/internal/teststore"
	"github.com/switchboard-chat/switchboard/store"
)

// TestIssue4BadInput covers the "Bad input" of issue 4 that
// TestTransferDeclinedAndTimedOut, TestSupervisorMonitorsAndTakesOver and
// TestVisitorBlock leave out: a transfer to an operator outside the chat's
// department (and one at its max_chats), and what an operator the chat
// was transferred away from may still do; visitor.block and chat.monitor
// by an operator only offered the chat; chat.monitor's own bad input;
// an away target; an overlong note; malformed CIDRs through the API. A
// control conversation goes on untouched through all of it.
func TestIssue4BadInput(t *testing.T) {
	teststore.Each(t, func(t *testing.T, st store.Store) {
		n := newNode(t, st, nodeOptions{})
		control := newPair(t, n, "ctl")

		support := n.department("Support", 5, 120)
		billing := n.department("Billing", 5, 120)
		annID, aTok := n.staff("ann", switchboard.RoleOperator, support.ID)
		benID, bTok := n.operator("ben", 1, billing.ID) // in no department of the chat's; room for one chat
		_, cTok := n.staff("cal", switchboard.RoleOperator, support.ID)
		dotID, dTok := n.staff("dot", switchboard.RoleOperator, support.ID)
		_, sTok := n.staff("sue", switchboard.RoleSupervisor)
		ann, ben := n.online("ann", aTok), n.online("ben", bTok)
		dot := n.operatorConn("dot", dTok)
		dot.waitType("hello", wait)
		dot.ok(frame{"type": "status.set", "status": "away"})
		sue := n.operatorConn("sue", sTok)
		sue.waitType("hello", wait)
		v, chatID := answered(t, n, support, ann) // cal is not online yet: ann gets it

		// A target operator who is connected but away is not offered anything.
		ann.refused(frame{"type": "chat.transfer", "chat_id": chatID, "operator_id": dotID}, "no_operators")
		dot.quiet(100*time.Millisecond, "an offer while away", isType("chat.offer", chatID))
		// A note over 1,000 bytes.
		if r := ann.refused(frame{"type": "chat.transfer", "chat_id": chatID, "operator_id": benID, "note": strings.Repeat("é", 501)}, "bad_request"); r.str("field") != "note" {
			t.Errorf("overlong note: %v, want field note", r)
		}

		// An operator outside the chat's department. The protocol names a
		// transfer's target by department_id OR operator_id, and the router
		// takes any enabled, online operator as a target: the chat keeps its
		// department and goes to an operator who is not in its pool.
		r := ann.request(frame{"type": "chat.transfer", "chat_id": chatID, "operator_id": benID, "note": "billing question"})
		switch {
		case r.str("type") == "error":
			if r.str("message") == "" || r.str("code") == "internal" {
				t.Fatalf("transfer to an operator outside the department: %v, want a clear error", r)
			}
			t.Logf("transfer to an operator outside the chat's department refused: %v", r)
		case r.str("type") == "ack":
			offer := ben.wait(wait, "transfer offer", isType("chat.offer", chatID))
			if offer.obj("transfer").obj("from_operator").str("id") != annID || offer.obj("transfer").str("note") != "billing question" {
				t.Fatalf("offer = %v", offer)
			}
			ben.ok(frame{"type": "chat.accept", "chat_id": chatID})
			moved := ann.wait(wait, "chat.transferred", isType("chat.transferred", chatID))
			if a := v.waitType("chat.assigned", wait); a.obj("operator").str("id") != benID {
				t.Fatalf("visitor's chat.assigned = %v, want ben", a)
			}
			ch, err := st.Chat(t.Context(), chatID)
			if err != nil || ch.OperatorID != benID || ch.Status != switchboard.ChatOngoing {
				t.Fatalf("stored chat = %+v, %v", ch, err)
			}
			hops, err := st.Transfers(t.Context(), chatID)
			if err != nil || len(hops) != 1 || hops[0].FromOperatorID != annID || hops[0].ToOperatorID != benID {
				t.Fatalf("Transfers = %+v, %v", hops, err)
			}
			t.Logf("transfer to an operator outside the chat's department: accepted; offer.department = %s, chat.transferred.to_department = %s, stored department = %s (Support %s), hop to_department = %q",
				offer.obj("department").str("name"), moved.obj("to_department").str("name"), ch.DepartmentName, support.ID, hops[0].ToDepartmentID)
			ben.ok(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": "b1", "body": "ben from billing"})
			v.wait(wait, "ben's message", func(f frame) bool { return f.str("type") == "message" && f.str("body") == "ben from billing" })

			// ann handed it on: she may no longer block, monitor, transfer or end it.
			if r := ann.refused(frame{"type": "visitor.block", "chat_id": chatID, "reason": "too late"}, "forbidden"); r.str("field") != "chat_id" {
				t.Errorf("visitor.block by the previous operator: %v", r)
			}
			ann.refused(frame{"type": "chat.monitor", "chat_id": chatID, "on": true}, "forbidden")
			ann.refused(frame{"type": "chat.transfer", "chat_id": chatID, "department_id": support.ID}, "forbidden")
			ann.refused(frame{"type": "chat.end", "chat_id": chatID}, "forbidden")
		default:
			t.Fatalf("transfer reply = %v", r)
		}

		// Operators holding only an offer of a queued chat: no block, no monitor.
		cal := n.online("cal", cTok)
		v2 := n.visitor("second", support.WidgetKey, "")
		v2.waitType("hello", wait)
		chat2 := v2.ok(frame{"type": "chat.start", "question": "me too"}).str("chat_id")
		var holder *wsClient
		for holder == nil {
			for _, c := range []*wsClient{ann, cal} {
				if _, err := c.tryWait(50*time.Millisecond, isType("chat.offer", chat2)); err == nil {
					holder = c
					break
				}
			}
		}
		holder.refused(frame{"type": "visitor.block", "chat_id": chat2}, "forbidden")
		if r := holder.refused(frame{"type": "chat.monitor", "chat_id": chat2, "on": true}, "forbidden"); r.str("field") != "type" {
			t.Errorf("chat.monitor by a plain operator: %v, want field type", r)
		}
		holder.refused(frame{"type": "chat.monitor", "chat_id": chat2, "on": false}, "forbidden")
		holder.ok(frame{"type": "chat.accept", "chat_id": chat2})
		v2.waitType("chat.assigned", wait)
		// Even its own chat's operator is no supervisor.
		holder.refused(frame{"type": "chat.monitor", "chat_id": chat2, "on": true}, "forbidden")

		// A transfer to a named operator who is at max_chats (ben: 1 of 1).
		r = holder.request(frame{"type": "chat.transfer", "chat_id": chat2, "operator_id": benID})
		if r.str("type") == "ack" {
			ben.wait(wait, "transfer offer", isType("chat.offer", chat2))
			t.Logf("transfer to an operator at max_chats: offered (max_chats does not bound transfers to a named operator)")
			ben.ok(frame{"type": "chat.decline", "chat_id": chat2})
			if f := holder.wait(wait, "transfer_failed", isType("chat.transfer_failed", chat2)); f.str("reason") != "declined" {
				t.Fatalf("transfer_failed = %v", f)
			}
		} else {
			t.Logf("transfer to an operator at max_chats: %v", r)
		}

		// chat.monitor's own bad input, from a supervisor.
		if r := sue.refused(frame{"type": "chat.monitor", "chat_id": chat2}, "bad_request"); r.str("field") != "on" {
			t.Errorf("chat.monitor without on: %v, want field on", r)
		}
		if r := sue.refused(frame{"type": "chat.monitor", "on": true}, "bad_request"); r.str("field") != "chat_id" {
			t.Errorf("chat.monitor without chat_id: %v, want field chat_id", r)
		}
		sue.refused(frame{"type": "chat.monitor", "chat_id": "no-such-chat", "on": true}, "not_found")
		if got := n.srv.Live.Monitored(); len(got) != 0 {
			t.Fatalf("Monitored after refused monitors = %v", got)
		}

		// Malformed CIDRs through the API: 422 naming ip, nothing stored.
		for _, ip := range []any{"10.0.0.0/33", "not-an-ip", "", "   ", "::1/129", "10.0.0.1/-1", "10.0.0.0/8/8"} {
			var out struct {
				Error struct{ Code, Field, Message string }
			}
			n.api(n.adminToken, "POST", "/api/blocked-ips", map[string]any{"ip": ip, "reason": "bad"}, http.StatusUnprocessableEntity, &out)
			if out.Error.Code != "bad_request" || out.Error.Field != "ip" || out.Error.Message == "" {
				t.Errorf("POST /api/blocked-ips ip %q: %+v, want bad_request naming ip", ip, out.Error)
			}
		}
		var blocks struct{ Items []struct{ ID string } }
		n.api(n.adminToken, "GET", "/api/blocked-ips", nil, 200, &blocks)
		if len(blocks.Items) != 0 {
			t.Fatalf("blocks after bad input = %+v, want none", blocks.Items)
		}
		if got := n.dialStatus(n.dept.WidgetKey); got != http.StatusSwitchingProtocols {
			t.Fatalf("a visitor after the bad blocks: %d, want 101", got)
		}

		// Nothing of it reached the control chat.
		if msgs, _ := st.Messages(t.Context(), control.chatID, 0, 100); len(msgs) != 1 { // the "joined" notice
			t.Fatalf("the control chat got %d messages from bad input", len(msgs))
		}
		control.check(t)
	})
}
