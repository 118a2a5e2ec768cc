package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store"
)

// RunShared runs the cases that need several stores on one database:
// closing a store and opening the database again, and two stores (two
// processes, in production) at once. newDatabase makes a fresh, empty
// database for the test and returns open, which opens a new, migrated store
// on that database each time it is called and closes it in t.Cleanup
// (closing a store twice must be harmless).
func RunShared(t *testing.T, newDatabase func(t *testing.T) (open func(t *testing.T) store.Store)) {
	for _, tc := range sharedCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newDatabase(t))
		})
	}
}

var sharedCases = []struct {
	name string
	run  func(t *testing.T, open func(t *testing.T) store.Store)
}{
	{"AckedSurvivesReopen", func(t *testing.T, open func(t *testing.T) store.Store) {
		s := open(t)
		d := newDepartment(t, s, "Sales")
		ch := newChat(t, s, d, "hi")
		acks := appendConcurrently(t, s, ch, "c", 40)
		noErr(t, s.Close(), "Close")

		s = open(t)
		msgs := allMessages(t, s, ch.ID)
		equal(t, len(msgs), 41, "messages after reopening")
		wantContiguous(t, s, ch.ID, msgs)
		wantStored(t, msgs, acks)
		m, dup, err := s.AppendMessage(t.Context(), text(ch, "c-7", "message c-7"))
		if err != nil || !dup || m != acks[7] {
			t.Errorf("retry after reopening = %+v, %v, %v; want a duplicate of %+v", m, dup, err, acks[7])
		}
	}},

	{"CloseFlushes", func(t *testing.T, open func(t *testing.T) store.Store) {
		s := open(t)
		d := newDepartment(t, s, "Sales")
		ch := newChat(t, s, d, "")
		const n = 100
		acks := make([]switchboard.Message, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				acks[i], _, errs[i] = s.AppendMessage(t.Context(), text(ch, fmt.Sprintf("c-%d", i), "hi"))
			})
		}
		noErr(t, s.Close(), "Close")
		wg.Wait()
		var acked []switchboard.Message
		for i, err := range errs {
			switch {
			case err == nil:
				acked = append(acked, acks[i])
			case !errors.Is(err, switchboard.ErrUnavailable):
				t.Errorf("append %d racing Close: %v; want success or ErrUnavailable", i, err)
			}
		}
		s = open(t)
		msgs := allMessages(t, s, ch.ID)
		wantContiguous(t, s, ch.ID, msgs)
		wantStored(t, msgs, acked)
		if len(msgs) != len(acked) {
			t.Errorf("%d messages stored, %d acked", len(msgs), len(acked))
		}
	}},

	{"TwoStoresOneChat", func(t *testing.T, open func(t *testing.T) store.Store) {
		// Two processes append to one chat at once: seqs stay unique and
		// gap-free, and a retry through the other process is a duplicate.
		stores := []store.Store{open(t), open(t)}
		d := newDepartment(t, stores[0], "Sales")
		ch := newChat(t, stores[0], d, "")
		const writers, each = 16, 20
		acks := make([][]switchboard.Message, writers)
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for k := range each {
					// Each message goes to both stores at once: one of them
					// stores it, the other finds it.
					m := text(ch, fmt.Sprintf("w%d-%d", w, k), fmt.Sprintf("message %d of writer %d", k, w))
					var got [2]switchboard.Message
					var dups [2]bool
					var errs [2]error
					var both sync.WaitGroup
					for i, s := range stores {
						both.Go(func() { got[i], dups[i], errs[i] = s.AppendMessage(t.Context(), m) })
					}
					both.Wait()
					if errs[0] != nil || errs[1] != nil {
						t.Errorf("writer %d, message %d: %v, %v", w, k, errs[0], errs[1])
						return
					}
					if got[0] != got[1] || dups[0] == dups[1] {
						t.Errorf("writer %d, message %d: %+v (duplicate %v) and %+v (duplicate %v); want one message, one duplicate",
							w, k, got[0], dups[0], got[1], dups[1])
						return
					}
					acks[w] = append(acks[w], got[0])
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		for _, s := range stores {
			msgs := allMessages(t, s, ch.ID)
			equal(t, len(msgs), writers*each, "messages stored")
			wantContiguous(t, s, ch.ID, msgs)
			for _, l := range acks {
				wantStored(t, msgs, l)
			}
		}
	}},
}

// appendConcurrently appends n messages "prefix-i" to ch at once and
// returns them by i.
func appendConcurrently(t *testing.T, s store.Store, ch switchboard.Chat, prefix string, n int) []switchboard.Message {
	t.Helper()
	acks := make([]switchboard.Message, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			id := fmt.Sprintf("%s-%d", prefix, i)
			m, dup, err := s.AppendMessage(t.Context(), text(ch, id, "message "+id))
			if err != nil || dup {
				t.Errorf("AppendMessage %s: %v (duplicate %v)", id, err, dup)
			}
			acks[i] = m
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return acks
}

// wantStored checks that every acked message is in msgs as acked.
func wantStored(t *testing.T, msgs, acked []switchboard.Message) {
	t.Helper()
	bySeq := map[int64]switchboard.Message{}
	for _, m := range msgs {
		bySeq[m.Seq] = m
	}
	for _, a := range acked {
		if got, ok := bySeq[a.Seq]; !ok || got != a {
			t.Errorf("acked %+v; stored at its seq: %+v", a, got)
		}
	}
}
