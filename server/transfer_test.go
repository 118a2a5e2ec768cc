package server_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/internal/teststore"
	"github.com/switchboard-chat/switchboard/store"
)

// staff creates an operator with a role in the given departments and returns
// its id and a bearer token.
func (n *node) staff(name string, role switchboard.Role, deptIDs ...string) (id, token string) {
	n.t.Helper()
	email := name + "@example.com"
	var o struct{ ID string }
	n.api(n.adminToken, "POST", "/api/operators", map[string]any{"name": name, "email": email, "password": "password-" + name, "role": role, "max_chats": 5}, 201, &o)
	for _, d := range deptIDs {
		n.api(n.adminToken, "PUT", "/api/departments/"+d+"/operators/"+o.ID, nil, 204, nil)
	}
	var login struct{ Token string }
	n.api("", "POST", "/api/login", map[string]string{"email": email, "password": "password-" + name}, 200, &login)
	return o.ID, login.Token
}

// privateDepartment creates an enabled private department with a ring timeout.
func (n *node) privateDepartment(name string, ringS int) switchboard.Department {
	n.t.Helper()
	var d struct{ ID string }
	n.api(n.adminToken, "POST", "/api/departments", map[string]any{"name": name, "visibility": "private"}, 201, &d)
	dep, err := n.st.UpdateDepartment(n.t.Context(), d.ID, func(d *switchboard.Department) error {
		d.RingTimeoutS = ringS
		return nil
	})
	if err != nil {
		n.t.Fatal(err)
	}
	return dep
}

// online opens an operator socket and sets it online.
func (n *node) online(name, token string) *wsClient {
	n.t.Helper()
	c := n.operatorConn(name, token)
	c.waitType("hello", wait)
	c.ok(frame{"type": "status.set", "status": "online"})
	return c
}

// answered starts a visitor's chat in dept and has op accept it.
func answered(t *testing.T, n *node, dept switchboard.Department, op *wsClient) (*wsClient, string) {
	t.Helper()
	v := n.visitor("visitor", dept.WidgetKey, "")
	v.waitType("hello", wait)
	chatID := v.ok(frame{"type": "chat.start", "name": "Vera", "question": "hello?"}).str("chat_id")
	op.wait(wait, "offer", func(f frame) bool { return f.str("type") == "chat.offer" && f.str("chat_id") == chatID })
	op.ok(frame{"type": "chat.accept", "chat_id": chatID})
	v.waitType("chat.assigned", wait)
	v.wait(wait, "joined notice", func(f frame) bool { return f.str("type") == "message" && f.obj("from").str("id") == "joined" })
	return v, chatID
}

// drain drops every frame buffered now or arriving within 100 ms.
func drain(c *wsClient) {
	for {
		if _, err := c.tryWait(100*time.Millisecond, func(frame) bool { return true }); err != nil {
			return
		}
	}
}

func isType(typ, chatID string) func(frame) bool {
	return func(f frame) bool { return f.str("type") == typ && f.str("chat_id") == chatID }
}

// TestTransferToPrivateDepartment: a public-department chat goes to a
// private department, whose operator accepts it; the first operator leaves,
// the visitor learns who answers and nothing about the department, and the
// hop is in the store.
func TestTransferToPrivateDepartment(t *testing.T) {
	teststore.Each(t, func(t *testing.T, st store.Store) {
		n := newNode(t, st, nodeOptions{})
		priv := n.privateDepartment("Escalations", 10)
		annID, aTok := n.staff("ann", switchboard.RoleOperator, n.dept.ID)
		patID, pTok := n.staff("pat", switchboard.RoleOperator, priv.ID)
		ann, pat := n.online("ann", aTok), n.online("pat", pTok)
		v, chatID := answered(t, n, n.dept, ann)

		// Nobody else eligible in the department the chat is in.
		ann.refused(frame{"type": "chat.transfer", "chat_id": chatID, "department_id": n.dept.ID}, "no_operators")

		if a := ann.ok(frame{"type": "chat.transfer", "chat_id": chatID, "department_id": priv.ID, "note": "billing dispute"}); a.str("chat_id") != chatID {
			t.Fatalf("transfer ack = %v", a)
		}
		offer := pat.wait(wait, "transfer offer", isType("chat.offer", chatID))
		tr := offer.obj("transfer")
		if tr.obj("from_operator").str("id") != annID || tr.obj("from_department").str("id") != n.dept.ID || tr.str("note") != "billing dispute" {
			t.Fatalf("offer.transfer = %v", tr)
		}
		if offer.obj("department").str("id") != priv.ID {
			t.Fatalf("offer.department = %v, want the private department", offer.obj("department"))
		}
		// Meanwhile the chat is still ann's.
		ann.ok(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": "a1", "body": "one moment"})
		v.wait(wait, "ann's message", func(f frame) bool { return f.str("type") == "message" && f.str("body") == "one moment" })

		pat.ok(frame{"type": "chat.accept", "chat_id": chatID})
		moved := ann.wait(wait, "chat.transferred", isType("chat.transferred", chatID))
		if moved.obj("to_department").str("id") != priv.ID || moved.obj("to_operator").str("id") != patID || moved.obj("from_department").str("id") != n.dept.ID {
			t.Fatalf("chat.transferred = %v", moved)
		}
		if a := v.waitType("chat.assigned", wait); a.obj("operator").str("name") != "pat" || a.obj("operator").str("id") != patID {
			t.Fatalf("visitor's chat.assigned = %v, want pat", a)
		}
		v.wait(wait, "transfer notice", func(f frame) bool { return f.str("type") == "message" && f.obj("from").str("id") == "transferred" })
		pat.ok(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": "p1", "body": "pat here"})
		v.wait(wait, "pat's message", func(f frame) bool { return f.str("type") == "message" && f.str("body") == "pat here" })
		ann.refused(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": "a2", "body": "still me?"}, "forbidden")
		ann.quiet(200*time.Millisecond, "pat's message", func(f frame) bool { return f.str("body") == "pat here" })

		// The visitor never saw anything about the private department.
		v.quiet(300*time.Millisecond, "a department frame", func(f frame) bool {
			b, _ := json.Marshal(f)
			return f.str("type") == "chat.transferred" || strings.Contains(string(b), "Escalations") || strings.Contains(string(b), priv.ID)
		})

		ch, err := st.Chat(t.Context(), chatID)
		if err != nil || ch.OperatorID != patID || ch.DepartmentID != priv.ID || ch.Status != switchboard.ChatOngoing {
			t.Fatalf("stored chat = %+v, %v", ch, err)
		}
		hops, err := st.Transfers(t.Context(), chatID)
		if err != nil || len(hops) != 1 {
			t.Fatalf("Transfers = %+v, %v", hops, err)
		}
		h := hops[0]
		if h.FromOperatorID != annID || h.ToOperatorID != patID || h.FromDepartmentID != n.dept.ID || h.ToDepartmentID != priv.ID || h.Note != "billing dispute" {
			t.Fatalf("hop = %+v", h)
		}
	})
}

// TestTransferDeclinedAndTimedOut: a transfer to an operator who declines,
// then one who does not answer: the chat stays with the first operator,
// who is told each time.
func TestTransferDeclinedAndTimedOut(t *testing.T) {
	teststore.Each(t, func(t *testing.T, st store.Store) {
		n := newNode(t, st, nodeOptions{})
		dept := n.department("Support", 1, 60)
		annID, aTok := n.staff("ann", switchboard.RoleOperator, dept.ID)
		bobID, bTok := n.staff("bob", switchboard.RoleOperator)       // in no department
		cidID, _ := n.staff("cid", switchboard.RoleOperator, dept.ID) // never online
		ann, bob := n.online("ann", aTok), n.online("bob", bTok)
		v, chatID := answered(t, n, dept, ann)

		// Bad input.
		ann.refused(frame{"type": "chat.transfer", "chat_id": chatID, "operator_id": annID}, "bad_request")
		ann.refused(frame{"type": "chat.transfer", "chat_id": chatID}, "bad_request")
		ann.refused(frame{"type": "chat.transfer", "chat_id": chatID, "operator_id": bobID, "department_id": dept.ID}, "bad_request")
		ann.refused(frame{"type": "chat.transfer", "chat_id": chatID, "operator_id": "nobody"}, "bad_request")
		bob.refused(frame{"type": "chat.transfer", "chat_id": chatID, "operator_id": bobID}, "forbidden")
		ann.refused(frame{"type": "chat.transfer", "chat_id": chatID, "operator_id": cidID}, "no_operators")
		off := n.privateDepartment("Closed", 5)
		if _, err := st.UpdateDepartment(t.Context(), off.ID, func(d *switchboard.Department) error { d.Enabled = false; return nil }); err != nil {
			t.Fatal(err)
		}
		ann.refused(frame{"type": "chat.transfer", "chat_id": chatID, "department_id": off.ID}, "department_disabled")
		gone := n.privateDepartment("Gone", 5)
		n.api(n.adminToken, "DELETE", "/api/departments/"+gone.ID+"?confirm=true", nil, 204, nil)
		if r := ann.refused(frame{"type": "chat.transfer", "chat_id": chatID, "department_id": gone.ID}, "bad_request"); r.str("field") != "department_id" {
			t.Fatalf("transfer to a deleted department: %v", r)
		}
		if _, err := st.UpdateOperator(t.Context(), cidID, func(o *switchboard.Operator) error { o.Enabled = false; return nil }); err != nil {
			t.Fatal(err)
		}
		if r := ann.refused(frame{"type": "chat.transfer", "chat_id": chatID, "operator_id": cidID}, "bad_request"); r.str("field") != "operator_id" {
			t.Fatalf("transfer to a disabled operator: %v", r)
		}
		ann.refused(frame{"type": "chat.transfer", "chat_id": "nope", "operator_id": bobID}, "not_found")

		// Declined.
		ann.ok(frame{"type": "chat.transfer", "chat_id": chatID, "operator_id": bobID})
		bob.wait(wait, "transfer offer", isType("chat.offer", chatID))
		ann.refused(frame{"type": "chat.transfer", "chat_id": chatID, "operator_id": bobID}, "conflict") // one at a time
		bob.ok(frame{"type": "chat.decline", "chat_id": chatID})
		if f := ann.wait(wait, "transfer_failed", isType("chat.transfer_failed", chatID)); f.str("reason") != "declined" {
			t.Fatalf("transfer_failed = %v, want declined", f)
		}
		ann.ok(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": "a1", "body": "still with you"})
		v.wait(wait, "ann's message", func(f frame) bool { return f.str("type") == "message" && f.str("body") == "still with you" })

		// Timed out (the chat's department rings for 1 s).
		started := time.Now()
		ann.ok(frame{"type": "chat.transfer", "chat_id": chatID, "operator_id": bobID, "note": "please"})
		bob.wait(wait, "transfer offer", isType("chat.offer", chatID))
		if f := ann.wait(wait, "transfer_failed", isType("chat.transfer_failed", chatID)); f.str("reason") != "timeout" {
			t.Fatalf("transfer_failed = %v, want timeout", f)
		}
		if el := time.Since(started); el < 900*time.Millisecond {
			t.Fatalf("timed out after %v, before the 1 s ring timeout", el)
		}
		if r := bob.wait(wait, "revoke", isType("chat.offer_revoked", chatID)); r.str("reason") != "timeout" {
			t.Fatalf("revoke = %v", r)
		}
		bob.refused(frame{"type": "chat.accept", "chat_id": chatID}, "already_taken")
		ann.ok(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": "a2", "body": "still here"})
		v.quiet(200*time.Millisecond, "a transfer frame", func(f frame) bool { return strings.HasPrefix(f.str("type"), "chat.transfer") })

		ch, err := st.Chat(t.Context(), chatID)
		if err != nil || ch.OperatorID != annID {
			t.Fatalf("stored chat = %+v, %v", ch, err)
		}
		if hops, err := st.Transfers(t.Context(), chatID); err != nil || len(hops) != 0 {
			t.Fatalf("Transfers = %+v, %v; want none", hops, err)
		}
	})
}

// TestSupervisorMonitorsAndTakesOver: a supervisor watches a chat live
// without the visitor noticing, then takes it over; a plain operator may
// not monitor.
func TestSupervisorMonitorsAndTakesOver(t *testing.T) {
	teststore.Each(t, func(t *testing.T, st store.Store) {
		n := newNode(t, st, nodeOptions{})
		annID, aTok := n.staff("ann", switchboard.RoleOperator, n.dept.ID)
		bobID, bTok := n.staff("bob", switchboard.RoleOperator, n.dept.ID)
		sueID, sTok := n.staff("sue", switchboard.RoleSupervisor)
		ann := n.online("ann", aTok)
		v, chatID := answered(t, n, n.dept, ann)
		ann.ok(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": "a1", "body": "how can I help?"})
		v.wait(wait, "ann's message", func(f frame) bool { return f.str("body") == "how can I help?" })

		bob := n.operatorConn("bob", bTok)
		bob.waitType("hello", wait)
		bob.refused(frame{"type": "chat.monitor", "chat_id": chatID, "on": true}, "forbidden")

		drain(v)
		sue := n.operatorConn("sue", sTok)
		sue.waitType("hello", wait)
		if a := sue.ok(frame{"type": "chat.monitor", "chat_id": chatID, "on": true}); a.str("chat_id") != chatID {
			t.Fatalf("monitor ack = %v", a)
		}
		backlog := drainMessages(sue, chatID, 3) // question, joined, ann's message
		if got := seqsOf(backlog); !slices.Equal(got, []int64{1, 2, 3}) {
			t.Fatalf("backlog seqs = %v", got)
		}
		if got := n.srv.Live.Monitored(); !slices.Equal(got, []string{chatID}) {
			t.Fatalf("Monitored = %v", got)
		}
		v.ok(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": "v1", "body": "my order is late"})
		sue.wait(wait, "live message", func(f frame) bool { return f.str("type") == "message" && f.str("body") == "my order is late" })
		ann.wait(wait, "live message", func(f frame) bool { return f.str("type") == "message" && f.str("body") == "my order is late" })
		sue.refused(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": "s0", "body": "hi"}, "forbidden")
		// The visitor saw nothing of it.
		v.quiet(300*time.Millisecond, "any frame but its own message", func(f frame) bool {
			return !(f.str("type") == "message" && f.str("body") == "my order is late")
		})

		// Off and on again.
		sue.ok(frame{"type": "chat.monitor", "chat_id": chatID, "on": false})
		if got := n.srv.Live.Monitored(); len(got) != 0 {
			t.Fatalf("Monitored after off = %v", got)
		}
		ann.ok(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": "a2", "body": "checking"})
		sue.quiet(200*time.Millisecond, "a message while not watching", func(f frame) bool { return f.str("body") == "checking" })
		sue.ok(frame{"type": "chat.monitor", "chat_id": chatID, "on": true})

		// Take-over.
		if a := sue.ok(frame{"type": "chat.accept", "chat_id": chatID}); a.str("chat_id") != chatID {
			t.Fatalf("take-over ack = %v", a)
		}
		if m := ann.wait(wait, "chat.transferred", isType("chat.transferred", chatID)); m.obj("to_operator").str("id") != sueID {
			t.Fatalf("chat.transferred = %v", m)
		}
		if a := v.waitType("chat.assigned", wait); a.obj("operator").str("name") != "sue" {
			t.Fatalf("visitor's chat.assigned = %v", a)
		}
		sue.ok(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": "s1", "body": "sue here"})
		v.wait(wait, "sue's message", func(f frame) bool { return f.str("body") == "sue here" })
		ann.refused(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": "a3", "body": "?"}, "forbidden")
		if got := n.srv.Live.Monitored(); len(got) != 0 {
			t.Fatalf("Monitored after take-over = %v", got)
		}
		hops, err := st.Transfers(t.Context(), chatID)
		if err != nil || len(hops) != 1 || hops[0].FromOperatorID != annID || hops[0].ToOperatorID != sueID || hops[0].Note != "taken over" {
			t.Fatalf("Transfers = %+v, %v", hops, err)
		}
		// A supervisor may also transfer any chat.
		bob.ok(frame{"type": "status.set", "status": "online"})
		sue.ok(frame{"type": "chat.transfer", "chat_id": chatID, "operator_id": bobID})
		bob.wait(wait, "transfer offer", isType("chat.offer", chatID))
	})
}
