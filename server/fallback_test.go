package server_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/internal/teststore"
	"github.com/switchboard-chat/switchboard/store"
)

// TestFallbackDepartment: a chat in a department with nobody online moves
// to its (private) fallback department, whose online operator is offered
// it and accepts; the visitor gets chat.assigned and never the fallback's
// name or id; the hop is in the store with the note "fallback".
func TestFallbackDepartment(t *testing.T) {
	teststore.Each(t, func(t *testing.T, st store.Store) {
		n := newNode(t, st, nodeOptions{})
		over := n.privateDepartment("Night Shift Overflow", 10)
		// Someone in the department, but offline: it has nobody online.
		n.staff("ann", switchboard.RoleOperator, n.dept.ID)
		patID, pTok := n.staff("pat", switchboard.RoleOperator, over.ID)

		var view map[string]any
		n.api(n.adminToken, "PATCH", "/api/departments/"+n.dept.ID, map[string]any{"fallback_department_id": over.ID}, 200, &view)
		if view["fallback_department_id"] != over.ID {
			t.Fatalf("PATCH: fallback_department_id = %v, want %s", view["fallback_department_id"], over.ID)
		}
		n.api(n.adminToken, "PATCH", "/api/departments/"+n.dept.ID, map[string]any{"fallback_department_id": n.dept.ID}, 422, nil)
		n.api(n.adminToken, "PATCH", "/api/departments/"+n.dept.ID, map[string]any{"fallback_department_id": "no-such-department"}, 422, nil)

		pat := n.online("pat", pTok)
		v := n.visitor("visitor", n.dept.WidgetKey, "")
		var seen []frame // every frame the visitor got
		seen = append(seen, v.waitType("hello", wait))
		ack := v.ok(frame{"type": "chat.start", "name": "Vera", "question": "anyone there?"})
		seen = append(seen, ack)
		chatID := ack.str("chat_id")
		if ack.str("status") != string(switchboard.ChatQueued) {
			t.Fatalf("chat.start ack = %v, want a queued chat", ack)
		}

		offer := pat.wait(wait, "offer", isType("chat.offer", chatID))
		if offer.obj("department").str("id") != over.ID {
			t.Fatalf("offer.department = %v, want the fallback", offer.obj("department"))
		}
		pat.ok(frame{"type": "chat.accept", "chat_id": chatID})
		a := v.waitType("chat.assigned", wait)
		seen = append(seen, a)
		if a.obj("operator").str("id") != patID || a.obj("operator").str("name") != "pat" {
			t.Fatalf("visitor's chat.assigned = %v, want pat", a)
		}
		pat.ok(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": "p1", "body": "pat here"})
		seen = append(seen, v.wait(wait, "pat's message", func(f frame) bool { return f.str("type") == "message" && f.str("body") == "pat here" }))
		for {
			f, err := v.tryWait(200*time.Millisecond, func(frame) bool { return true })
			if err != nil {
				break
			}
			seen = append(seen, f)
		}
		for _, f := range seen {
			data, _ := json.Marshal(f)
			if s := string(data); strings.Contains(s, "Night Shift") || strings.Contains(s, over.ID) {
				t.Errorf("the visitor learned about the fallback department: %s", s)
			}
		}

		ch, err := st.Chat(t.Context(), chatID)
		if err != nil {
			t.Fatal(err)
		}
		if ch.Status != switchboard.ChatOngoing || ch.OperatorID != patID || ch.DepartmentID != over.ID || ch.DepartmentName != "Night Shift Overflow" {
			t.Errorf("stored chat = %+v, want ongoing with pat in the fallback", ch)
		}
		hops, err := st.Transfers(t.Context(), chatID)
		if err != nil {
			t.Fatal(err)
		}
		if len(hops) != 1 || hops[0].Note != "fallback" || hops[0].FromDepartmentID != n.dept.ID || hops[0].ToDepartmentID != over.ID {
			t.Errorf("hops = %+v, want one fallback hop", hops)
		}

		// null clears it.
		view = nil
		n.api(n.adminToken, "PATCH", "/api/departments/"+n.dept.ID, map[string]any{"fallback_department_id": nil}, 200, &view)
		if v, ok := view["fallback_department_id"]; !ok || v != nil {
			t.Errorf("PATCH null: fallback_department_id = %v (present %v), want null", v, ok)
		}
	})
}
