package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store"
)

var sessionCases = []testCase{
	{"Lifecycle", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		d := newDepartment(t, s, "Sales")
		o := newOperator(t, s, "a@example.com", switchboard.RoleOperator)
		noErr(t, s.AddDepartmentOperator(ctx, d.ID, o.ID), "AddDepartmentOperator")
		o.DepartmentIDs = []string{d.ID}
		now := switchboard.Now()
		in := switchboard.Session{TokenHash: "hash-1", OperatorID: o.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		noErr(t, s.CreateSession(ctx, in), "CreateSession")

		got, op, err := s.SessionOperator(ctx, "hash-1", now)
		noErr(t, err, "SessionOperator")
		equal(t, got, in, "session")
		equal(t, op, o, "session's operator")

		_, _, err = s.SessionOperator(ctx, "hash-1", in.ExpiresAt.Add(-time.Millisecond))
		noErr(t, err, "SessionOperator just before expiry")
		_, _, err = s.SessionOperator(ctx, "hash-1", in.ExpiresAt)
		wantNotFound(t, err, "SessionOperator at expiry")
		_, _, err = s.SessionOperator(ctx, "hash-1", in.ExpiresAt.Add(time.Hour))
		wantNotFound(t, err, "SessionOperator after expiry")
		_, _, err = s.SessionOperator(ctx, "no-such-hash", now)
		wantNotFound(t, err, "SessionOperator of an unknown token")

		noErr(t, s.DeleteSession(ctx, "hash-1"), "DeleteSession")
		_, _, err = s.SessionOperator(ctx, "hash-1", now)
		wantNotFound(t, err, "SessionOperator after DeleteSession")
		noErr(t, s.DeleteSession(ctx, "hash-1"), "DeleteSession again")
	}},

	{"ZeroCreatedAt", func(t *testing.T, s store.Store) {
		o := newOperator(t, s, "a@example.com", switchboard.RoleOperator)
		noErr(t, s.CreateSession(t.Context(), switchboard.Session{TokenHash: "h", OperatorID: o.ID, ExpiresAt: switchboard.Now().Add(time.Hour)}), "CreateSession")
		got, _, err := s.SessionOperator(t.Context(), "h", switchboard.Now())
		noErr(t, err, "SessionOperator")
		wantStoredTime(t, got.CreatedAt, "CreatedAt")
	}},

	{"CreateErrors", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		exp := switchboard.Now().Add(time.Hour)
		wantNotFound(t, s.CreateSession(ctx, switchboard.Session{TokenHash: "h", OperatorID: "no-such-operator", ExpiresAt: exp}),
			"CreateSession for an unknown operator")
		o := newOperator(t, s, "a@example.com", switchboard.RoleOperator)
		noErr(t, s.CreateSession(ctx, switchboard.Session{TokenHash: "h", OperatorID: o.ID, ExpiresAt: exp}), "CreateSession")
		wantConflict(t, s.CreateSession(ctx, switchboard.Session{TokenHash: "h", OperatorID: o.ID, ExpiresAt: exp}),
			"token_hash", "CreateSession with a used hash")
		wantInvalid(t, s.CreateSession(ctx, switchboard.Session{OperatorID: o.ID, ExpiresAt: exp}),
			"token_hash", "CreateSession without a hash")
	}},

	{"DisabledOperator", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o := newOperator(t, s, "a@example.com", switchboard.RoleOperator)
		now := switchboard.Now()
		noErr(t, s.CreateSession(ctx, switchboard.Session{TokenHash: "h", OperatorID: o.ID, ExpiresAt: now.Add(time.Hour)}), "CreateSession")
		_, err := s.UpdateOperator(ctx, o.ID, func(o *switchboard.Operator) error {
			o.Enabled = false
			return nil
		})
		noErr(t, err, "disable")
		_, _, err = s.SessionOperator(ctx, "h", now)
		wantNotFound(t, err, "SessionOperator of a disabled operator")
		_, err = s.UpdateOperator(ctx, o.ID, func(o *switchboard.Operator) error {
			o.Enabled = true
			return nil
		})
		noErr(t, err, "enable")
		_, _, err = s.SessionOperator(ctx, "h", now)
		noErr(t, err, "SessionOperator of an operator enabled again")
	}},

	{"DeleteOperatorSessions", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		a := newOperator(t, s, "a@example.com", switchboard.RoleOperator)
		b := newOperator(t, s, "b@example.com", switchboard.RoleOperator)
		now := switchboard.Now()
		for _, sess := range []switchboard.Session{
			{TokenHash: "a1", OperatorID: a.ID}, {TokenHash: "a2", OperatorID: a.ID}, {TokenHash: "a3", OperatorID: a.ID},
			{TokenHash: "b1", OperatorID: b.ID},
		} {
			sess.ExpiresAt = now.Add(time.Hour)
			noErr(t, s.CreateSession(ctx, sess), "CreateSession")
		}
		live := func() map[string]bool {
			out := map[string]bool{}
			for _, h := range []string{"a1", "a2", "a3", "b1"} {
				_, _, err := s.SessionOperator(ctx, h, now)
				out[h] = err == nil
			}
			return out
		}

		noErr(t, s.DeleteOperatorSessions(ctx, a.ID, "a2"), "DeleteOperatorSessions keeping a2")
		equal(t, live(), map[string]bool{"a1": false, "a2": true, "a3": false, "b1": true}, "sessions left")
		noErr(t, s.DeleteOperatorSessions(ctx, a.ID, ""), "DeleteOperatorSessions keeping none")
		equal(t, live(), map[string]bool{"a1": false, "a2": false, "a3": false, "b1": true}, "sessions left")
		noErr(t, s.DeleteOperatorSessions(ctx, "no-such-operator", ""), "DeleteOperatorSessions of an unknown operator")
	}},

	{"Tickets", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o := newOperator(t, s, "a@example.com", switchboard.RoleOperator)
		now := switchboard.Now()
		noErr(t, s.CreateSession(ctx, switchboard.Session{TokenHash: "sess", OperatorID: o.ID, ExpiresAt: now.Add(time.Hour)}), "CreateSession")

		noErr(t, s.CreateTicket(ctx, "t1", o.ID, "sess", now.Add(30*time.Second)), "CreateTicket")
		op, sess, err := s.ConsumeTicket(ctx, "t1", now)
		noErr(t, err, "ConsumeTicket")
		if op != o.ID || sess != "sess" {
			t.Errorf("ConsumeTicket = %q, %q; want %q, %q", op, sess, o.ID, "sess")
		}
		_, _, err = s.ConsumeTicket(ctx, "t1", now)
		wantNotFound(t, err, "ConsumeTicket of a used ticket")
		_, _, err = s.ConsumeTicket(ctx, "no-such-ticket", now)
		wantNotFound(t, err, "ConsumeTicket of an unknown ticket")

		noErr(t, s.CreateTicket(ctx, "t2", o.ID, "sess", now.Add(30*time.Second)), "CreateTicket")
		_, _, err = s.ConsumeTicket(ctx, "t2", now.Add(30*time.Second))
		wantNotFound(t, err, "ConsumeTicket at expiry")

		// A ticket dies with its session.
		noErr(t, s.CreateTicket(ctx, "t3", o.ID, "sess", now.Add(30*time.Second)), "CreateTicket")
		noErr(t, s.DeleteSession(ctx, "sess"), "DeleteSession")
		_, _, err = s.ConsumeTicket(ctx, "t3", now)
		wantNotFound(t, err, "ConsumeTicket after logout")

		wantNotFound(t, s.CreateTicket(ctx, "t4", o.ID, "no-such-session", now.Add(time.Minute)), "CreateTicket for an unknown session")
	}},

	{"TicketOnce", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o := newOperator(t, s, "a@example.com", switchboard.RoleOperator)
		now := switchboard.Now()
		noErr(t, s.CreateSession(ctx, switchboard.Session{TokenHash: "sess", OperatorID: o.ID, ExpiresAt: now.Add(time.Hour)}), "CreateSession")
		noErr(t, s.CreateTicket(ctx, "t", o.ID, "sess", now.Add(time.Minute)), "CreateTicket")
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() { _, _, errs[i] = s.ConsumeTicket(ctx, "t", now) })
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else {
				wantNotFound(t, err, "a losing ConsumeTicket")
			}
		}
		if ok != 1 {
			t.Errorf("%d of %d concurrent ConsumeTickets succeeded; want 1", ok, n)
		}
	}},
}

var auditCases = []testCase{
	{"Pagination", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		const n = 7
		newOperator(t, s, "admin@example.com", switchboard.RoleAdmin)
		for i := range n {
			o := newOperator(t, s, fmt.Sprintf("op%d@example.com", i), switchboard.RoleOperator)
			noErr(t, s.DeleteOperator(ctx, o.ID, fmt.Sprint("actor-", i)), "DeleteOperator")
		}
		all, next, err := s.AuditLog(ctx, store.Page{Limit: store.MaxLimit})
		noErr(t, err, "AuditLog")
		if len(all) != n || next != "" {
			t.Fatalf("AuditLog: %d entries, next %q; want %d and none", len(all), next, n)
		}
		// Newest first, ties by id, descending.
		for i := 1; i < n; i++ {
			a, b := all[i-1], all[i]
			if a.At.Before(b.At) || a.At.Equal(b.At) && a.ID < b.ID {
				t.Errorf("entries %d and %d out of order: %+v before %+v", i-1, i, a, b)
			}
		}
		for _, e := range all {
			if e.ActorID == fmt.Sprint("actor-", n-1) && !e.At.Equal(all[0].At) {
				t.Errorf("first entry %+v is older than the last deletion's %+v", all[0], e)
			}
		}
		for _, limit := range []int{1, 2, 3, 7} {
			got := allPages(t, limit, func(p store.Page) ([]switchboard.AuditEntry, string, error) {
				return s.AuditLog(ctx, p)
			})
			equal(t, got, all, fmt.Sprintf("audit log by pages of %d", limit))
		}
	}},

	{"Empty", func(t *testing.T, s store.Store) {
		items, next, err := s.AuditLog(t.Context(), store.Page{})
		noErr(t, err, "AuditLog")
		if items == nil || len(items) != 0 || next != "" {
			t.Errorf("AuditLog of an empty store = %v, %q; want [] and none", items, next)
		}
	}},
}
