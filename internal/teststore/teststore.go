// Package teststore opens real stores for tests above the store layer: the
// same test runs once on the embedded SQLite default and once on
// PostgreSQL, so the two paths cannot drift apart.
package teststore

import (
	"path/filepath"
	"testing"

	"github.com/switchboard-chat/switchboard/internal/testenv"
	"github.com/switchboard-chat/switchboard/store"
	"github.com/switchboard-chat/switchboard/store/postgres"
	"github.com/switchboard-chat/switchboard/store/sqlite"
)

// Backends are the store backends every test runs on.
var Backends = []string{"sqlite", "postgres"}

// Open returns a fresh, migrated store of the backend, closed at cleanup.
func Open(t testing.TB, backend string) store.Store {
	t.Helper()
	var (
		st  store.Store
		err error
	)
	switch backend {
	case "sqlite":
		st, err = sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "switchboard.db"), nil)
	case "postgres":
		st, err = postgres.Open(t.Context(), testenv.PostgresURL(t), nil)
	default:
		t.Fatalf("teststore: unknown backend %q", backend)
	}
	if err != nil {
		t.Fatalf("teststore: open %s: %v", backend, err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// Each runs f as a parallel subtest per backend with a fresh store.
func Each(t *testing.T, f func(t *testing.T, st store.Store)) {
	t.Helper()
	for _, b := range Backends {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			f(t, Open(t, b))
		})
	}
}
