package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver of the raw pool

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/internal/testenv"
	"github.com/switchboard-chat/switchboard/store"
	"github.com/switchboard-chat/switchboard/store/postgres"
	"github.com/switchboard-chat/switchboard/store/sqlite"
	"github.com/switchboard-chat/switchboard/store/sqlstore"
	"github.com/switchboard-chat/switchboard/store/storetest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// backend opens stores of one dialect, with a raw pool on the same
// database to inject faults with.
type backend struct {
	name string
	open func(t testing.TB, gc sqlstore.GroupCommit) (*sqlstore.DB, *sql.DB)
	// failAppends makes every update of chats.last_seq fail: the last
	// statement of a batch, after its inserts. stopFailing undoes it.
	failAppends, stopFailing string
}

var backends = []backend{
	{
		name: "sqlite",
		open: func(t testing.TB, gc sqlstore.GroupCommit) (*sqlstore.DB, *sql.DB) {
			path := filepath.Join(t.TempDir(), "switchboard.db")
			db, err := sqlite.OpenOptions(t.Context(), path, sqlite.Options{GroupCommit: gc})
			if err != nil {
				t.Fatalf("sqlite.Open: %v", err)
			}
			t.Cleanup(func() { db.Close() })
			raw, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { raw.Close() })
			return db.DB, raw
		},
		failAppends: `CREATE TRIGGER fail_appends BEFORE UPDATE OF last_seq ON chats
			BEGIN SELECT RAISE(ABORT, 'injected failure'); END`,
		stopFailing: `DROP TRIGGER fail_appends`,
	},
	{
		name: "postgres",
		open: func(t testing.TB, gc sqlstore.GroupCommit) (*sqlstore.DB, *sql.DB) {
			url := testenv.PostgresURL(t)
			db, err := postgres.OpenOptions(t.Context(), url, postgres.Options{GroupCommit: gc})
			if err != nil {
				t.Fatalf("postgres.Open: %v", err)
			}
			t.Cleanup(func() { db.Close() })
			raw, err := sql.Open("pgx", url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { raw.Close() })
			return db.DB, raw
		},
		failAppends: `CREATE FUNCTION fail_appends() RETURNS trigger LANGUAGE plpgsql AS
				$$ BEGIN RAISE EXCEPTION 'injected failure'; END $$;
			CREATE TRIGGER fail_appends BEFORE UPDATE OF last_seq ON chats
				FOR EACH ROW EXECUTE FUNCTION fail_appends()`,
		stopFailing: `DROP TRIGGER fail_appends ON chats`,
	},
}

// eachBackend runs f as a parallel subtest per backend.
func eachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			f(t, b)
		})
	}
}

// fixture makes a department and n chats.
func fixture(t *testing.T, db *sqlstore.DB, n int) []switchboard.Chat {
	t.Helper()
	d := switchboard.Department{Name: "Sales"}
	if err := db.CreateDepartment(t.Context(), &d); err != nil {
		t.Fatal(err)
	}
	chats := make([]switchboard.Chat, n)
	for i := range chats {
		var err error
		chats[i], err = db.CreateChat(t.Context(), store.NewChat{DepartmentID: d.ID,
			Visitor: switchboard.Visitor{ID: switchboard.NewID()}})
		if err != nil {
			t.Fatal(err)
		}
	}
	return chats
}

func msg(chatID, clientMsgID, body string) store.NewMessage {
	return store.NewMessage{ChatID: chatID, ClientMsgID: clientMsgID, FromKind: switchboard.FromVisitor, FromID: "v", Body: body}
}

type result struct {
	m   switchboard.Message
	dup bool
	err error
}

// appendHeld makes the appends of ms while the writer is held, so that they
// make one batch, and returns their results in order.
func appendHeld(t *testing.T, db *sqlstore.DB, ms []store.NewMessage, beforeRelease func()) []result {
	t.Helper()
	release := db.HoldAppends()
	defer release()
	out := make([]result, len(ms))
	done := make(chan int)
	for i, m := range ms {
		go func() {
			r := &out[i]
			r.m, r.dup, r.err = db.AppendMessage(t.Context(), m)
			done <- i
		}()
		// One at a time, so that the queue keeps the order of ms.
		waitFor(t, func() bool { return db.QueuedAppends() == i+1 }, "append %d to queue", i)
	}
	if beforeRelease != nil {
		beforeRelease()
	}
	release()
	for range ms {
		<-done
	}
	return out
}

func waitFor(t *testing.T, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for "+format, args...)
		}
		time.Sleep(time.Millisecond)
	}
}

// One batch: each kind of answer, in the order the appends were made.
func TestAppendBatch(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		db, _ := b.open(t, sqlstore.GroupCommit{})
		chats := fixture(t, db, 2)
		c1, c2 := chats[0].ID, chats[1].ID
		old, _, err := db.AppendMessage(t.Context(), msg(c1, "old", "stored before"))
		if err != nil {
			t.Fatal(err)
		}
		before := db.AppendStats()
		res := appendHeld(t, db, []store.NewMessage{
			msg(c1, "a", "first"),           // 0: seq 2
			msg(c2, "a", "first"),           // 1: seq 1 of the other chat
			msg(c1, "a", "first"),           // 2: duplicate of 0, in the same batch
			msg(c1, "a", "changed"),         // 3: conflict with 0
			msg("no-such-chat", "a", "x"),   // 4: not found
			msg(c1, "old", "stored before"), // 5: duplicate of the stored one
			msg(c1, "old", "changed"),       // 6: conflict with the stored one
			msg(c1, "b", "second"),          // 7: seq 3
		}, nil)
		after := db.AppendStats()
		if got := after.Batches - before.Batches; got != 1 {
			t.Errorf("%d batches; want 1", got)
		}
		if got := after.Appends - before.Appends; got != 8 {
			t.Errorf("%d appends in the batch; want 8", got)
		}

		wantMsg := func(i int, chatID string, seq int64, dup bool) {
			t.Helper()
			r := res[i]
			if r.err != nil || r.m.ChatID != chatID || r.m.Seq != seq || r.dup != dup {
				t.Errorf("append %d = %+v, duplicate %v, %v; want seq %d of %s, duplicate %v", i, r.m, r.dup, r.err, seq, chatID, dup)
			}
		}
		wantMsg(0, c1, 2, false)
		wantMsg(1, c2, 1, false)
		wantMsg(2, c1, 2, true)
		if res[2].m != res[0].m {
			t.Errorf("the duplicate in the batch = %+v; want %+v", res[2].m, res[0].m)
		}
		wantMsg(5, c1, 1, true)
		if res[5].m != old {
			t.Errorf("the duplicate of a stored message = %+v; want %+v", res[5].m, old)
		}
		wantMsg(7, c1, 3, false)
		for _, i := range []int{3, 6} {
			var ce *switchboard.ConflictError
			if !errors.As(res[i].err, &ce) || ce.Field != "client_msg_id" {
				t.Errorf("append %d: %v; want a ConflictError for client_msg_id", i, res[i].err)
			}
		}
		if !errors.Is(res[4].err, switchboard.ErrNotFound) {
			t.Errorf("append to an unknown chat: %v; want ErrNotFound", res[4].err)
		}
		if res[0].m.At != res[7].m.At {
			t.Errorf("messages of one batch have times %v and %v", res[0].m.At, res[7].m.At)
		}

		for id, want := range map[string]int64{c1: 3, c2: 1} {
			ch, err := db.Chat(t.Context(), id)
			if err != nil || ch.LastSeq != want {
				t.Errorf("last_seq of %s = %d, %v; want %d", id, ch.LastSeq, err, want)
			}
			msgs, err := db.Messages(t.Context(), id, 0, 10)
			if err != nil || len(msgs) != int(want) {
				t.Errorf("chat %s has %d messages, %v; want %d", id, len(msgs), err, want)
			}
		}
	})
}

// A batch whose transaction fails fails every append in it, stores
// nothing of it, and the next batches go on from the same last_seq.
func TestAppendBatchFails(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		db, raw := b.open(t, sqlstore.GroupCommit{})
		chats := fixture(t, db, 2)
		c1, c2 := chats[0].ID, chats[1].ID
		if _, _, err := db.AppendMessage(t.Context(), msg(c1, "old", "stored before")); err != nil {
			t.Fatal(err)
		}
		ms := []store.NewMessage{msg(c1, "a", "x"), msg(c2, "a", "x"), msg(c1, "b", "x"), msg(c1, "old", "stored before")}
		res := appendHeld(t, db, ms, func() {
			if _, err := raw.ExecContext(t.Context(), b.failAppends); err != nil {
				t.Fatalf("install the failing trigger: %v", err)
			}
		})
		for i, r := range res {
			if r.err == nil || errors.Is(r.err, switchboard.ErrNotFound) || errors.Is(r.err, switchboard.ErrConflict) {
				t.Errorf("append %d in a failed batch: %+v, %v; want the batch's error", i, r.m, r.err)
			}
		}
		if _, err := raw.ExecContext(t.Context(), b.stopFailing); err != nil {
			t.Fatal(err)
		}
		for id, want := range map[string]int64{c1: 1, c2: 0} {
			ch, err := db.Chat(t.Context(), id)
			if err != nil || ch.LastSeq != want {
				t.Errorf("after the failed batch, last_seq of %s = %d, %v; want %d", id, ch.LastSeq, err, want)
			}
			var n int64
			if err := raw.QueryRowContext(t.Context(), "SELECT count(*) FROM messages WHERE chat_id = '"+id+"'").Scan(&n); err != nil || n != want {
				t.Errorf("after the failed batch, chat %s has %d messages, %v; want %d", id, n, err, want)
			}
		}
		if got := db.AppendStats().Failed; got != 1 {
			t.Errorf("AppendStats().Failed = %d; want 1", got)
		}

		// Retried, they go through.
		res = appendHeld(t, db, ms, nil)
		for i, want := range []int64{2, 1, 3, 1} {
			if res[i].err != nil || res[i].m.Seq != want {
				t.Errorf("retry %d = seq %d, %v; want seq %d", i, res[i].m.Seq, res[i].err, want)
			}
		}
	})
}

// Close commits what is queued before it closes the connections.
func TestCloseFlushes(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		db, raw := b.open(t, sqlstore.GroupCommit{})
		c := fixture(t, db, 1)[0].ID
		closed := make(chan error, 1)
		var ms []store.NewMessage
		for i := range 10 {
			ms = append(ms, msg(c, fmt.Sprint(i), "x"))
		}
		res := appendHeld(t, db, ms, func() {
			go func() { closed <- db.Close() }()
			select {
			case err := <-closed:
				t.Fatalf("Close returned (%v) with appends queued", err)
			case <-time.After(50 * time.Millisecond):
			}
		})
		if err := <-closed; err != nil {
			t.Errorf("Close: %v", err)
		}
		for i, r := range res {
			if r.err != nil || r.m.Seq != int64(i+1) {
				t.Errorf("append %d queued before Close: seq %d, %v; want seq %d", i, r.m.Seq, r.err, i+1)
			}
		}
		_, _, err := db.AppendMessage(t.Context(), msg(c, "late", "x"))
		if !errors.Is(err, switchboard.ErrUnavailable) {
			t.Errorf("AppendMessage after Close: %v; want ErrUnavailable", err)
		}
		var n int
		if err := raw.QueryRowContext(t.Context(), "SELECT last_seq FROM chats WHERE id = '"+c+"'").Scan(&n); err != nil || n != 10 {
			t.Errorf("last_seq after Close = %d, %v; want 10", n, err)
		}
	})
}

// With MaxDelay, a batch waits for more appends until it is full.
func TestMaxDelay(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		db, _ := b.open(t, sqlstore.GroupCommit{MaxBatch: 2, MaxDelay: 10 * time.Second, Writers: 1})
		c := fixture(t, db, 1)[0].ID
		first := make(chan result, 1)
		release := db.HoldAppends()
		go func() {
			var r result
			r.m, r.dup, r.err = db.AppendMessage(t.Context(), msg(c, "1", "x"))
			first <- r
		}()
		waitFor(t, func() bool { return db.QueuedAppends() == 1 }, "the first append to queue")
		release()
		waitFor(t, func() bool { return db.QueuedAppends() == 0 }, "the writer to take the first append")
		time.Sleep(20 * time.Millisecond)
		select {
		case r := <-first:
			t.Fatalf("the first append returned (%+v) before its batch was full or MaxDelay passed", r)
		default:
		}
		if _, _, err := db.AppendMessage(t.Context(), msg(c, "2", "x")); err != nil {
			t.Fatal(err)
		}
		if r := <-first; r.err != nil || r.m.Seq != 1 {
			t.Errorf("first append: %+v, %v", r.m, r.err)
		}
		if st := db.AppendStats(); st.Batches != 1 || st.Appends != 2 {
			t.Errorf("AppendStats = %+v; want one batch of 2", st)
		}
	})
}

// A batch that cannot finish in time fails with ErrUnavailable instead of
// holding every later append up.
func TestBatchTimeout(t *testing.T) {
	t.Parallel()
	b := backends[1] // PostgreSQL: another transaction can hold the chat's row lock
	db, raw := b.open(t, sqlstore.GroupCommit{Timeout: 300 * time.Millisecond})
	chats := fixture(t, db, 2)
	tx, err := raw.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(t.Context(), "SELECT 1 FROM chats WHERE id = $1 FOR UPDATE", chats[0].ID); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, _, err = db.AppendMessage(ctx, msg(chats[0].ID, "1", "x"))
	if !errors.Is(err, switchboard.ErrUnavailable) {
		t.Errorf("append to a chat locked longer than the batch timeout: %v; want ErrUnavailable", err)
	}
	tx.Rollback()
	for _, c := range chats {
		if m, _, err := db.AppendMessage(ctx, msg(c.ID, "1", "x")); err != nil || m.Seq != 1 {
			t.Errorf("append after the lock is gone: seq %d, %v; want 1", m.Seq, err)
		}
	}
}

// BenchmarkGroupCommit compares settings of the group commit on the
// workload of BenchmarkAppend (see storetest.BenchAppend), e.g.
//
//	go test -run='^$' -bench='GroupCommit/backend=postgres/.*/writers=1000' ./store/sqlstore
func BenchmarkGroupCommit(b *testing.B) {
	for _, be := range backends {
		committers := []int{1}
		if be.name == "postgres" {
			committers = []int{1, 2, 4}
		}
		for _, c := range committers {
			for _, size := range []int{256, 1024} {
				for _, delay := range []time.Duration{0, 2 * time.Millisecond} {
					gc := sqlstore.GroupCommit{MaxBatch: size, MaxDelay: delay, Writers: c}
					name := fmt.Sprintf("backend=%s/committers=%d/maxbatch=%d/delay=%v", be.name, c, size, delay)
					b.Run(name, func(b *testing.B) {
						storetest.BenchAppend(b, func(b *testing.B) store.Store {
							db, _ := be.open(b, gc)
							return db
						})
					})
				}
			}
		}
	}
}
