package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store"
)

var transferCases = []testCase{
	{"moves the chat and records the hop", func(t *testing.T, s store.Store) {
		pub := newDepartment(t, s, "Sales")
		priv := newDepartment(t, s, "Escalations", func(d *switchboard.Department) { d.Visibility = switchboard.Private })
		alice := newOperator(t, s, "alice@example.com", switchboard.RoleOperator)
		bob := newOperator(t, s, "bob@example.com", switchboard.RoleOperator)
		ch := newChat(t, s, pub, "help")
		_, err := s.AssignChat(t.Context(), ch.ID, alice.ID, time.Now())
		noErr(t, err, "AssignChat")

		at := msTime(time.Now().Add(-time.Second))
		moved, hop, err := s.TransferChat(t.Context(), ch.ID, alice.ID,
			switchboard.Transfer{ToDepartmentID: priv.ID, ToOperatorID: bob.ID, Note: "needs a specialist", At: at})
		noErr(t, err, "TransferChat")
		if moved.OperatorID != bob.ID || moved.DepartmentID != priv.ID || moved.DepartmentName != "Escalations" || moved.Status != switchboard.ChatOngoing {
			t.Errorf("moved chat = %+v, want ongoing with bob in Escalations", moved)
		}
		if got := chat(t, s, ch.ID); got.OperatorID != bob.ID || got.DepartmentID != priv.ID {
			t.Errorf("stored chat = %+v, want bob in Escalations", got)
		}
		want := switchboard.Transfer{ID: hop.ID, ChatID: ch.ID, At: at, FromDepartmentID: pub.ID, ToDepartmentID: priv.ID,
			FromOperatorID: alice.ID, ToOperatorID: bob.ID, Note: "needs a specialist"}
		if hop.ID == "" || hop != want {
			t.Errorf("hop = %+v, want %+v", hop, want)
		}
		hops, err := s.Transfers(t.Context(), ch.ID)
		noErr(t, err, "Transfers")
		if len(hops) != 1 || !hops[0].At.Equal(at) {
			t.Fatalf("Transfers = %+v, want the one hop", hops)
		}
		hops[0].At = at
		if hops[0] != want {
			t.Errorf("Transfers[0] = %+v, want %+v", hops[0], want)
		}
		if open, err := s.OperatorOpenChats(t.Context(), alice.ID); err != nil || len(open) != 0 {
			t.Errorf("alice's open chats = %v, %v; want none", open, err)
		}
	}},
	{"to an operator keeps the department", func(t *testing.T, s store.Store) {
		d := newDepartment(t, s, "Sales")
		alice := newOperator(t, s, "alice@example.com", switchboard.RoleOperator)
		bob := newOperator(t, s, "bob@example.com", switchboard.RoleOperator)
		carol := newOperator(t, s, "carol@example.com", switchboard.RoleSupervisor)
		ch := newChat(t, s, d, "")
		_, err := s.AssignChat(t.Context(), ch.ID, alice.ID, time.Now())
		noErr(t, err, "AssignChat")
		moved, hop, err := s.TransferChat(t.Context(), ch.ID, alice.ID, switchboard.Transfer{ToOperatorID: bob.ID})
		noErr(t, err, "TransferChat")
		if moved.DepartmentID != d.ID || moved.DepartmentName != "Sales" || hop.ToDepartmentID != d.ID || hop.FromDepartmentID != d.ID {
			t.Errorf("chat %+v, hop %+v: want the department kept", moved, hop)
		}
		_, _, err = s.TransferChat(t.Context(), ch.ID, bob.ID, switchboard.Transfer{ToOperatorID: carol.ID, Note: "taken over"})
		noErr(t, err, "second TransferChat")
		hops, err := s.Transfers(t.Context(), ch.ID)
		noErr(t, err, "Transfers")
		if len(hops) != 2 || hops[0].ToOperatorID != bob.ID || hops[1].ToOperatorID != carol.ID {
			t.Errorf("Transfers = %+v, want bob then carol", hops)
		}
	}},
	{"a queued chat moves to another department", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		pub := newDepartment(t, s, "Sales")
		priv := newDepartment(t, s, "Overflow", func(d *switchboard.Department) { d.Visibility = switchboard.Private })
		ch := newChat(t, s, pub, "help")
		moved, hop, err := s.MoveQueuedChat(ctx, ch.ID, priv.ID, "fallback")
		noErr(t, err, "MoveQueuedChat")
		if moved.DepartmentID != priv.ID || moved.DepartmentName != "Overflow" || moved.Status != switchboard.ChatQueued || moved.OperatorID != "" {
			t.Errorf("moved chat = %+v, want queued in Overflow", moved)
		}
		if got := chat(t, s, ch.ID); got.DepartmentID != priv.ID || got.DepartmentName != "Overflow" {
			t.Errorf("stored chat = %+v, want it in Overflow", got)
		}
		want := switchboard.Transfer{ID: hop.ID, ChatID: ch.ID, At: hop.At, FromDepartmentID: pub.ID, ToDepartmentID: priv.ID, Note: "fallback"}
		if hop.ID == "" || hop.At.IsZero() || hop != want {
			t.Errorf("hop = %+v, want %+v", hop, want)
		}
		hops, err := s.Transfers(ctx, ch.ID)
		noErr(t, err, "Transfers")
		if len(hops) != 1 || hops[0].Note != "fallback" || hops[0].FromDepartmentID != pub.ID || hops[0].ToDepartmentID != priv.ID ||
			hops[0].FromOperatorID != "" || hops[0].ToOperatorID != "" {
			t.Errorf("Transfers = %+v, want the one fallback hop", hops)
		}

		_, _, err = s.MoveQueuedChat(ctx, ch.ID, priv.ID, "fallback")
		wantInvalid(t, err, "to_department", "MoveQueuedChat to its own department")
		_, _, err = s.MoveQueuedChat(ctx, ch.ID, "no-such-department", "fallback")
		wantInvalid(t, err, "to_department", "MoveQueuedChat to an unknown department")
		_, _, err = s.MoveQueuedChat(ctx, "no-such-chat", pub.ID, "fallback")
		wantNotFound(t, err, "MoveQueuedChat of an unknown chat")
		_, err = s.MissChat(ctx, ch.ID, time.Now())
		noErr(t, err, "MissChat")
		_, _, err = s.MoveQueuedChat(ctx, ch.ID, pub.ID, "fallback")
		wantErrIs(t, err, switchboard.ErrConflict, "MoveQueuedChat of a missed chat")
	}},
	{"refusals", func(t *testing.T, s store.Store) {
		d := newDepartment(t, s, "Sales")
		gone := newDepartment(t, s, "Gone")
		noErr(t, s.DeleteDepartment(t.Context(), gone.ID, ""), "DeleteDepartment")
		alice := newOperator(t, s, "alice@example.com", switchboard.RoleOperator)
		bob := newOperator(t, s, "bob@example.com", switchboard.RoleOperator)
		queued := newChat(t, s, d, "")
		_, _, err := s.TransferChat(t.Context(), queued.ID, "", switchboard.Transfer{ToOperatorID: bob.ID})
		wantConflict(t, err, "status", "transfer of a queued chat")
		ch := newChat(t, s, d, "")
		_, err = s.AssignChat(t.Context(), ch.ID, alice.ID, time.Now())
		noErr(t, err, "AssignChat")
		_, _, err = s.TransferChat(t.Context(), ch.ID, bob.ID, switchboard.Transfer{ToOperatorID: alice.ID})
		wantConflict(t, err, "operator_id", "transfer from the wrong operator")
		if !errors.Is(err, switchboard.ErrConflict) {
			t.Errorf("%v does not match ErrConflict", err)
		}
		_, _, err = s.TransferChat(t.Context(), ch.ID, alice.ID, switchboard.Transfer{ToOperatorID: "nobody"})
		wantInvalid(t, err, "to_operator", "transfer to an unknown operator")
		_, _, err = s.TransferChat(t.Context(), ch.ID, alice.ID, switchboard.Transfer{})
		wantInvalid(t, err, "to_operator", "transfer to no operator")
		_, _, err = s.TransferChat(t.Context(), ch.ID, alice.ID, switchboard.Transfer{ToOperatorID: bob.ID, ToDepartmentID: gone.ID})
		wantInvalid(t, err, "to_department", "transfer to a deleted department")
		_, _, err = s.TransferChat(t.Context(), "nope", alice.ID, switchboard.Transfer{ToOperatorID: bob.ID})
		wantNotFound(t, err, "transfer of an unknown chat")
		if got := chat(t, s, ch.ID); got.OperatorID != alice.ID {
			t.Errorf("after refusals the chat is %s's, want alice's", got.OperatorID)
		}
		hops, err := s.Transfers(t.Context(), ch.ID)
		noErr(t, err, "Transfers")
		if len(hops) != 0 {
			t.Errorf("refused transfers recorded %+v", hops)
		}
		_, err = s.EndChat(t.Context(), ch.ID, time.Now())
		noErr(t, err, "EndChat")
		_, _, err = s.TransferChat(t.Context(), ch.ID, alice.ID, switchboard.Transfer{ToOperatorID: bob.ID})
		wantConflict(t, err, "status", "transfer of a completed chat")
	}},
}
