package postgres_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/internal/testenv"
	"github.com/switchboard-chat/switchboard/store"
	"github.com/switchboard-chat/switchboard/store/postgres"
	"github.com/switchboard-chat/switchboard/store/storetest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// open opens a fresh, migrated database.
func open(t *testing.T, url string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(t.Context(), url, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, testenv.PostgresURL(t)) })
}

// Several nodes may start at once on one database: one migrates, the others
// wait for it; one sets up.
func TestConcurrentOpen(t *testing.T) {
	t.Parallel()
	url := testenv.PostgresURL(t)
	const n = 4
	dbs := make([]*postgres.DB, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { dbs[i], errs[i] = postgres.Open(t.Context(), url, nil) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Open %d: %v", i, errs[i])
		}
		t.Cleanup(func() { dbs[i].Close() })
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
		t.Errorf("%d of %d Setups from separate nodes created; want 1", count, n)
	}
	if err := dbs[1].Migrate(t.Context()); err != nil {
		t.Errorf("Migrate again: %v", err)
	}
}

// While PostgreSQL is down, calls fail with ErrUnavailable (so that callers
// can say "retry"), and the store recovers by itself when it is back.
func TestOutage(t *testing.T) {
	t.Parallel()
	// With fsync and synchronous_commit on, as in production: an immediate
	// stop loses nothing committed.
	srv := testenv.StartPostgres(t, testenv.PostgresOptions{Fsync: true})
	db := open(t, srv.URL("postgres"))
	res, err := db.Setup(t.Context(), store.Setup{AdminEmail: "admin@example.com", AdminPasswordHash: "h"})
	if err != nil {
		t.Fatal(err)
	}

	srv.Stop()
	_, err = db.Department(t.Context(), res.Department.ID)
	if !errors.Is(err, switchboard.ErrUnavailable) {
		t.Errorf("Department with the server down: %v; want ErrUnavailable", err)
	}
	if err := db.Ping(t.Context()); !errors.Is(err, switchboard.ErrUnavailable) {
		t.Errorf("Ping with the server down: %v; want ErrUnavailable", err)
	}
	_, err = db.UpdateDepartment(t.Context(), res.Department.ID, func(*switchboard.Department) error { return nil })
	if !errors.Is(err, switchboard.ErrUnavailable) {
		t.Errorf("UpdateDepartment with the server down: %v; want ErrUnavailable", err)
	}

	srv.Start()
	if err := db.Ping(t.Context()); err != nil {
		t.Errorf("Ping after restart: %v", err)
	}
	if _, err := db.Department(t.Context(), res.Department.ID); err != nil {
		t.Errorf("Department after restart: %v", err)
	}
}
