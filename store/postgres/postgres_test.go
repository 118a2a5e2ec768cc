package postgres_test

import (
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/internal/testenv"
	"github.com/switchboard-chat/switchboard/store"
	"github.com/switchboard-chat/switchboard/store/postgres"
	"github.com/switchboard-chat/switchboard/store/storetest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// open opens a fresh, migrated database.
func open(t testing.TB, url string) *postgres.DB {
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

// Stores that share a database stand for nodes that do.
func TestShared(t *testing.T) {
	t.Parallel()
	storetest.RunShared(t, func(t *testing.T) func(t *testing.T) store.Store {
		url := testenv.PostgresURL(t)
		return func(t *testing.T) store.Store { return open(t, url) }
	})
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

// While PostgreSQL is down, appends fail with ErrUnavailable and nothing
// is acked that is not stored; writers that retry with the same
// client_msg_id end up with every message stored exactly once, seqs
// without gaps.
func TestAppendOutage(t *testing.T) {
	t.Parallel()
	srv := testenv.StartPostgres(t, testenv.PostgresOptions{Fsync: true})
	db := open(t, srv.URL("postgres"))
	ctx := t.Context()
	d := switchboard.Department{Name: "Sales"}
	if err := db.CreateDepartment(ctx, &d); err != nil {
		t.Fatal(err)
	}
	ch, err := db.CreateChat(ctx, store.NewChat{DepartmentID: d.ID, Visitor: switchboard.Visitor{ID: switchboard.NewID()}})
	if err != nil {
		t.Fatal(err)
	}

	const writers, each = 16, 30
	acks := make([][]switchboard.Message, writers)
	var acked, unavailable atomic.Int64
	deadline := time.Now().Add(30 * time.Second)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for k := range each {
				m := store.NewMessage{ChatID: ch.ID, ClientMsgID: fmt.Sprintf("w%d-%d", w, k),
					FromKind: switchboard.FromVisitor, Body: fmt.Sprintf("message %d of writer %d", k, w)}
				for {
					got, _, err := db.AppendMessage(ctx, m)
					if err == nil {
						acks[w] = append(acks[w], got)
						acked.Add(1)
						break
					}
					if !errors.Is(err, switchboard.ErrUnavailable) {
						t.Errorf("writer %d, message %d: %v; want ErrUnavailable", w, k, err)
						return
					}
					unavailable.Add(1)
					if time.Now().After(deadline) {
						t.Errorf("writer %d, message %d: still failing after 30s: %v", w, k, err)
						return
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
		})
	}
	for acked.Load() < writers*each/4 {
		time.Sleep(time.Millisecond)
	}
	srv.Stop()
	time.Sleep(200 * time.Millisecond)
	srv.Start()
	wg.Wait()
	if t.Failed() {
		return
	}
	if unavailable.Load() == 0 {
		t.Errorf("no append failed while the server was down")
	}

	msgs, err := db.Messages(ctx, ch.ID, 0, store.MaxMessages)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != writers*each {
		t.Errorf("%d messages stored; want %d", len(msgs), writers*each)
	}
	bySeq := map[int64]switchboard.Message{}
	for i, m := range msgs {
		if m.Seq != int64(i+1) {
			t.Fatalf("message %d has seq %d; want no gaps", i, m.Seq)
		}
		bySeq[m.Seq] = m
	}
	for _, l := range acks {
		for _, a := range l {
			if bySeq[a.Seq] != a {
				t.Errorf("acked %+v; stored %+v", a, bySeq[a.Seq])
			}
		}
	}
	got, err := db.Chat(ctx, ch.ID)
	if err != nil || got.LastSeq != int64(len(msgs)) {
		t.Errorf("last_seq = %d, %v; want %d", got.LastSeq, err, len(msgs))
	}
	t.Logf("%d appends failed with ErrUnavailable during the outage", unavailable.Load())
}

// go test -run='^$' -bench=Append ./store/postgres
//
// backend=postgres runs on the shared test server (fsync, synchronous_commit
// and full_page_writes off); backend=postgres-fsync on a server of its own
// with all three on, as in production.
func BenchmarkAppend(b *testing.B) {
	b.Run("backend=postgres", func(b *testing.B) {
		storetest.BenchAppend(b, func(b *testing.B) store.Store { return open(b, testenv.PostgresURL(b)) })
	})
	b.Run("backend=postgres-fsync", func(b *testing.B) {
		srv := testenv.StartPostgres(b, testenv.PostgresOptions{Fsync: true})
		n := 0
		storetest.BenchAppend(b, func(b *testing.B) store.Store {
			n++
			name := fmt.Sprintf("bench%d", n)
			admin, err := sql.Open("pgx", srv.URL("postgres"))
			if err != nil {
				b.Fatal(err)
			}
			defer admin.Close()
			if _, err := admin.ExecContext(b.Context(), "CREATE DATABASE "+name); err != nil {
				b.Fatal(err)
			}
			return open(b, srv.URL(name))
		})
	})
}
