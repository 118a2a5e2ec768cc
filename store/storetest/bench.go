package storetest

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store"
	"github.com/switchboard-chat/switchboard/store/sqlstore"
)

// BenchWriters are the numbers of concurrent writers BenchAppend runs with.
var BenchWriters = []int{1, 64, 1000}

// BenchAppend runs a sub-benchmark "writers=N" per BenchWriters on a fresh
// store of newStore each. N writers each append one message after the
// other, as N clients sending at once would: writer i to chat i mod 1000.
// An op is one acknowledged message. Besides ns/op it reports msgs/s (from
// the first append to the last ack) and, for stores with AppendStats, the
// mean number of messages per group commit (msgs/batch).
//
// Bodies are English chat lines; the sub-benchmarks "lang=ja/writers=N"
// send Japanese ones (they cost more where search indexes non-ASCII text).
func BenchAppend(b *testing.B, newStore func(b *testing.B) store.Store) {
	for _, n := range BenchWriters {
		b.Run(fmt.Sprintf("writers=%d", n), func(b *testing.B) { benchAppend(b, newStore(b), n, benchBodyEN) })
	}
	b.Run("lang=ja", func(b *testing.B) {
		for _, n := range BenchWriters {
			b.Run(fmt.Sprintf("writers=%d", n), func(b *testing.B) { benchAppend(b, newStore(b), n, benchBodyJA) })
		}
	})
}

// Chat lines of about the same length in characters.
var (
	benchBodyEN = strings.Repeat("Hello, how can I help you today? ", 3)
	benchBodyJA = strings.Repeat("ご注文の商品は明日発送いたします。お届けまで少々お待ちください。", 2)
)

// appendStatser is a store that counts its group commits.
type appendStatser interface {
	AppendStats() sqlstore.AppendStats
}

func benchAppend(b *testing.B, s store.Store, writers int, body string) {
	ctx := b.Context()
	d := newDepartment(b, s, "Bench")
	chats := make([]switchboard.Chat, min(writers, 1000))
	var wg sync.WaitGroup
	for w := range min(len(chats), 16) {
		wg.Go(func() {
			for i := w; i < len(chats); i += 16 {
				var err error
				chats[i], err = s.CreateChat(ctx, store.NewChat{DepartmentID: d.ID, Visitor: switchboard.Visitor{ID: switchboard.NewID()}})
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	work := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			m := store.NewMessage{ChatID: chats[w%len(chats)].ID, FromKind: switchboard.FromVisitor, FromID: "bench", FromName: "Bench", Body: body}
			prefix := strconv.Itoa(w) + "-"
			for i := 0; ; i++ {
				if _, ok := <-work; !ok {
					return
				}
				m.ClientMsgID = prefix + strconv.Itoa(i)
				if _, _, err := s.AppendMessage(ctx, m); err != nil {
					b.Error(err)
				}
			}
		})
	}
	stats, _ := s.(appendStatser)
	var before sqlstore.AppendStats
	if stats != nil {
		before = stats.AppendStats()
	}
	b.ReportAllocs()
	n := 0
	start := time.Now()
	for b.Loop() {
		work <- struct{}{}
		n++
	}
	close(work)
	wg.Wait()
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "msgs/s")
	if stats != nil {
		after := stats.AppendStats()
		if after.Batches > before.Batches {
			b.ReportMetric(float64(after.Appends-before.Appends)/float64(after.Batches-before.Batches), "msgs/batch")
		}
	}
}
