package clustertest

import (
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard/cluster"
)

// Bench runs the cluster benchmarks on a fresh harness each:
//
//   - publish-latency: one message at a time from node p to a subscriber on
//     node s; an op is publish → received. Reports p50-µs and p99-µs.
//   - publish-throughput: 8 goroutines publish to 100 chats, subscribed on
//     two nodes; an op is one publication, received on both. Reports msgs/s
//     (deliveries per second).
//   - reserve: parallel Reserve + Unreserve of a chat slot, 100 operators;
//     an op is the pair.
//   - lease: parallel Acquire + Release of distinct keys; an op is the pair.
func Bench(b *testing.B, newHarness func(t testing.TB) Harness) {
	b.Run("publish-latency", func(b *testing.B) { benchLatency(b, newHarness(b)) })
	b.Run("publish-throughput", func(b *testing.B) { benchThroughput(b, newHarness(b)) })
	b.Run("reserve", func(b *testing.B) { benchReserve(b, newHarness(b)) })
	b.Run("lease", func(b *testing.B) { benchLease(b, newHarness(b)) })
}

func benchLatency(b *testing.B, h Harness) {
	ctx := b.Context()
	p, s := h.Node(b, "p"), h.Node(b, "s")
	got := make(chan struct{}, 1)
	if _, err := s.Subscribe(ctx, "chat", func(cluster.Message) { got <- struct{}{} }); err != nil {
		b.Fatal(err)
	}
	msg := []byte(`{"type":"message","chat_id":"chat","seq":1,"body":"Hello, how can I help you today?"}`)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		if err := p.Publish(ctx, "chat", msg); err != nil {
			b.Fatal(err)
		}
		select {
		case <-got:
		case <-time.After(wait):
			b.Fatal("message not delivered")
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	}
}

func benchThroughput(b *testing.B, h Harness) {
	ctx := b.Context()
	p := h.Node(b, "p")
	subs := []cluster.Node{h.Node(b, "s1"), h.Node(b, "s2")}
	var received atomic.Int64
	done := make(chan struct{}, 1)
	var want atomic.Int64
	for _, s := range subs {
		for c := range 100 {
			if _, err := s.Subscribe(ctx, "chat"+strconv.Itoa(c), func(cluster.Message) {
				if received.Add(1) == want.Load() {
					done <- struct{}{}
				}
			}); err != nil {
				b.Fatal(err)
			}
		}
	}
	msg := []byte(`{"type":"message","chat_id":"chat","seq":1,"body":"Hello, how can I help you today?"}`)
	want.Store(int64(b.N * len(subs)))
	var next atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				if err := p.Publish(ctx, "chat"+strconv.Itoa(int(i%100)), msg); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	select {
	case <-done:
	case <-time.After(wait):
		b.Fatalf("received %d of %d", received.Load(), want.Load())
	}
	b.StopTimer()
	b.ReportMetric(float64(want.Load())/time.Since(start).Seconds(), "msgs/s")
}

func benchReserve(b *testing.B, h Harness) {
	ctx := b.Context()
	n := h.Node(b, "n")
	var id atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := id.Add(1)
		op := "op" + strconv.Itoa(int(i%100))
		chat := "chat" + strconv.Itoa(int(i))
		for pb.Next() {
			if _, err := n.Reserve(ctx, op, chat, 1000, 0); err != nil {
				b.Error(err)
				return
			}
			if err := n.Unreserve(ctx, op, chat); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func benchLease(b *testing.B, h Harness) {
	ctx := b.Context()
	n := h.Node(b, "n")
	var id atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			key := "chat" + strconv.Itoa(int(id.Add(1)))
			l, ok, err := n.Acquire(ctx, key, time.Minute)
			if err != nil || !ok {
				b.Errorf("Acquire = %v, %v", ok, err)
				return
			}
			if err := n.Release(ctx, l); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
