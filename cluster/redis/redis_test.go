package redis_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/cluster"
	"github.com/switchboard-chat/switchboard/cluster/clustertest"
	clusterredis "github.com/switchboard-chat/switchboard/cluster/redis"
	"github.com/switchboard-chat/switchboard/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// testTTL is short so that expiry tests take about a second, and long
// enough for the operations between heartbeats under -race.
const testTTL = 400 * time.Millisecond

// open starts a node on its own client.
func open(t testing.TB, url, prefix, id string, cfg clusterredis.Config) *clusterredis.Node {
	t.Helper()
	c, err := clusterredis.NewClient(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Client, cfg.Node, cfg.Prefix = c, id, prefix
	n, err := clusterredis.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		n.Close()
		c.Close()
	})
	return n
}

func TestConformance(t *testing.T) {
	clustertest.Run(t, func(t testing.TB) clustertest.Harness {
		url, prefix := testenv.Redis(t)
		return clustertest.Harness{
			Node: func(t testing.TB, id string) cluster.Node {
				return open(t, url, prefix, id, clusterredis.Config{TTL: testTTL, Interval: -1})
			},
			Advance: time.Sleep,
			TTL:     testTTL,
		}
	})
}

// TestOutage kills Redis under two nodes, checks that operations fail
// promptly with ErrUnavailable and Ping says so, then starts it again
// (empty, on the same port) and checks that the bus delivers again and the
// nodes resync without a restart.
func TestOutage(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	srv := testenv.StartRedis(t)
	cfg := clusterredis.Config{TTL: time.Second, Interval: 100 * time.Millisecond, Retry: 50 * time.Millisecond, OpTimeout: time.Second}
	n1 := open(t, srv.URL(), "sb:", "n1", cfg)
	n2 := open(t, srv.URL(), "sb:", "n2", cfg)
	resync := make(chan cluster.Event, 10)
	if err := n1.Events(ctx, func(e cluster.Event) {
		if e.Kind == cluster.EventResync {
			resync <- e
		}
	}); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1000)
	if _, err := n1.Subscribe(ctx, "chat", func(m cluster.Message) { got <- string(m.Data) }); err != nil {
		t.Fatal(err)
	}
	waitPing(t, n1, true)
	waitPing(t, n2, true)
	deliver(t, n2, got, "before")

	srv.Stop()
	for name, op := range map[string]func() error{
		"Publish": func() error { return n2.Publish(ctx, "chat", []byte("lost")) },
		"Reserve": func() error { _, err := n2.Reserve(ctx, "op", "c", 1, 0); return err },
		"Acquire": func() error { _, _, err := n2.Acquire(ctx, "k", time.Second); return err },
		"PutOperator": func() error {
			return n2.PutOperator(ctx, cluster.OperatorPresence{OperatorID: "op"})
		},
		"OperatorsIn": func() error { _, err := n2.OperatorsIn(ctx, "d"); return err },
		"Subscribe": func() error {
			_, err := n2.Subscribe(ctx, "other", func(cluster.Message) {})
			return err
		},
	} {
		start := time.Now()
		err := op()
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s during the outage took %v", name, d)
		}
		if !errors.Is(err, cluster.ErrUnavailable) || !errors.Is(err, switchboard.ErrUnavailable) {
			t.Errorf("%s during the outage = %v, want ErrUnavailable", name, err)
		}
	}
	waitPing(t, n1, false)
	// A node starting during the outage starts (its Redis work waits).
	start := time.Now()
	n3 := open(t, srv.URL(), "sb:", "n3", cfg)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("New during the outage took %v", d)
	}
	if err := n3.Ping(ctx); !errors.Is(err, cluster.ErrUnavailable) {
		t.Errorf("Ping of a node started during the outage = %v, want ErrUnavailable", err)
	}

	srv.Start() // empty: memberships, presence and leases are gone
	waitPing(t, n1, true)
	select {
	case <-resync:
	case <-time.After(10 * time.Second):
		t.Fatal("no resync event after Redis came back")
	}
	// n1 rejoined its chat: n2's publications reach it again.
	deliver(t, n2, got, "after")
	// The node started during the outage joins the bus.
	waitPing(t, n3, true)
	got3 := make(chan string, 1000)
	if _, err := n3.Subscribe(ctx, "chat", func(m cluster.Message) { got3 <- string(m.Data) }); err != nil {
		t.Fatal(err)
	}
	deliver(t, n2, got3, "late")
	// And the shared state works again: presence, counters, leases.
	if err := n1.PutOperator(ctx, cluster.OperatorPresence{OperatorID: "op", DepartmentIDs: []string{"d"}}); err != nil {
		t.Fatal(err)
	}
	if p, ok, err := n2.Operator(ctx, "op"); err != nil || !ok || p.Node != "n1" {
		t.Errorf("after recovery: Operator = %+v, %v, %v", p, ok, err)
	}
	if _, ok, err := n2.Acquire(ctx, "k", time.Second); err != nil || !ok {
		t.Errorf("after recovery: Acquire = %v, %v", ok, err)
	}
}

// waitPing waits until n's Ping succeeds (up) or fails (!up).
func waitPing(t *testing.T, n cluster.Node, up bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := n.Ping(t.Context())
		if (err == nil) == up {
			if !up && !errors.Is(err, cluster.ErrUnavailable) {
				t.Errorf("Ping = %v, want ErrUnavailable", err)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Ping still %v after 10s, want up=%v", err, up)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// deliver publishes from n until a message tagged tag reaches got (the
// first publications after a recovery may be refused while the pool
// reconnects, or go out before the subscriber rejoined).
func deliver(t *testing.T, n cluster.Node, got chan string, tag string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		err := n.Publish(t.Context(), "chat", []byte(tag+strconv.Itoa(i)))
		if err == nil {
			wait := time.After(200 * time.Millisecond)
		drain:
			for {
				select {
				case m := <-got:
					if strings.HasPrefix(m, tag) {
						return
					}
				case <-wait:
					break drain
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q message delivered within 10s (last publish error: %v)", tag, err)
		}
	}
}

func BenchmarkCluster(b *testing.B) {
	clustertest.Bench(b, func(t testing.TB) clustertest.Harness {
		url, prefix := testenv.Redis(t)
		return clustertest.Harness{
			Node: func(t testing.TB, id string) cluster.Node {
				return open(t, url, prefix, id, clusterredis.Config{Interval: -1})
			},
			Advance: time.Sleep,
			TTL:     clusterredis.DefaultTTL,
		}
	})
}

// BenchmarkDesign compares the bus as built (node channels, chat
// membership in sets, a publish script) with the alternative of one Redis
// channel per chat, on what differs: joining a chat, publishing, and
// putting 10,000 chats back after a reconnect. See ARCHITECTURE.md.
func BenchmarkDesign(b *testing.B) {
	url, prefix := testenv.Redis(b)
	ctx := b.Context()
	raw, err := clusterredis.NewClient(url)
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	msg := []byte(`{"type":"message","chat_id":"chat","seq":1,"body":"Hello, how can I help you today?"}`)

	b.Run("join/per-node", func(b *testing.B) {
		n := open(b, url, prefix, "j", clusterredis.Config{Interval: -1})
		i := 0
		for b.Loop() {
			i++
			unsub, err := n.Subscribe(ctx, "join"+strconv.Itoa(i), func(cluster.Message) {})
			if err != nil {
				b.Fatal(err)
			}
			if err := unsub(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("join/per-chat-channel", func(b *testing.B) {
		ps := raw.Subscribe(ctx)
		defer ps.Close()
		i := 0
		for b.Loop() {
			i++
			ch := prefix + "chat:" + strconv.Itoa(i)
			// Confirmed before returning, as a gap-free resume needs.
			if err := ps.Subscribe(ctx, ch); err != nil {
				b.Fatal(err)
			}
			if _, err := ps.Receive(ctx); err != nil {
				b.Fatal(err)
			}
			if err := ps.Unsubscribe(ctx, ch); err != nil {
				b.Fatal(err)
			}
			if _, err := ps.Receive(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("publish/per-chat-channel", func(b *testing.B) {
		ps := raw.Subscribe(ctx, prefix+"chat:pub")
		defer ps.Close()
		if _, err := ps.Receive(ctx); err != nil {
			b.Fatal(err)
		}
		pub, err := clusterredis.NewClient(url)
		if err != nil {
			b.Fatal(err)
		}
		defer pub.Close()
		for b.Loop() {
			if err := pub.Publish(ctx, prefix+"chat:pub", msg).Err(); err != nil {
				b.Fatal(err)
			}
			if _, err := ps.ReceiveMessage(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("publish-call/per-node", func(b *testing.B) {
		// The publish script alone, to one joined node (no receive).
		p := open(b, url, prefix, "pc", clusterredis.Config{Interval: -1})
		s := open(b, url, prefix, "sc", clusterredis.Config{Interval: -1})
		if _, err := s.Subscribe(ctx, "pc", func(cluster.Message) {}); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if err := p.Publish(ctx, "pc", msg); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("publish-call/per-chat-channel", func(b *testing.B) {
		ps := raw.Subscribe(ctx, prefix+"chat:pc")
		defer ps.Close()
		if _, err := ps.Receive(ctx); err != nil {
			b.Fatal(err)
		}
		go func() {
			for {
				if _, err := ps.Receive(ctx); err != nil {
					return
				}
			}
		}()
		for b.Loop() {
			if err := raw.Publish(ctx, prefix+"chat:pc", msg).Err(); err != nil {
				b.Fatal(err)
			}
		}
	})
	const chats = 10000
	b.Run("rejoin-10k/per-node", func(b *testing.B) {
		n := open(b, url, prefix, "r", clusterredis.Config{Interval: -1})
		for i := range chats {
			if _, err := n.Subscribe(ctx, "r"+strconv.Itoa(i), func(cluster.Message) {}); err != nil {
				b.Fatal(err)
			}
		}
		b.ResetTimer()
		for b.Loop() {
			// What a resync after Redis lost its data does: the heartbeat
			// finds the node gone and puts its 10,000 memberships back.
			b.StopTimer()
			if err := raw.ZRem(ctx, prefix+"nodes", "r").Err(); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if err := n.Heartbeat(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("rejoin-10k/per-chat-channel", func(b *testing.B) {
		names := make([]string, chats)
		for i := range names {
			names[i] = prefix + "rc:" + strconv.Itoa(i)
		}
		for b.Loop() {
			ps := raw.Subscribe(ctx)
			if err := ps.Subscribe(ctx, names...); err != nil {
				b.Fatal(err)
			}
			for range chats {
				if _, err := ps.Receive(ctx); err != nil {
					b.Fatal(err)
				}
			}
			ps.Close()
		}
	})
}

// Close stops every goroutine the node started.
func TestCloseStopsGoroutines(t *testing.T) {
	url, prefix := testenv.Redis(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	c, err := clusterredis.NewClient(url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	n, err := clusterredis.New(clusterredis.Config{Client: c, Node: "n", Prefix: prefix, TTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan struct{}, 1)
	if _, err := n.Subscribe(t.Context(), "chat", func(cluster.Message) { got <- struct{}{} }); err != nil {
		t.Fatal(err)
	}
	if err := n.Publish(t.Context(), "chat", []byte("x")); err != nil {
		t.Fatal(err)
	}
	<-got
	n.Close()
	if err := n.Publish(t.Context(), "chat", []byte("x")); !errors.Is(err, cluster.ErrClosed) {
		t.Errorf("Publish after Close = %v, want ErrClosed", err)
	}
}

// With background heartbeats and sweeps, a node that dies (closed without
// leaving, as after SIGKILL) has its operators declared gone by a
// survivor about one TTL later, with no test driving it.
func TestBackgroundExpiry(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url, prefix := testenv.Redis(t)
	cfg := clusterredis.Config{TTL: 600 * time.Millisecond}
	live := open(t, url, prefix, "live", cfg)
	dying := open(t, url, prefix, "dying", cfg)
	gone := make(chan cluster.Event, 10)
	if err := live.Events(ctx, func(e cluster.Event) {
		if e.Kind == cluster.EventOperatorGone {
			gone <- e
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := dying.PutOperator(ctx, cluster.OperatorPresence{OperatorID: "op", DepartmentIDs: []string{"d"}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // past the TTL: heartbeats keep it
	if _, ok, err := live.Operator(ctx, "op"); err != nil || !ok {
		t.Fatalf("operator of a heartbeating node: %v, %v", ok, err)
	}
	dying.Close()
	start := time.Now()
	select {
	case e := <-gone:
		if !e.Expired || e.Operator.OperatorID != "op" || e.Operator.Node != "dying" {
			t.Errorf("event %+v", e)
		}
		// At most a TTL since the last beat, plus a sweep interval.
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("gone after %v", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no operator.gone after the node died")
	}
}
