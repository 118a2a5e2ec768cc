package router_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/router"
)

// TestCloseWithRealClock runs on the real clock: Close leaves no timer
// pending and no goroutine behind. It does not call t.Parallel, so that
// nothing else runs while it looks for goroutines.
func TestCloseWithRealClock(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t, goleak.IgnoreCurrent()) }) // after the store closed
	st := openBackend(t, "sqlite")
	h := &harness{t: t, ctx: t.Context(), st: st, rec: &recorder{}, names: map[string]string{}, ids: map[string]string{}}
	clock := &trackingClock{}
	r, err := router.New(router.Config{Store: st, Notifier: h.rec, Clock: clock, Grace: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	h.r = r
	if err := r.Start(h.ctx); err != nil {
		t.Fatal(err)
	}
	h.operator("alice", 5)
	h.operator("bob", 5)
	h.department("sales", broadcast, 5, 10, "alice", "bob")
	h.connect("alice")
	h.connect("bob")
	h.startChat("c1", "sales")
	h.startChat("c2", "sales")
	h.r.Disconnect(h.id("bob"))
	if clock.pending() == 0 {
		t.Fatal("no timers pending before Close")
	}
	r.Close()
	if n := clock.pending(); n != 0 {
		t.Fatalf("%d timers pending after Close", n)
	}
	// Every timer was stopped before it fired: no callback can come.
}

// trackingClock is the real clock, counting the timers neither fired nor stopped.
type trackingClock struct {
	mu     sync.Mutex
	timers []*trackedTimer
}

type trackedTimer struct {
	t       *time.Timer
	fired   atomic.Bool
	stopped atomic.Bool
}

func (c *trackingClock) Now() time.Time { return time.Now() }

func (c *trackingClock) AfterFunc(d time.Duration, f func()) router.Timer {
	tt := &trackedTimer{}
	tt.t = time.AfterFunc(d, func() {
		tt.fired.Store(true)
		f()
	})
	c.mu.Lock()
	c.timers = append(c.timers, tt)
	c.mu.Unlock()
	return tt
}

func (t *trackedTimer) Stop() bool {
	ok := t.t.Stop()
	if ok {
		t.stopped.Store(true)
	}
	return ok
}

func (c *trackingClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if !t.fired.Load() && !t.stopped.Load() {
			n++
		}
	}
	return n
}

// churnNotifier hands offers to the operators' goroutines.
type churnNotifier struct {
	offers map[string]chan string // operator id → offered chat ids
	mu     sync.Mutex
	assign map[string]int // chat id → Assigned minus Requeued
	bad    []string
}

func (n *churnNotifier) Offer(opID string, o router.Offer) {
	select {
	case n.offers[opID] <- o.Chat.ID:
	default:
	}
}
func (n *churnNotifier) RevokeOffer(string, string, string) {}
func (n *churnNotifier) Assigned(c switchboard.Chat, op switchboard.Operator) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.assign[c.ID]++
	if n.assign[c.ID] > 1 {
		n.bad = append(n.bad, "chat "+c.ID+" assigned twice without a requeue")
	}
}
func (n *churnNotifier) Missed(switchboard.Chat) {}
func (n *churnNotifier) Requeued(c switchboard.Chat, _ switchboard.Operator) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.assign[c.ID]--
}
func (n *churnNotifier) QueueChanged(string, int, []string) {}

// TestConcurrentChurn lets operators connect, disconnect, change status,
// accept, decline and end chats while visitors start chats and time runs,
// all at once; then the router's view must match the store's.
func TestConcurrentChurn(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := openBackend(t, "sqlite")
	clock := newFakeClock(time.Now())
	n := &churnNotifier{offers: map[string]chan string{}, assign: map[string]int{}}
	h := &harness{t: t, ctx: ctx, st: st, clock: clock, rec: &recorder{}, names: map[string]string{}, ids: map[string]string{}}
	var ops []string
	for _, name := range []string{"alice", "bob", "carol", "dave"} {
		id := h.operator(name, 2)
		ops = append(ops, id)
		n.offers[id] = make(chan string, 64)
	}
	h.department("auto", auto, 10, 40, "alice", "bob", "carol")
	h.department("bcast", broadcast, 10, 40, "bob", "carol", "dave")
	r, err := router.New(router.Config{Store: st, Notifier: n, Clock: clock, Grace: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}

	for _, op := range ops {
		if _, err := r.Connect(ctx, op); err != nil {
			t.Fatal(err)
		}
	}
	const rounds = 100
	var wg sync.WaitGroup
	fail := func(format string, err error) {
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf(format, err)
		}
	}
	wg.Go(func() { // time
		for range rounds * 2 {
			clock.Advance(time.Second)
			time.Sleep(time.Millisecond)
		}
	})
	wg.Go(func() { // visitors
		for i := range rounds {
			dept := h.id("auto")
			if i%2 == 1 {
				dept = h.id("bcast")
			}
			_, err := r.StartChat(ctx, newChat(dept))
			fail("StartChat: %v", err)
			time.Sleep(time.Millisecond)
		}
	})
	for i, op := range ops {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			conns := 1
			for range rounds * 2 {
				time.Sleep(200 * time.Microsecond)
				switch k := rng.IntN(20); {
				case k == 0 && conns > 0:
					r.Disconnect(op)
					conns--
				case k <= 1:
					_, err := r.Connect(ctx, op)
					fail("Connect: %v", err)
					conns++
				case k == 2:
					s := []switchboard.Status{switchboard.StatusOnline, switchboard.StatusAway, switchboard.StatusOffline}[rng.IntN(3)]
					if rng.IntN(2) == 0 {
						s = switchboard.StatusOnline
					}
					fail("SetStatus: %v", r.SetStatus(ctx, op, s))
				case k == 3:
					open, err := st.OperatorOpenChats(ctx, op)
					fail("OperatorOpenChats: %v", err)
					if len(open) > 0 {
						c, err := st.EndChat(ctx, open[0].ID, clock.Now())
						if err == nil {
							r.Ended(c)
						}
					}
				default:
					select {
					case id := <-n.offers[op]:
						if rng.IntN(4) == 0 {
							fail("Decline: %v", r.Decline(ctx, op, id))
							break
						}
						_, err := r.Accept(ctx, op, id)
						if err != nil && !errors.Is(err, switchboard.ErrAlreadyTaken) && !errors.Is(err, switchboard.ErrForbidden) {
							t.Errorf("Accept: %v", err)
						}
					default:
					}
				}
			}
			for range conns {
				r.Disconnect(op)
			}
		})
	}
	wg.Wait()

	n.mu.Lock()
	t.Logf("%d chats were assigned", len(n.assign))
	for _, b := range n.bad {
		t.Error(b)
	}
	n.mu.Unlock()
	for _, op := range ops {
		open, err := st.OperatorOpenChats(ctx, op)
		if err != nil {
			t.Fatal(err)
		}
		s, count := r.OperatorStatus(op)
		if count != len(open) {
			t.Errorf("operator %s (%s): router counts %d chats, the store %d", op, s, count, len(open))
		}
		if count > 2 {
			t.Errorf("operator %s has %d chats, max_chats is 2", op, count)
		}
	}
	queued, err := st.QueuedChats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if w := r.Waiting(h.id("auto")) + r.Waiting(h.id("bcast")); w != len(queued) {
		t.Errorf("router has %d chats waiting, the store %d", w, len(queued))
	}
	// Everything left resolves: the grace ends, queued chats are missed.
	clock.Advance(time.Minute)
	if queued, _ := st.QueuedChats(ctx); len(queued) != 0 {
		t.Errorf("%d chats still queued a minute later", len(queued))
	}
}
