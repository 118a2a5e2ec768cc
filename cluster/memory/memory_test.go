package memory_test

import (
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchboard-chat/switchboard/cluster"
	"github.com/switchboard-chat/switchboard/cluster/clustertest"
	"github.com/switchboard-chat/switchboard/cluster/memory"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newHarness(t testing.TB) clustertest.Harness {
	clock := &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	const ttl = 10 * time.Second
	b := memory.New(memory.Config{TTL: ttl, Interval: -1, Now: clock.Now})
	return clustertest.Harness{
		Node: func(t testing.TB, id string) cluster.Node {
			n, err := b.Node(id)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { n.Close() })
			return n
		},
		Advance: clock.Advance,
		TTL:     ttl,
	}
}

func TestConformance(t *testing.T) { clustertest.Run(t, newHarness) }

// The background loop heartbeats and sweeps on the real clock.
func TestBackgroundLoop(t *testing.T) {
	ctx := t.Context()
	b := memory.New(memory.Config{TTL: 300 * time.Millisecond, Interval: 50 * time.Millisecond})
	live, err := b.Node("live")
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	dying, err := b.Node("dying")
	if err != nil {
		t.Fatal(err)
	}
	gone := make(chan cluster.Event, 10)
	live.Events(ctx, func(e cluster.Event) {
		if e.Kind == cluster.EventOperatorGone {
			gone <- e
		}
	})
	if err := dying.PutOperator(ctx, cluster.OperatorPresence{OperatorID: "op"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // past the TTL: the loop keeps it alive
	if _, ok, _ := live.Operator(ctx, "op"); !ok {
		t.Fatal("operator of a heartbeating node expired")
	}
	start := time.Now()
	dying.Close() // dies without leaving
	select {
	case e := <-gone:
		if !e.Expired || e.Operator.OperatorID != "op" {
			t.Errorf("event %+v", e)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("gone after %v, want about the TTL (300ms)", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no operator.gone after the node died")
	}
	if _, err := b.Node("live"); err == nil {
		t.Error("opening an open node id again succeeded")
	}
	if err := dying.PutOperator(ctx, cluster.OperatorPresence{OperatorID: "x"}); err != cluster.ErrClosed {
		t.Errorf("PutOperator after Close = %v, want ErrClosed", err)
	}
}

func BenchmarkCluster(b *testing.B) { clustertest.Bench(b, newHarness) }
