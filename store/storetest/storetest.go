// Package storetest is the conformance suite of store.Store: every backend
// runs it, so that the embedded default and the production database behave
// alike. A behaviour change starts as a new case here.
package storetest

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store"
)

// Run runs every case of the suite as a parallel subtest of t. newStore must
// return a new, empty, migrated store for each call and close it in
// t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	groups := []struct {
		name  string
		cases []testCase
	}{
		{"setup", setupCases},
		{"department", departmentCases},
		{"operator", operatorCases},
		{"session", sessionCases},
		{"audit", auditCases},
		{"chat", chatCases},
		{"history", historyCases},
		{"search", searchCases},
		{"detail", detailCases},
		{"message", messageCases},
		{"transfer", transferCases},
		{"block", blockCases},
		{"outbox", outboxCases},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range g.cases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.run(t, newStore(t))
				})
			}
		})
	}
}

// testCase is one case of the suite, run on a fresh store.
type testCase struct {
	name string
	run  func(t *testing.T, s store.Store)
}

// --- fixtures ---

// newDepartment creates a public, enabled department; mod (optional)
// changes it first.
func newDepartment(t testing.TB, s store.Store, name string, mod ...func(*switchboard.Department)) switchboard.Department {
	t.Helper()
	d := switchboard.Department{Name: name, Visibility: switchboard.Public, Enabled: true}
	for _, m := range mod {
		m(&d)
	}
	if err := s.CreateDepartment(t.Context(), &d); err != nil {
		t.Fatalf("CreateDepartment(%q): %v", name, err)
	}
	return d
}

// newOperator creates an enabled operator with the given role.
func newOperator(t *testing.T, s store.Store, email string, role switchboard.Role, mod ...func(*switchboard.Operator)) switchboard.Operator {
	t.Helper()
	o := switchboard.Operator{
		Name:         strings.Split(email, "@")[0],
		Email:        email,
		Role:         role,
		Enabled:      true,
		PasswordHash: "hash-of-" + email,
	}
	for _, m := range mod {
		m(&o)
	}
	if err := s.CreateOperator(t.Context(), &o); err != nil {
		t.Fatalf("CreateOperator(%q): %v", email, err)
	}
	return o
}

// --- assertions ---

func wantNotFound(t *testing.T, err error, what string) {
	t.Helper()
	if !errors.Is(err, switchboard.ErrNotFound) {
		t.Errorf("%s: got error %v, want ErrNotFound", what, err)
	}
}

func wantInvalid(t *testing.T, err error, field, what string) {
	t.Helper()
	var ve *switchboard.ValidationError
	if !errors.As(err, &ve) {
		t.Errorf("%s: got error %v, want a ValidationError for %q", what, err, field)
		return
	}
	if ve.Field != field {
		t.Errorf("%s: got a ValidationError for %q (%v), want one for %q", what, ve.Field, ve, field)
	}
	if !errors.Is(err, switchboard.ErrInvalid) {
		t.Errorf("%s: %v does not match ErrInvalid", what, err)
	}
}

func wantConflict(t *testing.T, err error, field, what string) {
	t.Helper()
	var ce *switchboard.ConflictError
	if !errors.As(err, &ce) {
		t.Errorf("%s: got error %v, want a ConflictError for %q", what, err, field)
		return
	}
	if ce.Field != field {
		t.Errorf("%s: got a ConflictError for %q (%v), want one for %q", what, ce.Field, ce, field)
	}
	if ce.Message == "" {
		t.Errorf("%s: ConflictError without a message", what)
	}
	if !errors.Is(err, switchboard.ErrConflict) {
		t.Errorf("%s: %v does not match ErrConflict", what, err)
	}
}

func noErr(t testing.TB, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// equal fails the test when got and want differ, showing both.
func equal[T any](t *testing.T, got, want T, what string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// wantStoredTime checks that a time the store filled is in UTC, at
// millisecond precision, and close to now.
func wantStoredTime(t *testing.T, got time.Time, what string) {
	t.Helper()
	if got.Location() != time.UTC {
		t.Errorf("%s = %v: not in UTC", what, got)
	}
	if !got.Equal(got.Truncate(time.Millisecond)) {
		t.Errorf("%s = %v: finer than a millisecond", what, got)
	}
	if d := time.Since(got); d < -time.Second || d > time.Minute {
		t.Errorf("%s = %v: %v away from now", what, got, d)
	}
}

// sorted returns a sorted copy of ids, never nil.
func sorted(ids ...string) []string {
	out := append([]string{}, ids...)
	slices.Sort(out)
	return out
}

// allPages walks a list page by page and returns every item, checking
// that only the last page has no next cursor and that pages are full.
func allPages[T any](t *testing.T, limit int, list func(store.Page) ([]T, string, error)) []T {
	t.Helper()
	var all []T
	p := store.Page{Limit: limit}
	for i := 0; ; i++ {
		if i > 1000 {
			t.Fatalf("more than 1000 pages: the cursor does not advance")
		}
		items, next, err := list(p)
		noErr(t, err, "list page")
		if items == nil {
			t.Fatalf("page %d: nil items, want a non-nil slice", i)
		}
		all = append(all, items...)
		if next == "" {
			if len(items) > limit {
				t.Fatalf("last page has %d items, limit %d", len(items), limit)
			}
			return all
		}
		if len(items) != limit {
			t.Fatalf("page %d has %d items and a next cursor; want full pages of %d", i, len(items), limit)
		}
		p.Cursor = next
	}
}
