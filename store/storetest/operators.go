package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store"
)

var operatorCases = []testCase{
	{"CreateAndRead", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		d := newDepartment(t, s, "Sales")
		o := switchboard.Operator{
			Name:          " Alice ",
			Email:         " Alice@Example.COM ",
			Role:          switchboard.RoleSupervisor,
			MaxChats:      7,
			Enabled:       true,
			Locale:        "ja",
			DepartmentIDs: []string{d.ID}, // ignored on create
			PasswordHash:  "$argon2id$v=19$...",
		}
		noErr(t, s.CreateOperator(ctx, &o), "CreateOperator")
		if o.ID == "" {
			t.Fatalf("CreateOperator left ID empty")
		}
		equal(t, o.Name, "Alice", "normalized name")
		equal(t, o.Email, "alice@example.com", "normalized email")
		equal(t, o.DepartmentIDs, []string{}, "DepartmentIDs of a new operator")
		wantStoredTime(t, o.CreatedAt, "CreatedAt")
		equal(t, o.UpdatedAt, o.CreatedAt, "UpdatedAt of a new operator")

		got, err := s.Operator(ctx, o.ID)
		noErr(t, err, "Operator")
		equal(t, got, o, "Operator")
		for _, email := range []string{"alice@example.com", "ALICE@example.com", " alice@EXAMPLE.com "} {
			got, err = s.OperatorByEmail(ctx, email)
			noErr(t, err, "OperatorByEmail("+email+")")
			equal(t, got, o, "OperatorByEmail("+email+")")
		}

		def := newOperator(t, s, "bob@example.com", "")
		equal(t, def.Role, switchboard.RoleOperator, "default role")
		equal(t, def.MaxChats, switchboard.DefaultMaxChats, "default max chats")
	}},

	{"CreateInvalid", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		for _, c := range []struct {
			o     switchboard.Operator
			field string
		}{
			{switchboard.Operator{Email: "a@example.com", PasswordHash: "h"}, "name"},
			{switchboard.Operator{Name: "A", Email: "not-an-email", PasswordHash: "h"}, "email"},
			{switchboard.Operator{Name: "A", Email: "a@example.com", Role: "root", PasswordHash: "h"}, "role"},
			{switchboard.Operator{Name: "A", Email: "a@example.com", MaxChats: 1000, PasswordHash: "h"}, "max_chats"},
			{switchboard.Operator{Name: "A", Email: "a@example.com"}, "password"},
		} {
			o := c.o
			err := s.CreateOperator(ctx, &o)
			wantInvalid(t, err, c.field, fmt.Sprintf("CreateOperator(%+v)", c.o))
			if o.ID != "" {
				t.Errorf("a failed CreateOperator set ID %q", o.ID)
			}
		}
		items, _, err := s.Operators(ctx, store.Page{})
		noErr(t, err, "Operators")
		if len(items) != 0 {
			t.Errorf("failed creates stored %d operators", len(items))
		}
	}},

	{"EmailConflict", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		a := newOperator(t, s, "a@example.com", switchboard.RoleOperator)
		o := switchboard.Operator{Name: "Other", Email: "A@Example.com", PasswordHash: "h"}
		wantConflict(t, s.CreateOperator(ctx, &o), "email", "CreateOperator with a used email")

		b := newOperator(t, s, "b@example.com", switchboard.RoleOperator)
		_, err := s.UpdateOperator(ctx, b.ID, func(o *switchboard.Operator) error {
			o.Email = "A@EXAMPLE.COM"
			return nil
		})
		wantConflict(t, err, "email", "UpdateOperator onto a used email")
		got, err := s.Operator(ctx, b.ID)
		noErr(t, err, "Operator")
		equal(t, got, b, "operator after a refused update")
		got, err = s.OperatorByEmail(ctx, "a@example.com")
		noErr(t, err, "OperatorByEmail")
		equal(t, got.ID, a.ID, "owner of the email")
	}},

	{"NotFound", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		_, err := s.Operator(ctx, "no-such-id")
		wantNotFound(t, err, "Operator")
		_, err = s.OperatorByEmail(ctx, "nobody@example.com")
		wantNotFound(t, err, "OperatorByEmail")
		called := false
		_, err = s.UpdateOperator(ctx, "no-such-id", func(*switchboard.Operator) error {
			called = true
			return nil
		})
		wantNotFound(t, err, "UpdateOperator")
		if called {
			t.Errorf("UpdateOperator called update for a missing operator")
		}
		wantNotFound(t, s.DeleteOperator(ctx, "no-such-id", "actor"), "DeleteOperator")
	}},

	{"Pagination", func(t *testing.T, s store.Store) {
		const n = 9
		var want []switchboard.Operator
		for i := range n {
			want = append(want, newOperator(t, s, fmt.Sprintf("op%d@example.com", i), switchboard.RoleOperator))
		}
		d := newDepartment(t, s, "Sales", func(d *switchboard.Department) { d.OperatorIDs = []string{want[2].ID, want[7].ID} })
		want[2].DepartmentIDs = []string{d.ID}
		want[7].DepartmentIDs = []string{d.ID}
		slices.SortStableFunc(want, func(a, b switchboard.Operator) int {
			if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
		for _, limit := range []int{1, 2, 4, 9, 10} {
			got := allPages(t, limit, func(p store.Page) ([]switchboard.Operator, string, error) {
				return s.Operators(t.Context(), p)
			})
			equal(t, ids(got), ids(want), fmt.Sprintf("operators by pages of %d", limit))
		}
		got := allPages(t, 4, func(p store.Page) ([]switchboard.Operator, string, error) {
			return s.Operators(t.Context(), p)
		})
		equal(t, got, want, "operators")
	}},

	{"Update", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		d := newDepartment(t, s, "Sales")
		o := newOperator(t, s, "a@example.com", switchboard.RoleOperator)
		noErr(t, s.AddDepartmentOperator(ctx, d.ID, o.ID), "AddDepartmentOperator")
		o.DepartmentIDs = []string{d.ID}

		var seen switchboard.Operator
		got, err := s.UpdateOperator(ctx, o.ID, func(u *switchboard.Operator) error {
			seen = *u
			u.ID = "forged"
			u.CreatedAt = u.CreatedAt.AddDate(-1, 0, 0)
			u.DepartmentIDs = nil // read-only here
			u.Name = "Alice B."
			u.Email = "Alice@Example.org"
			u.Role = switchboard.RoleAdmin
			u.MaxChats = 3
			u.Locale = "en"
			u.PasswordHash = "new-hash"
			return nil
		})
		noErr(t, err, "UpdateOperator")
		equal(t, seen, o, "the operator update was given")
		want := o
		want.Name = "Alice B."
		want.Email = "alice@example.org"
		want.Role = switchboard.RoleAdmin
		want.MaxChats = 3
		want.Locale = "en"
		want.PasswordHash = "new-hash"
		if got.UpdatedAt.Before(o.UpdatedAt) {
			t.Errorf("UpdatedAt went back: %v, then %v", o.UpdatedAt, got.UpdatedAt)
		}
		want.UpdatedAt = got.UpdatedAt
		equal(t, got, want, "updated operator")
		stored, err := s.OperatorByEmail(ctx, "alice@example.org")
		noErr(t, err, "OperatorByEmail")
		equal(t, stored, want, "stored operator")
		_, err = s.OperatorByEmail(ctx, "a@example.com")
		wantNotFound(t, err, "OperatorByEmail of the old email")
	}},

	{"UpdateRollback", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		o := newOperator(t, s, "a@example.com", switchboard.RoleOperator)
		verr := switchboard.Invalid("password", "is too short")
		_, err := s.UpdateOperator(ctx, o.ID, func(u *switchboard.Operator) error {
			u.Name = "Changed"
			u.PasswordHash = "changed"
			return verr
		})
		if err != verr {
			t.Errorf("UpdateOperator returned %v; want the update's own error", err)
		}
		_, err = s.UpdateOperator(ctx, o.ID, func(u *switchboard.Operator) error {
			u.Role = "root"
			return nil
		})
		wantInvalid(t, err, "role", "update to a bad role")
		_, err = s.UpdateOperator(ctx, o.ID, func(u *switchboard.Operator) error {
			u.PasswordHash = ""
			return nil
		})
		wantInvalid(t, err, "password", "update to no password hash")
		errOther := errors.New("other")
		_, err = s.UpdateOperator(ctx, o.ID, func(u *switchboard.Operator) error {
			u.Name = "Changed"
			return errOther
		})
		if !errors.Is(err, errOther) {
			t.Errorf("UpdateOperator returned %v; want %v", err, errOther)
		}
		got, err := s.Operator(ctx, o.ID)
		noErr(t, err, "Operator")
		equal(t, got, o, "operator after failed updates")
	}},

	{"LastAdmin", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		admin := newOperator(t, s, "admin@example.com", switchboard.RoleAdmin)
		// A disabled admin does not count.
		off := newOperator(t, s, "off@example.com", switchboard.RoleAdmin, func(o *switchboard.Operator) { o.Enabled = false })
		newOperator(t, s, "sup@example.com", switchboard.RoleSupervisor)

		wantConflict(t, s.DeleteOperator(ctx, admin.ID, "actor"), "", "deleting the last enabled admin")
		_, err := s.UpdateOperator(ctx, admin.ID, func(o *switchboard.Operator) error {
			o.Role = switchboard.RoleSupervisor
			return nil
		})
		wantConflict(t, err, "role", "demoting the last enabled admin")
		_, err = s.UpdateOperator(ctx, admin.ID, func(o *switchboard.Operator) error {
			o.Enabled = false
			return nil
		})
		wantConflict(t, err, "enabled", "disabling the last enabled admin")
		got, err := s.Operator(ctx, admin.ID)
		noErr(t, err, "Operator")
		equal(t, got, admin, "the last admin after refusals")

		// Other changes of the last admin are fine.
		_, err = s.UpdateOperator(ctx, admin.ID, func(o *switchboard.Operator) error {
			o.Name = "Root"
			return nil
		})
		noErr(t, err, "renaming the last admin")

		// With a second enabled admin, the first may go.
		_, err = s.UpdateOperator(ctx, off.ID, func(o *switchboard.Operator) error {
			o.Enabled = true
			return nil
		})
		noErr(t, err, "enabling a second admin")
		noErr(t, s.DeleteOperator(ctx, admin.ID, "actor"), "deleting one of two admins")
		wantConflict(t, s.DeleteOperator(ctx, off.ID, "actor"), "", "deleting the last admin")
	}},

	{"Delete", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		newOperator(t, s, "admin@example.com", switchboard.RoleAdmin)
		o := newOperator(t, s, "a@example.com", switchboard.RoleOperator)
		d := newDepartment(t, s, "Sales", func(d *switchboard.Department) { d.OperatorIDs = []string{o.ID} })
		far := switchboard.Now().AddDate(0, 0, 1)
		noErr(t, s.CreateSession(ctx, switchboard.Session{TokenHash: "t1", OperatorID: o.ID, ExpiresAt: far}), "CreateSession")

		noErr(t, s.DeleteOperator(ctx, o.ID, "actor-2"), "DeleteOperator")
		_, err := s.Operator(ctx, o.ID)
		wantNotFound(t, err, "Operator after deletion")
		_, err = s.OperatorByEmail(ctx, "a@example.com")
		wantNotFound(t, err, "OperatorByEmail after deletion")
		_, _, err = s.SessionOperator(ctx, "t1", switchboard.Now())
		wantNotFound(t, err, "SessionOperator of a deleted operator")
		got, err := s.Department(ctx, d.ID)
		noErr(t, err, "Department")
		equal(t, got.OperatorIDs, []string{}, "pool after the operator's deletion")
		wantNotFound(t, s.DeleteOperator(ctx, o.ID, "actor-2"), "DeleteOperator again")

		entries, _, err := s.AuditLog(ctx, store.Page{})
		noErr(t, err, "AuditLog")
		if len(entries) != 1 {
			t.Fatalf("audit log has %d entries; want 1", len(entries))
		}
		e := entries[0]
		if e.ActorID != "actor-2" || e.Action != "operator.delete" || e.ObjectType != "operator" || e.ObjectID != o.ID {
			t.Errorf("audit entry = %+v", e)
		}

		// The email is free again.
		again := newOperator(t, s, "a@example.com", switchboard.RoleOperator)
		equal(t, again.DepartmentIDs, []string{}, "DepartmentIDs of a new operator with an old email")
	}},
}
