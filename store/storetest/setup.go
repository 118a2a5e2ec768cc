package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store"
)

var setupCases = []testCase{
	{"Ping", func(t *testing.T, s store.Store) {
		noErr(t, s.Ping(t.Context()), "Ping")
	}},

	{"CreatesOnce", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		in := store.Setup{PortalName: "Acme", AdminEmail: "Root@Example.com", AdminName: "Root", AdminPasswordHash: "h1"}
		res, err := s.Setup(ctx, in)
		noErr(t, err, "Setup")
		if !res.Created {
			t.Fatalf("first Setup: Created = false")
		}
		d, a := res.Department, res.Admin
		if d.ID == "" || d.Name != "Acme" || d.Visibility != switchboard.Public || !d.Enabled ||
			d.Routing != switchboard.RoutingAuto || d.WidgetKey == "" ||
			d.RingTimeoutS != switchboard.DefaultRingTimeout || d.WaitTimeoutS != switchboard.DefaultWaitTimeout {
			t.Errorf("default department = %+v", d)
		}
		if a.ID == "" || a.Email != "root@example.com" || a.Name != "Root" || a.Role != switchboard.RoleAdmin ||
			!a.Enabled || a.PasswordHash != "h1" {
			t.Errorf("admin = %+v", a)
		}
		equal(t, d.OperatorIDs, []string{a.ID}, "department's OperatorIDs")
		equal(t, a.DepartmentIDs, []string{d.ID}, "admin's DepartmentIDs")

		// What Setup returned is what the store holds.
		got, err := s.Department(ctx, d.ID)
		noErr(t, err, "Department")
		equal(t, got, d, "stored department")
		gotA, err := s.OperatorByEmail(ctx, "root@example.com")
		noErr(t, err, "OperatorByEmail")
		equal(t, gotA, a, "stored admin")
		byKey, err := s.DepartmentByWidgetKey(ctx, d.WidgetKey)
		noErr(t, err, "DepartmentByWidgetKey")
		equal(t, byKey.ID, d.ID, "department by widget key")

		// Again, even with other values: nothing happens.
		res, err = s.Setup(ctx, store.Setup{PortalName: "Other", AdminEmail: "other@example.com", AdminPasswordHash: "h2"})
		noErr(t, err, "second Setup")
		if res.Created {
			t.Errorf("second Setup: Created = true")
		}
		deps, _, err := s.Departments(ctx, store.Page{})
		noErr(t, err, "Departments")
		ops, _, err := s.Operators(ctx, store.Page{})
		noErr(t, err, "Operators")
		if len(deps) != 1 || len(ops) != 1 {
			t.Errorf("after two Setups: %d departments, %d operators; want 1 and 1", len(deps), len(ops))
		}
	}},

	{"Defaults", func(t *testing.T, s store.Store) {
		res, err := s.Setup(t.Context(), store.Setup{AdminEmail: "admin@example.com", AdminPasswordHash: "h"})
		noErr(t, err, "Setup")
		equal(t, res.Department.Name, store.DefaultPortalName, "department name")
		equal(t, res.Admin.Name, store.DefaultAdminName, "admin name")
	}},

	{"InvalidChangesNothing", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		_, err := s.Setup(ctx, store.Setup{AdminEmail: "not an email", AdminPasswordHash: "h"})
		wantInvalid(t, err, "email", "Setup with a bad email")
		// The failed attempt did not claim setup.
		res, err := s.Setup(ctx, store.Setup{AdminEmail: "admin@example.com", AdminPasswordHash: "h"})
		noErr(t, err, "Setup")
		if !res.Created {
			t.Errorf("Setup after a failed one: Created = false")
		}
	}},

	{"Concurrent", func(t *testing.T, s store.Store) {
		const n = 8
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			created int
			errs    []error
		)
		for i := range n {
			wg.Go(func() {
				res, err := s.Setup(t.Context(), store.Setup{
					PortalName:        fmt.Sprintf("Portal %d", i),
					AdminEmail:        fmt.Sprintf("admin%d@example.com", i),
					AdminPasswordHash: "h",
				})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
				}
				if res.Created {
					created++
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			t.Errorf("concurrent Setup: %v", err)
		}
		if created != 1 {
			t.Errorf("%d of %d concurrent Setups created; want exactly 1", created, n)
		}
		deps, _, err := s.Departments(t.Context(), store.Page{})
		noErr(t, err, "Departments")
		ops, _, err := s.Operators(t.Context(), store.Page{})
		noErr(t, err, "Operators")
		if len(deps) != 1 || len(ops) != 1 {
			t.Errorf("after concurrent Setups: %d departments, %d operators; want 1 and 1", len(deps), len(ops))
		}
	}},

	{"EnsureSetting", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		got, err := s.EnsureSetting(ctx, "signing_key", "first")
		noErr(t, err, "EnsureSetting")
		equal(t, got, "first", "first EnsureSetting")
		got, err = s.EnsureSetting(ctx, "signing_key", "second")
		noErr(t, err, "EnsureSetting")
		equal(t, got, "first", "second EnsureSetting")
		got, err = s.EnsureSetting(ctx, "other_key", "x")
		noErr(t, err, "EnsureSetting")
		equal(t, got, "x", "another key")
	}},

	{"EnsureSettingConcurrent", func(t *testing.T, s store.Store) {
		const n = 8
		var wg sync.WaitGroup
		got := make([]string, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				got[i], errs[i] = s.EnsureSetting(context.WithoutCancel(t.Context()), "key", fmt.Sprint("value ", i))
			})
		}
		wg.Wait()
		for i := range n {
			noErr(t, errs[i], "EnsureSetting")
			if got[i] != got[0] {
				t.Errorf("concurrent EnsureSetting returned %q and %q; want one value for all", got[0], got[i])
			}
		}
	}},
}
