package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store"
)

var departmentCases = []testCase{
	{"CreateAndRead", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		op1 := newOperator(t, s, "one@example.com", switchboard.RoleOperator)
		op2 := newOperator(t, s, "two@example.com", switchboard.RoleOperator)
		d := switchboard.Department{
			Name:           "  Sales ",
			Description:    "We sell",
			Visibility:     switchboard.Public,
			Enabled:        true,
			Routing:        switchboard.RoutingBroadcast,
			WidgetKey:      "chosen-by-caller", // the store makes its own
			AllowedOrigins: []string{"https://Example.com:443", "http://localhost:8080"},
			OperatorIDs:    []string{op2.ID, op1.ID, op2.ID},
			RingTimeoutS:   15,
			WaitTimeoutS:   300,
			Locale:         "ja",
			Prechat:        switchboard.PrechatSettings{Name: switchboard.FieldRequired, Email: switchboard.FieldOff, Question: switchboard.FieldOptional},
			Email: switchboard.EmailSettings{
				FromAddress: "support@example.com",
				Transcript:  switchboard.EmailSetting{Enabled: true, To: []string{"a@example.com", "b@example.com"}},
				BlockedIP:   switchboard.EmailSetting{Enabled: false, To: []string{"sec@example.com"}},
				Missed:      switchboard.EmailSetting{Enabled: true, To: []string{"lead@example.com"}},
				CC:          switchboard.EmailSetting{Enabled: true, To: []string{"archive@example.com"}},
			},
		}
		noErr(t, s.CreateDepartment(ctx, &d), "CreateDepartment")
		if d.ID == "" {
			t.Fatalf("CreateDepartment left ID empty")
		}
		if d.WidgetKey == "" || d.WidgetKey == "chosen-by-caller" {
			t.Errorf("WidgetKey = %q; want one made by the store", d.WidgetKey)
		}
		equal(t, d.Name, "Sales", "normalized name")
		equal(t, d.AllowedOrigins, []string{"https://example.com", "http://localhost:8080"}, "canonical origins")
		equal(t, d.OperatorIDs, sorted(op1.ID, op2.ID), "OperatorIDs (distinct, sorted)")
		equal(t, d.Email.Feedback.To, []string{}, "an empty address list")
		wantStoredTime(t, d.CreatedAt, "CreatedAt")
		equal(t, d.UpdatedAt, d.CreatedAt, "UpdatedAt of a new department")

		got, err := s.Department(ctx, d.ID)
		noErr(t, err, "Department")
		equal(t, got, d, "Department")
		got, err = s.DepartmentByWidgetKey(ctx, d.WidgetKey)
		noErr(t, err, "DepartmentByWidgetKey")
		equal(t, got, d, "DepartmentByWidgetKey")

		o, err := s.Operator(ctx, op1.ID)
		noErr(t, err, "Operator")
		equal(t, o.DepartmentIDs, []string{d.ID}, "operator's DepartmentIDs")
	}},

	{"CreateMinimal", func(t *testing.T, s store.Store) {
		d := switchboard.Department{Name: "Support"}
		noErr(t, s.CreateDepartment(t.Context(), &d), "CreateDepartment")
		got, err := s.Department(t.Context(), d.ID)
		noErr(t, err, "Department")
		if got.OperatorIDs == nil || got.AllowedOrigins == nil || got.Email.Transcript.To == nil || got.Email.CC.To == nil {
			t.Errorf("nil lists in %+v; want empty ones", got)
		}
		if got.Visibility != switchboard.Public || got.Routing != switchboard.RoutingAuto ||
			got.RingTimeoutS != switchboard.DefaultRingTimeout || got.WaitTimeoutS != switchboard.DefaultWaitTimeout {
			t.Errorf("defaults not filled: %+v", got)
		}
		equal(t, got.Prechat, switchboard.DefaultPrechat, "default pre-chat form")
		equal(t, got, d, "Department")
	}},

	{"CreatePrivate", func(t *testing.T, s store.Store) {
		d := newDepartment(t, s, "Billing", func(d *switchboard.Department) {
			d.Visibility = switchboard.Private
			d.WidgetKey = "ignored"
		})
		equal(t, d.WidgetKey, "", "WidgetKey of a private department")
		got, err := s.Department(t.Context(), d.ID)
		noErr(t, err, "Department")
		equal(t, got.WidgetKey, "", "stored WidgetKey of a private department")
		_, err = s.DepartmentByWidgetKey(t.Context(), "")
		wantNotFound(t, err, `DepartmentByWidgetKey("")`)
	}},

	{"CreateInvalid", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		d := switchboard.Department{Name: "   "}
		wantInvalid(t, s.CreateDepartment(ctx, &d), "name", "empty name")
		d = switchboard.Department{Name: "X", Email: switchboard.EmailSettings{CC: switchboard.EmailSetting{To: []string{"nope"}}}}
		wantInvalid(t, s.CreateDepartment(ctx, &d), "email.cc.to", "bad address")
		d = switchboard.Department{Name: "X", OperatorIDs: []string{"no-such-operator"}}
		err := s.CreateDepartment(ctx, &d)
		wantInvalid(t, err, "operator_ids", "unknown operator")
		if d.ID != "" {
			t.Errorf("a failed CreateDepartment set ID %q", d.ID)
		}
		items, _, err := s.Departments(ctx, store.Page{})
		noErr(t, err, "Departments")
		if len(items) != 0 {
			t.Errorf("failed creates stored %d departments", len(items))
		}
	}},

	{"NameConflict", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		newDepartment(t, s, "Sales")
		for _, name := range []string{"Sales", "sales", " SALES "} {
			d := switchboard.Department{Name: name}
			wantConflict(t, s.CreateDepartment(ctx, &d), "name", fmt.Sprintf("CreateDepartment(%q)", name))
		}
		// Case is ignored beyond ASCII too, alike on every backend.
		newDepartment(t, s, "École")
		d := switchboard.Department{Name: "école"}
		wantConflict(t, s.CreateDepartment(ctx, &d), "name", `CreateDepartment("école")`)

		other := newDepartment(t, s, "Support")
		_, err := s.UpdateDepartment(ctx, other.ID, func(d *switchboard.Department) error {
			d.Name = "SALES"
			return nil
		})
		wantConflict(t, err, "name", "renaming onto a used name")
		got, err := s.Department(ctx, other.ID)
		noErr(t, err, "Department")
		equal(t, got, other, "department after a refused rename")

		// Renaming to itself in another case is fine.
		got, err = s.UpdateDepartment(ctx, other.ID, func(d *switchboard.Department) error {
			d.Name = "SUPPORT"
			return nil
		})
		noErr(t, err, "rename in another case")
		equal(t, got.Name, "SUPPORT", "renamed")
	}},

	{"NotFound", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		_, err := s.Department(ctx, "no-such-id")
		wantNotFound(t, err, "Department")
		_, err = s.DepartmentByWidgetKey(ctx, "no-such-key")
		wantNotFound(t, err, "DepartmentByWidgetKey")
		called := false
		_, err = s.UpdateDepartment(ctx, "no-such-id", func(*switchboard.Department) error {
			called = true
			return nil
		})
		wantNotFound(t, err, "UpdateDepartment")
		if called {
			t.Errorf("UpdateDepartment called update for a missing department")
		}
		newDepartment(t, s, "A")
		newDepartment(t, s, "B")
		wantNotFound(t, s.DeleteDepartment(ctx, "no-such-id", "actor"), "DeleteDepartment")
	}},

	{"Pagination", func(t *testing.T, s store.Store) {
		const n = 11
		var want []switchboard.Department
		for i := range n {
			want = append(want, newDepartment(t, s, fmt.Sprintf("Department %02d", i)))
		}
		// Oldest first; departments of the same millisecond in id order.
		slices.SortStableFunc(want, func(a, b switchboard.Department) int {
			if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
		for _, limit := range []int{1, 3, 4, 11, 12, 200} {
			got := allPages(t, limit, func(p store.Page) ([]switchboard.Department, string, error) {
				return s.Departments(t.Context(), p)
			})
			equal(t, ids(got), ids(want), fmt.Sprintf("departments by pages of %d", limit))
		}
		got := allPages(t, 3, func(p store.Page) ([]switchboard.Department, string, error) {
			return s.Departments(t.Context(), p)
		})
		equal(t, got, want, "departments")
	}},

	{"PageErrors", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		newDepartment(t, s, "A")
		for _, limit := range []int{-1, store.MaxLimit + 1} {
			_, _, err := s.Departments(ctx, store.Page{Limit: limit})
			wantInvalid(t, err, "limit", fmt.Sprintf("Departments(limit %d)", limit))
			_, _, err = s.Operators(ctx, store.Page{Limit: limit})
			wantInvalid(t, err, "limit", fmt.Sprintf("Operators(limit %d)", limit))
			_, _, err = s.AuditLog(ctx, store.Page{Limit: limit})
			wantInvalid(t, err, "limit", fmt.Sprintf("AuditLog(limit %d)", limit))
		}
		for _, cursor := range []string{"!!!", "not a cursor", "YWJj", "e30", "W10", "eyJ0IjoxfQ", "' OR 1=1 --"} {
			_, _, err := s.Departments(ctx, store.Page{Cursor: cursor})
			wantInvalid(t, err, "cursor", fmt.Sprintf("Departments(cursor %q)", cursor))
			_, _, err = s.Operators(ctx, store.Page{Cursor: cursor})
			wantInvalid(t, err, "cursor", fmt.Sprintf("Operators(cursor %q)", cursor))
			_, _, err = s.AuditLog(ctx, store.Page{Cursor: cursor})
			wantInvalid(t, err, "cursor", fmt.Sprintf("AuditLog(cursor %q)", cursor))
		}
		items, next, err := s.Departments(ctx, store.Page{Limit: store.MaxLimit})
		noErr(t, err, "Departments(limit MaxLimit)")
		if len(items) != 1 || next != "" {
			t.Errorf("Departments: %d items, next %q; want 1 and none", len(items), next)
		}
	}},

	{"DefaultLimit", func(t *testing.T, s store.Store) {
		for i := range store.DefaultLimit + 1 {
			d := switchboard.Department{Name: fmt.Sprint("D", i)}
			noErr(t, s.CreateDepartment(t.Context(), &d), "CreateDepartment")
		}
		items, next, err := s.Departments(t.Context(), store.Page{})
		noErr(t, err, "Departments")
		if len(items) != store.DefaultLimit || next == "" {
			t.Errorf("Departments with limit 0: %d items, next %q; want %d and a cursor", len(items), next, store.DefaultLimit)
		}
		items, next, err = s.Departments(t.Context(), store.Page{Cursor: next})
		noErr(t, err, "Departments, second page")
		if len(items) != 1 || next != "" {
			t.Errorf("second page: %d items, next %q; want 1 and none", len(items), next)
		}
	}},

	{"Update", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		op1 := newOperator(t, s, "one@example.com", switchboard.RoleOperator)
		op2 := newOperator(t, s, "two@example.com", switchboard.RoleOperator)
		op3 := newOperator(t, s, "three@example.com", switchboard.RoleOperator)
		d := newDepartment(t, s, "Sales", func(d *switchboard.Department) { d.OperatorIDs = []string{op1.ID, op2.ID} })

		var seen switchboard.Department
		got, err := s.UpdateDepartment(ctx, d.ID, func(u *switchboard.Department) error {
			seen = *u
			u.ID = "forged"
			u.CreatedAt = u.CreatedAt.AddDate(-1, 0, 0)
			u.Name = " Sales EU "
			u.Description = "Europe"
			u.Enabled = false
			u.Routing = switchboard.RoutingBroadcast
			u.AllowedOrigins = []string{"https://shop.example.com"}
			u.OperatorIDs = []string{op3.ID, op2.ID}
			u.RingTimeoutS = 60
			u.Locale = "en"
			u.Prechat.Email = switchboard.FieldRequired
			u.Email.FromAddress = "eu@example.com"
			u.Email.Feedback = switchboard.EmailSetting{Enabled: true, To: []string{"fb@example.com"}}
			return nil
		})
		noErr(t, err, "UpdateDepartment")
		equal(t, seen, d, "the department update was given")

		want := d
		want.Name = "Sales EU"
		want.Description = "Europe"
		want.Enabled = false
		want.Routing = switchboard.RoutingBroadcast
		want.AllowedOrigins = []string{"https://shop.example.com"}
		want.OperatorIDs = sorted(op2.ID, op3.ID)
		want.RingTimeoutS = 60
		want.Locale = "en"
		want.Prechat.Email = switchboard.FieldRequired
		want.Email.FromAddress = "eu@example.com"
		want.Email.Feedback = switchboard.EmailSetting{Enabled: true, To: []string{"fb@example.com"}}
		if got.UpdatedAt.Before(d.UpdatedAt) {
			t.Errorf("UpdatedAt went back: %v, then %v", d.UpdatedAt, got.UpdatedAt)
		}
		wantStoredTime(t, got.UpdatedAt, "UpdatedAt")
		want.UpdatedAt = got.UpdatedAt
		equal(t, got, want, "updated department")

		stored, err := s.Department(ctx, d.ID)
		noErr(t, err, "Department")
		equal(t, stored, got, "stored department")
		for _, c := range []struct {
			op   switchboard.Operator
			want []string
		}{{op1, []string{}}, {op2, []string{d.ID}}, {op3, []string{d.ID}}} {
			o, err := s.Operator(ctx, c.op.ID)
			noErr(t, err, "Operator")
			equal(t, o.DepartmentIDs, c.want, c.op.Email+"'s DepartmentIDs")
		}

		// An empty pool.
		got, err = s.UpdateDepartment(ctx, d.ID, func(u *switchboard.Department) error {
			u.OperatorIDs = nil
			return nil
		})
		noErr(t, err, "UpdateDepartment")
		equal(t, got.OperatorIDs, []string{}, "emptied pool")
	}},

	{"UpdateRollback", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		op := newOperator(t, s, "one@example.com", switchboard.RoleOperator)
		d := newDepartment(t, s, "Sales", func(d *switchboard.Department) { d.OperatorIDs = []string{op.ID} })
		check := func(what string) {
			t.Helper()
			got, err := s.Department(ctx, d.ID)
			noErr(t, err, "Department")
			equal(t, got, d, "department after "+what)
		}

		// The update's own validation error comes back as it is.
		verr := switchboard.Invalid("routing", "is wrong")
		_, err := s.UpdateDepartment(ctx, d.ID, func(u *switchboard.Department) error {
			u.Name = "Changed"
			u.OperatorIDs = nil
			return verr
		})
		if err != verr {
			t.Errorf("UpdateDepartment returned %v; want the update's own error", err)
		}
		check("a failed update")

		errOther := errors.New("some other reason")
		_, err = s.UpdateDepartment(ctx, d.ID, func(u *switchboard.Department) error {
			u.Name = "Changed"
			return errOther
		})
		if !errors.Is(err, errOther) {
			t.Errorf("UpdateDepartment returned %v; want %v", err, errOther)
		}
		check("an update returning an error")

		// Invalid results are refused even when update does not validate.
		_, err = s.UpdateDepartment(ctx, d.ID, func(u *switchboard.Department) error {
			u.Name = ""
			return nil
		})
		wantInvalid(t, err, "name", "update to an empty name")
		check("an update to an empty name")

		_, err = s.UpdateDepartment(ctx, d.ID, func(u *switchboard.Department) error {
			u.Name = "Changed"
			u.OperatorIDs = []string{op.ID, "no-such-operator"}
			return nil
		})
		wantInvalid(t, err, "operator_ids", "update with an unknown operator")
		check("an update with an unknown operator")
	}},

	{"Fallback", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		over := newDepartment(t, s, "Overflow", func(d *switchboard.Department) { d.Visibility = switchboard.Private })
		d := newDepartment(t, s, "Sales", func(d *switchboard.Department) { d.FallbackDepartmentID = over.ID })
		equal(t, d.FallbackDepartmentID, over.ID, "FallbackDepartmentID as created")
		got, err := s.Department(ctx, d.ID)
		noErr(t, err, "Department")
		equal(t, got.FallbackDepartmentID, over.ID, "FallbackDepartmentID as read")

		bad := switchboard.Department{Name: "Support", Enabled: true, FallbackDepartmentID: "no-such-department"}
		wantInvalid(t, s.CreateDepartment(ctx, &bad), "fallback_department_id", "CreateDepartment with an unknown fallback")
		_, err = s.UpdateDepartment(ctx, d.ID, func(d *switchboard.Department) error {
			d.FallbackDepartmentID = d.ID
			return nil
		})
		wantInvalid(t, err, "fallback_department_id", "UpdateDepartment with itself as fallback")
		_, err = s.UpdateDepartment(ctx, d.ID, func(d *switchboard.Department) error {
			d.FallbackDepartmentID = "no-such-department"
			return nil
		})
		wantInvalid(t, err, "fallback_department_id", "UpdateDepartment with an unknown fallback")

		noErr(t, s.DeleteDepartment(ctx, over.ID, ""), "DeleteDepartment")
		other := switchboard.Department{Name: "Support", Enabled: true, FallbackDepartmentID: over.ID}
		wantInvalid(t, s.CreateDepartment(ctx, &other), "fallback_department_id", "CreateDepartment with a deleted fallback")
		// An update that leaves a (since deleted) fallback alone is accepted.
		up, err := s.UpdateDepartment(ctx, d.ID, func(d *switchboard.Department) error {
			d.Description = "still falls back"
			return nil
		})
		noErr(t, err, "UpdateDepartment keeping the fallback")
		equal(t, up.FallbackDepartmentID, over.ID, "FallbackDepartmentID kept")
		up, err = s.UpdateDepartment(ctx, d.ID, func(d *switchboard.Department) error {
			d.FallbackDepartmentID = ""
			return nil
		})
		noErr(t, err, "UpdateDepartment clearing the fallback")
		equal(t, up.FallbackDepartmentID, "", "FallbackDepartmentID cleared")
	}},

	{"WidgetKey", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		d := newDepartment(t, s, "Sales")
		key := d.WidgetKey
		if key == "" {
			t.Fatalf("public department without a widget key")
		}
		other := newDepartment(t, s, "Support")
		if other.WidgetKey == key {
			t.Errorf("two departments share widget key %q", key)
		}

		got, err := s.UpdateDepartment(ctx, d.ID, func(u *switchboard.Department) error {
			u.Description = "unchanged visibility"
			return nil
		})
		noErr(t, err, "UpdateDepartment")
		equal(t, got.WidgetKey, key, "widget key after an unrelated update")

		got, err = s.UpdateDepartment(ctx, d.ID, func(u *switchboard.Department) error {
			u.Visibility = switchboard.Private
			return nil
		})
		noErr(t, err, "UpdateDepartment to private")
		equal(t, got.WidgetKey, "", "widget key of a department turned private")
		_, err = s.DepartmentByWidgetKey(ctx, key)
		wantNotFound(t, err, "DepartmentByWidgetKey of a department turned private")

		got, err = s.UpdateDepartment(ctx, d.ID, func(u *switchboard.Department) error {
			u.Visibility = switchboard.Public
			return nil
		})
		noErr(t, err, "UpdateDepartment to public")
		if got.WidgetKey == "" || got.WidgetKey == key {
			t.Errorf("widget key of a department public again = %q; want a new one (old %q)", got.WidgetKey, key)
		}
		byKey, err := s.DepartmentByWidgetKey(ctx, got.WidgetKey)
		noErr(t, err, "DepartmentByWidgetKey")
		equal(t, byKey.ID, d.ID, "department by its new key")

		// Clearing the key of a public department rotates it.
		again, err := s.UpdateDepartment(ctx, d.ID, func(u *switchboard.Department) error {
			u.WidgetKey = ""
			return nil
		})
		noErr(t, err, "UpdateDepartment clearing the key")
		if again.WidgetKey == "" || again.WidgetKey == got.WidgetKey {
			t.Errorf("rotated widget key = %q; want a new one (old %q)", again.WidgetKey, got.WidgetKey)
		}

		// A disabled department is still found by its key: callers decide.
		_, err = s.UpdateDepartment(ctx, d.ID, func(u *switchboard.Department) error {
			u.Enabled = false
			return nil
		})
		noErr(t, err, "disable")
		byKey, err = s.DepartmentByWidgetKey(ctx, again.WidgetKey)
		noErr(t, err, "DepartmentByWidgetKey of a disabled department")
		equal(t, byKey.Enabled, false, "Enabled")
	}},

	{"Delete", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		op := newOperator(t, s, "one@example.com", switchboard.RoleOperator)
		keep := newDepartment(t, s, "Support", func(d *switchboard.Department) { d.OperatorIDs = []string{op.ID} })
		d := newDepartment(t, s, "Sales", func(d *switchboard.Department) { d.OperatorIDs = []string{op.ID} })

		noErr(t, s.DeleteDepartment(ctx, d.ID, "actor-1"), "DeleteDepartment")
		_, err := s.Department(ctx, d.ID)
		wantNotFound(t, err, "Department of a deleted department")
		_, err = s.DepartmentByWidgetKey(ctx, d.WidgetKey)
		wantNotFound(t, err, "DepartmentByWidgetKey of a deleted department")
		_, err = s.UpdateDepartment(ctx, d.ID, func(*switchboard.Department) error { return nil })
		wantNotFound(t, err, "UpdateDepartment of a deleted department")
		wantNotFound(t, s.DeleteDepartment(ctx, d.ID, "actor-1"), "DeleteDepartment again")
		wantNotFound(t, s.AddDepartmentOperator(ctx, d.ID, op.ID), "AddDepartmentOperator to a deleted department")

		items, _, err := s.Departments(ctx, store.Page{})
		noErr(t, err, "Departments")
		equal(t, ids(items), []string{keep.ID}, "departments after a deletion")
		o, err := s.Operator(ctx, op.ID)
		noErr(t, err, "Operator")
		equal(t, o.DepartmentIDs, []string{keep.ID}, "operator's departments after a deletion")

		entries, _, err := s.AuditLog(ctx, store.Page{})
		noErr(t, err, "AuditLog")
		if len(entries) != 1 {
			t.Fatalf("audit log has %d entries; want 1", len(entries))
		}
		e := entries[0]
		if e.ID == "" || e.ActorID != "actor-1" || e.Action != "department.delete" || e.ObjectType != "department" || e.ObjectID != d.ID {
			t.Errorf("audit entry = %+v", e)
		}
		wantStoredTime(t, e.At, "audit entry time")

		// The name is free again.
		again := newDepartment(t, s, "sales")
		if again.ID == d.ID {
			t.Errorf("a new department reused a deleted one's id")
		}

		// The last live department stays.
		noErr(t, s.DeleteDepartment(ctx, again.ID, "actor-1"), "DeleteDepartment")
		wantConflict(t, s.DeleteDepartment(ctx, keep.ID, "actor-1"), "", "deleting the last department")
		if _, err := s.Department(ctx, keep.ID); err != nil {
			t.Errorf("the last department after a refused deletion: %v", err)
		}
	}},

	{"DeleteConcurrent", func(t *testing.T, s store.Store) {
		// Two deletions at once of the last two departments: one must fail.
		const n = 4
		var deps []switchboard.Department
		for i := range n {
			deps = append(deps, newDepartment(t, s, fmt.Sprint("D", i)))
		}
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i, d := range deps {
			wg.Go(func() { errs[i] = s.DeleteDepartment(t.Context(), d.ID, "actor") })
		}
		wg.Wait()
		failed := 0
		for _, err := range errs {
			switch {
			case err == nil:
			case errors.Is(err, switchboard.ErrConflict):
				failed++
			default:
				t.Errorf("DeleteDepartment: %v", err)
			}
		}
		items, _, err := s.Departments(t.Context(), store.Page{})
		noErr(t, err, "Departments")
		if len(items) != 1 || failed != 1 {
			t.Errorf("after %d concurrent deletions: %d departments left, %d refused; want 1 and 1", n, len(items), failed)
		}
	}},

	{"Operators", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		d := newDepartment(t, s, "Sales")
		a := newOperator(t, s, "a@example.com", switchboard.RoleOperator)
		b := newOperator(t, s, "b@example.com", switchboard.RoleOperator)

		noErr(t, s.AddDepartmentOperator(ctx, d.ID, a.ID), "AddDepartmentOperator")
		noErr(t, s.AddDepartmentOperator(ctx, d.ID, b.ID), "AddDepartmentOperator")
		noErr(t, s.AddDepartmentOperator(ctx, d.ID, a.ID), "AddDepartmentOperator again")
		got, err := s.Department(ctx, d.ID)
		noErr(t, err, "Department")
		equal(t, got.OperatorIDs, sorted(a.ID, b.ID), "pool")
		o, err := s.Operator(ctx, a.ID)
		noErr(t, err, "Operator")
		equal(t, o.DepartmentIDs, []string{d.ID}, "DepartmentIDs")

		noErr(t, s.RemoveDepartmentOperator(ctx, d.ID, a.ID), "RemoveDepartmentOperator")
		noErr(t, s.RemoveDepartmentOperator(ctx, d.ID, a.ID), "RemoveDepartmentOperator again")
		got, err = s.Department(ctx, d.ID)
		noErr(t, err, "Department")
		equal(t, got.OperatorIDs, []string{b.ID}, "pool after a removal")
		o, err = s.Operator(ctx, a.ID)
		noErr(t, err, "Operator")
		equal(t, o.DepartmentIDs, []string{}, "DepartmentIDs after a removal")

		wantNotFound(t, s.AddDepartmentOperator(ctx, "no-such-department", a.ID), "AddDepartmentOperator to an unknown department")
		wantNotFound(t, s.AddDepartmentOperator(ctx, d.ID, "no-such-operator"), "AddDepartmentOperator of an unknown operator")
		wantNotFound(t, s.RemoveDepartmentOperator(ctx, "no-such-department", a.ID), "RemoveDepartmentOperator from an unknown department")
		wantNotFound(t, s.RemoveDepartmentOperator(ctx, d.ID, "no-such-operator"), "RemoveDepartmentOperator of an unknown operator")
	}},
}

func ids[T interface {
	switchboard.Department | switchboard.Operator | switchboard.AuditEntry | switchboard.Chat
}](items []T) []string {
	out := []string{}
	for _, it := range items {
		switch v := any(it).(type) {
		case switchboard.Department:
			out = append(out, v.ID)
		case switchboard.Operator:
			out = append(out, v.ID)
		case switchboard.AuditEntry:
			out = append(out, v.ID)
		case switchboard.Chat:
			out = append(out, v.ID)
		}
	}
	return out
}
