package sqlite_test

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/switchboard-chat/switchboard/store"
	"github.com/switchboard-chat/switchboard/store/sqlite"
	"github.com/switchboard-chat/switchboard/store/storetest"
)

// open opens a new database file in a temporary directory.
func open(t testing.TB) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "switchboard.db"), nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
}

// Stores that share a file stand for processes that do.
func TestShared(t *testing.T) {
	t.Parallel()
	storetest.RunShared(t, func(t *testing.T) func(t *testing.T) store.Store {
		path := filepath.Join(t.TempDir(), "switchboard.db")
		return func(t *testing.T) store.Store { return openPath(t, path) }
	})
}

// openPath opens the database file at path.
func openPath(t testing.TB, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), path, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Every connection, read or write, runs with the settings durability and
// integrity depend on.
func TestPragmas(t *testing.T) {
	t.Parallel()
	db := open(t)
	read, write := db.Pools()
	for name, pool := range map[string]*sql.DB{"read": read, "write": write} {
		for pragma, want := range map[string]string{
			"journal_mode": "wal",
			"synchronous":  "2", // FULL
			"foreign_keys": "1",
			"busy_timeout": "10000",
		} {
			var got string
			if err := pool.QueryRowContext(t.Context(), "PRAGMA "+pragma).Scan(&got); err != nil {
				t.Fatalf("%s pool: PRAGMA %s: %v", name, pragma, err)
			}
			if got != want {
				t.Errorf("%s pool: PRAGMA %s = %s; want %s", name, pragma, got, want)
			}
		}
	}
}

// Several processes may open one file at once (serve and migrate, say):
// separate pools stand in for them here. One migrates; one sets up.
func TestConcurrentOpen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "switchboard.db")
	const n = 4
	dbs := make([]*sqlite.DB, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { dbs[i], errs[i] = sqlite.Open(t.Context(), path, nil) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Open %d: %v", i, errs[i])
		}
		t.Cleanup(func() { dbs[i].Close() })
	}
	read, _ := dbs[0].Pools()
	var migrations int
	if err := read.QueryRowContext(t.Context(), "SELECT count(*) FROM schema_migrations").Scan(&migrations); err != nil {
		t.Fatal(err)
	}
	if migrations != 1 {
		t.Errorf("schema_migrations has %d rows; want 1", migrations)
	}

	created := make([]bool, n)
	for i := range n {
		wg.Go(func() {
			res, err := dbs[i].Setup(t.Context(), store.Setup{AdminEmail: fmt.Sprintf("admin%d@example.com", i), AdminPasswordHash: "h"})
			errs[i], created[i] = err, res.Created
		})
	}
	wg.Wait()
	count := 0
	for i := range n {
		if errs[i] != nil {
			t.Errorf("Setup %d: %v", i, errs[i])
		}
		if created[i] {
			count++
		}
	}
	if count != 1 {
		t.Errorf("%d of %d Setups through separate pools created; want 1", count, n)
	}
}

// Data survives closing and opening again, and opening again migrates
// nothing.
func TestReopen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "switchboard.db")
	db, err := sqlite.Open(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := db.Setup(t.Context(), store.Setup{AdminEmail: "admin@example.com", AdminPasswordHash: "h"})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	db, err = sqlite.Open(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate again: %v", err)
	}
	got, err := db.Department(t.Context(), res.Department.ID)
	if err != nil {
		t.Fatalf("Department after reopening: %v", err)
	}
	if got.Name != res.Department.Name {
		t.Errorf("department after reopening = %+v", got)
	}
}

func TestOpenBadPath(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"", "a?b.db", filepath.Join(t.TempDir(), "missing-dir", "x.db")} {
		if db, err := sqlite.Open(t.Context(), path, nil); err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded", path)
		}
	}
}

// go test -run='^$' -bench=Append ./store/sqlite
func BenchmarkAppend(b *testing.B) {
	b.Run("backend=sqlite", func(b *testing.B) {
		storetest.BenchAppend(b, func(b *testing.B) store.Store { return open(b) })
	})
}
