// Package clustertest is the conformance suite of the cluster interfaces:
// cluster/memory and cluster/redis both run Run.
package clustertest

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/cluster"
)

// Harness is one fresh cluster for one test.
type Harness struct {
	// Node opens node id's view of the harness's cluster (for Redis, with
	// its own client), with background heartbeats and sweeps off; it is
	// closed in t.Cleanup. Each id is opened once.
	Node func(t testing.TB, id string) cluster.Node
	// Advance lets d pass for TTLs: it moves a fake clock, or sleeps.
	Advance func(d time.Duration)
	// TTL is the nodes' TTL. With real time it must be long enough for a
	// few operations (a few hundred milliseconds).
	TTL time.Duration
}

// wait bounds how long a test waits for an asynchronous delivery.
const wait = 10 * time.Second

// Run runs the suite; newHarness gives each test its own cluster.
func Run(t *testing.T, newHarness func(t testing.TB) Harness) {
	tests := []struct {
		name string
		f    func(t *testing.T, h Harness)
	}{
		{"PresencePutGetList", testPresence},
		{"PresenceHeartbeatAndExpiry", testExpiry},
		{"ResyncAfterSwept", testResync},
		{"Leave", testLeave},
		{"CountersCapacity", testCounters},
		{"CountersConcurrent", testCountersConcurrent},
		{"LeasesExclusive", testLeasesExclusive},
		{"LeasesExpiryAndFencing", testLeasesExpiry},
		{"Directory", testDirectory},
		{"Visitors", testVisitors},
		{"BusOrderAndFanout", testBusOrder},
		{"BusUnsubscribe", testBusUnsubscribe},
		{"BusConcurrentPublishers", testBusConcurrent},
		{"SendNode", testSendNode},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.f(t, newHarness(t))
		})
	}
}

// events records a node's events.
func events(t *testing.T, n cluster.Node) chan cluster.Event {
	t.Helper()
	ch := make(chan cluster.Event, 10000)
	if err := n.Events(t.Context(), func(e cluster.Event) { ch <- e }); err != nil {
		t.Fatalf("Events: %v", err)
	}
	return ch
}

// expectEvent reads events until one matches.
func expectEvent(t *testing.T, ch chan cluster.Event, what string, match func(cluster.Event) bool) cluster.Event {
	t.Helper()
	timeout := time.After(wait)
	var seen []cluster.Event
	for {
		select {
		case e := <-ch:
			if match(e) {
				return e
			}
			seen = append(seen, e)
		case <-timeout:
			t.Fatalf("no %s event within %v; saw %+v", what, wait, seen)
		}
	}
}

// noEvent checks that nothing matching arrives within d.
func noEvent(t *testing.T, ch chan cluster.Event, d time.Duration, match func(cluster.Event) bool) {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case e := <-ch:
			if match(e) {
				t.Fatalf("unexpected event %+v", e)
			}
		case <-timeout:
			return
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func ids(ps []cluster.OperatorPresence) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.OperatorID)
	}
	return out
}

func gone(id string) func(cluster.Event) bool {
	return func(e cluster.Event) bool { return e.Kind == cluster.EventOperatorGone && e.Operator.OperatorID == id }
}

func testPresence(t *testing.T, h Harness) {
	ctx := t.Context()
	n1, n2 := h.Node(t, "n1"), h.Node(t, "n2")
	ev := events(t, n2)
	idle := time.UnixMilli(time.Now().UnixMilli()).UTC()
	must(t, n1.PutOperator(ctx, cluster.OperatorPresence{OperatorID: "op1", Status: switchboard.StatusOnline,
		DepartmentIDs: []string{"sales", "support"}, MaxChats: 3, IdleSince: idle}))
	must(t, n2.PutOperator(ctx, cluster.OperatorPresence{OperatorID: "op2", Status: switchboard.StatusAway, DepartmentIDs: []string{"support"}}))

	e := expectEvent(t, ev, "operator.put op1", func(e cluster.Event) bool {
		return e.Kind == cluster.EventOperatorPut && e.Operator.OperatorID == "op1"
	})
	if e.Operator.Node != "n1" || e.Operator.MaxChats != 3 {
		t.Errorf("put event = %+v, want node n1, max_chats 3", e.Operator)
	}
	p, ok, err := n2.Operator(ctx, "op1")
	must(t, err)
	if !ok || p.Node != "n1" || p.Status != switchboard.StatusOnline || p.MaxChats != 3 ||
		!slices.Equal(p.DepartmentIDs, []string{"sales", "support"}) || !p.IdleSince.Equal(idle) {
		t.Errorf("Operator(op1) = %+v, %v; want it as put by n1", p, ok)
	}
	if _, ok, err := n1.Operator(ctx, "nobody"); err != nil || ok {
		t.Errorf("Operator(nobody) = %v, %v; want not found", ok, err)
	}
	check := func(dept string, want ...string) {
		t.Helper()
		ps, err := n1.OperatorsIn(ctx, dept)
		must(t, err)
		if got := ids(ps); !slices.Equal(got, append([]string{}, want...)) {
			t.Errorf("OperatorsIn(%s) = %v, want %v", dept, got, want)
		}
	}
	check("sales", "op1")
	check("support", "op1", "op2")
	check("none")

	// A put replaces the entry, departments too; another node may take it over.
	must(t, n2.PutOperator(ctx, cluster.OperatorPresence{OperatorID: "op1", Status: switchboard.StatusAway, DepartmentIDs: []string{"billing"}}))
	check("sales")
	check("support", "op2")
	check("billing", "op1")
	if p, _, _ := n1.Operator(ctx, "op1"); p.Node != "n2" || p.Status != switchboard.StatusAway {
		t.Errorf("after n2's put: %+v, want node n2, away", p)
	}
	// Only the holder removes.
	if ok, err := n1.RemoveOperator(ctx, "op1"); err != nil || ok {
		t.Errorf("n1.RemoveOperator(op1 held by n2) = %v, %v; want false", ok, err)
	}
	if ok, err := n2.RemoveOperator(ctx, "op1"); err != nil || !ok {
		t.Errorf("n2.RemoveOperator(op1) = %v, %v; want true", ok, err)
	}
	if _, ok, _ := n1.Operator(ctx, "op1"); ok {
		t.Error("op1 still present after removal")
	}
	check("billing")
	e = expectEvent(t, ev, "operator.gone op1", gone("op1"))
	if e.Expired {
		t.Errorf("removal event says expired: %+v", e)
	}
}

func testExpiry(t *testing.T, h Harness) {
	ctx := t.Context()
	n1, n2 := h.Node(t, "n1"), h.Node(t, "n2")
	ev := events(t, n2)
	must(t, n1.PutOperator(ctx, cluster.OperatorPresence{OperatorID: "op1", Status: switchboard.StatusOnline, DepartmentIDs: []string{"d"}}))
	must(t, n1.AddConn(ctx, cluster.ConnOperator, "op1", "c1"))
	must(t, n1.PutVisitor(ctx, cluster.VisitorPresence{ConnID: "v1", VisitorID: "vis1", DepartmentID: "d", ConnectedAt: time.Now()}))
	must(t, n2.PutOperator(ctx, cluster.OperatorPresence{OperatorID: "op2", Status: switchboard.StatusOnline, DepartmentIDs: []string{"d"}}))

	// Heartbeats keep both alive past the TTL.
	for range 3 {
		h.Advance(h.TTL * 6 / 10)
		must(t, n1.Heartbeat(ctx))
		must(t, n2.Heartbeat(ctx))
		must(t, n2.Sweep(ctx))
	}
	if ps, err := n2.OperatorsIn(ctx, "d"); err != nil || !slices.Equal(ids(ps), []string{"op1", "op2"}) {
		t.Fatalf("after heartbeats: OperatorsIn = %v, %v; want op1, op2", ids(ps), err)
	}
	noEvent(t, ev, 50*time.Millisecond, func(e cluster.Event) bool { return e.Kind == cluster.EventOperatorGone })

	// n1 dies: its entries count no more after the TTL, even before a sweep.
	h.Advance(h.TTL * 6 / 10)
	must(t, n2.Heartbeat(ctx))
	h.Advance(h.TTL * 6 / 10)
	must(t, n2.Heartbeat(ctx))
	if _, ok, err := n2.Operator(ctx, "op1"); err != nil || ok {
		t.Errorf("op1 of dead n1: present %v, %v; want gone", ok, err)
	}
	if ps, err := n2.OperatorsIn(ctx, "d"); err != nil || !slices.Equal(ids(ps), []string{"op2"}) {
		t.Errorf("OperatorsIn(d) = %v, %v; want op2", ids(ps), err)
	}
	if nodes, err := n2.ConnNodes(ctx, cluster.ConnOperator, "op1"); err != nil || len(nodes) != 0 {
		t.Errorf("ConnNodes(op1) = %v, %v; want none", nodes, err)
	}
	if vs, err := n2.OnlineVisitors(ctx, nil); err != nil || len(vs) != 0 {
		t.Errorf("OnlineVisitors = %v, %v; want none", vs, err)
	}
	// The sweep tells the survivors.
	must(t, n2.Sweep(ctx))
	e := expectEvent(t, ev, "operator.gone op1", gone("op1"))
	if !e.Expired || e.Operator.Node != "n1" || !slices.Equal(e.Operator.DepartmentIDs, []string{"d"}) {
		t.Errorf("gone event = %+v, want expired op1 of n1 in d", e)
	}
	expectEvent(t, ev, "node.down n1", func(e cluster.Event) bool { return e.Kind == cluster.EventNodeDown && e.Node == "n1" })
	// A second sweep has nothing to say.
	must(t, n2.Sweep(ctx))
	noEvent(t, ev, 50*time.Millisecond, func(e cluster.Event) bool { return e.Kind == cluster.EventNodeDown })
	if _, ok, _ := n2.Operator(ctx, "op2"); !ok {
		t.Error("op2 of the live node is gone")
	}
}

func testResync(t *testing.T, h Harness) {
	ctx := t.Context()
	n1, n2 := h.Node(t, "n1"), h.Node(t, "n2")
	must(t, n1.Heartbeat(ctx))
	ev1 := events(t, n1)
	got := make(chan string, 100)
	unsub, err := n1.Subscribe(ctx, "chat", func(m cluster.Message) { got <- string(m.Data) })
	must(t, err)
	defer unsub(ctx)

	// n1 stalls past its TTL and is swept: its membership goes.
	h.Advance(h.TTL * 6 / 10)
	must(t, n2.Heartbeat(ctx))
	h.Advance(h.TTL * 6 / 10)
	must(t, n2.Heartbeat(ctx))
	must(t, n2.Sweep(ctx))
	expectEvent(t, ev1, "node.down n1", func(e cluster.Event) bool { return e.Kind == cluster.EventNodeDown && e.Node == "n1" })
	// Back: its heartbeat notices, rejoins and says resync.
	must(t, n1.Heartbeat(ctx))
	expectEvent(t, ev1, "resync", func(e cluster.Event) bool { return e.Kind == cluster.EventResync })
	must(t, n2.Publish(ctx, "chat", []byte("after")))
	select {
	case m := <-got:
		if m != "after" {
			t.Errorf("got %q, want after", m)
		}
	case <-time.After(wait):
		t.Fatal("no delivery after resync")
	}
	// An ordinary heartbeat does not resync.
	must(t, n1.Heartbeat(ctx))
	noEvent(t, ev1, 50*time.Millisecond, func(e cluster.Event) bool { return e.Kind == cluster.EventResync })
}

func testLeave(t *testing.T, h Harness) {
	ctx := t.Context()
	n1, n2 := h.Node(t, "n1"), h.Node(t, "n2")
	ev := events(t, n2)
	must(t, n1.PutOperator(ctx, cluster.OperatorPresence{OperatorID: "op1", DepartmentIDs: []string{"d"}}))
	must(t, n1.AddConn(ctx, cluster.ConnVisitor, "vis", "c1"))
	must(t, n1.Leave(ctx))
	expectEvent(t, ev, "operator.gone op1", gone("op1"))
	expectEvent(t, ev, "node.down n1", func(e cluster.Event) bool { return e.Kind == cluster.EventNodeDown && e.Node == "n1" })
	if nodes, _ := n2.ConnNodes(ctx, cluster.ConnVisitor, "vis"); len(nodes) != 0 {
		t.Errorf("connection of a node that left: %v", nodes)
	}
}

func testCounters(t *testing.T, h Harness) {
	ctx := t.Context()
	n := h.Node(t, "n1")
	reserve := func(chat string, capacity int, ttl time.Duration, want bool) {
		t.Helper()
		ok, err := n.Reserve(ctx, "op", chat, capacity, ttl)
		must(t, err)
		if ok != want {
			t.Errorf("Reserve(%s, cap %d) = %v, want %v", chat, capacity, ok, want)
		}
	}
	load := func(want int) {
		t.Helper()
		m, err := n.Load(ctx, "op", "other")
		must(t, err)
		if m["op"] != want || m["other"] != 0 || len(m) != 2 {
			t.Errorf("Load = %v, want op: %d, other: 0", m, want)
		}
	}
	reserve("c1", 2, 0, true)
	reserve("c1", 2, 0, true) // again: the same slot
	load(1)
	reserve("c2", 2, h.TTL, true)
	reserve("c3", 2, 0, false)
	load(2)
	reserve("c3", 3, 0, true) // a raised capacity
	load(3)
	must(t, n.Unreserve(ctx, "op", "c3"))
	must(t, n.Unreserve(ctx, "op", "c3"))
	load(2)
	// The slot with a TTL expires, the other stays.
	h.Advance(h.TTL + h.TTL/2)
	load(1)
	reserve("c4", 2, 0, true)
	reserve("c5", 2, 0, false)
	// ResetLoad replaces the slots without TTL, keeps those with one.
	reserve("offer", 3, h.TTL*10, true)
	must(t, n.ResetLoad(ctx, "op", []string{"x"}))
	load(2)
	reserve("x", 2, 0, true)
	reserve("c1", 2, 0, false)
	must(t, n.ResetLoad(ctx, "op", nil))
	load(1)
}

func testCountersConcurrent(t *testing.T, h Harness) {
	ctx := t.Context()
	nodes := []cluster.Node{h.Node(t, "n1"), h.Node(t, "n2")}
	const capacity, workers = 5, 40
	for round := range 3 {
		op := "op" + strconv.Itoa(round)
		var won atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range workers {
			wg.Go(func() {
				<-start
				ok, err := nodes[i%2].Reserve(ctx, op, "chat"+strconv.Itoa(i), capacity, 0)
				if err != nil {
					t.Error(err)
				}
				if ok {
					won.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		if won.Load() != capacity {
			t.Errorf("round %d: %d reservations won, want %d", round, won.Load(), capacity)
		}
		m, err := nodes[1].Load(ctx, op)
		must(t, err)
		if m[op] != capacity {
			t.Errorf("round %d: Load = %d, want %d", round, m[op], capacity)
		}
	}
}

func testLeasesExclusive(t *testing.T, h Harness) {
	ctx := t.Context()
	var nodes []cluster.Node
	for i := range 4 {
		nodes = append(nodes, h.Node(t, "n"+strconv.Itoa(i)))
	}
	for round := range 5 {
		key := "chat:" + strconv.Itoa(round)
		var mu sync.Mutex
		var winners []cluster.Lease
		var holders []string
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range 32 {
			wg.Go(func() {
				<-start
				n := nodes[i%len(nodes)]
				l, ok, err := n.Acquire(ctx, key, time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if ok && l.Node == n.ID() {
					winners = append(winners, l)
				} else {
					holders = append(holders, l.Node)
				}
			})
		}
		close(start)
		wg.Wait()
		// Goroutines of the winning node also get it (it is the node's).
		if len(winners) == 0 {
			t.Fatalf("round %d: nobody got the lease", round)
		}
		w := winners[0]
		for _, l := range winners {
			if l.Node != w.Node || l.Token != w.Token {
				t.Errorf("round %d: two grants: %+v and %+v", round, w, l)
			}
		}
		for _, node := range holders {
			if node != w.Node {
				t.Errorf("round %d: a loser was told the holder is %s, not %s", round, node, w.Node)
			}
		}
		if len(winners) != 32/len(nodes) {
			t.Errorf("round %d: %d grants, want the winner's %d", round, len(winners), 32/len(nodes))
		}
	}
}

func testLeasesExpiry(t *testing.T, h Harness) {
	ctx := t.Context()
	a, b := h.Node(t, "a"), h.Node(t, "b")
	ttl := h.TTL
	la, ok, err := a.Acquire(ctx, "k", ttl)
	must(t, err)
	if !ok || la.Node != "a" || la.Key != "k" || la.Token <= 0 {
		t.Fatalf("a.Acquire = %+v, %v", la, ok)
	}
	if time.Until(la.ExpiresAt) > ttl+time.Minute || la.ExpiresAt.IsZero() {
		t.Errorf("ExpiresAt = %v", la.ExpiresAt)
	}
	lb, ok, err := b.Acquire(ctx, "k", ttl)
	must(t, err)
	if ok || lb.Node != "a" || lb.Token != la.Token {
		t.Errorf("b.Acquire of a's lease = %+v, %v; want refused with a's lease", lb, ok)
	}
	// Re-acquiring is renewing: same token.
	la2, ok, err := a.Acquire(ctx, "k", ttl)
	must(t, err)
	if !ok || la2.Token != la.Token {
		t.Errorf("a.Acquire again = %+v, %v; want token %d", la2, ok, la.Token)
	}
	// Renewals keep it past its first TTL.
	for range 3 {
		h.Advance(ttl * 6 / 10)
		if la, err = a.Renew(ctx, la, ttl); err != nil {
			t.Fatalf("Renew: %v", err)
		}
	}
	if _, err := b.Renew(ctx, la, ttl); !errors.Is(err, cluster.ErrLeaseLost) {
		t.Errorf("b.Renew(a's lease) = %v, want ErrLeaseLost", err)
	}
	if _, ok, _ := b.Acquire(ctx, "k", ttl); ok {
		t.Fatal("b took a renewed lease")
	}
	// a stops renewing: b takes over with a greater token.
	h.Advance(ttl + ttl/2)
	lb, ok, err = b.Acquire(ctx, "k", ttl)
	must(t, err)
	if !ok || lb.Node != "b" || lb.Token <= la.Token {
		t.Fatalf("b.Acquire after expiry = %+v, %v; want b's with token > %d", lb, ok, la.Token)
	}
	if _, err := a.Renew(ctx, la, ttl); !errors.Is(err, cluster.ErrLeaseLost) {
		t.Errorf("a.Renew after takeover = %v, want ErrLeaseLost", err)
	}
	// a's stale release leaves b's lease alone.
	must(t, a.Release(ctx, la))
	if _, ok, _ := a.Acquire(ctx, "k", ttl); ok {
		t.Fatal("a got the lease after a stale release")
	}
	must(t, b.Release(ctx, lb))
	la3, ok, err := a.Acquire(ctx, "k", ttl)
	must(t, err)
	if !ok || la3.Token <= lb.Token {
		t.Errorf("a.Acquire after release = %+v, %v; want token > %d", la3, ok, lb.Token)
	}
	// Keys are independent.
	if _, ok, _ := b.Acquire(ctx, "other", ttl); !ok {
		t.Error("b could not take another key")
	}
}

func testDirectory(t *testing.T, h Harness) {
	ctx := t.Context()
	n1, n2 := h.Node(t, "n1"), h.Node(t, "n2")
	check := func(kind cluster.ConnKind, id string, want ...string) {
		t.Helper()
		got, err := n1.ConnNodes(ctx, kind, id)
		must(t, err)
		if !slices.Equal(got, want) {
			t.Errorf("ConnNodes(%s %s) = %v, want %v", kind, id, got, want)
		}
	}
	must(t, n2.AddConn(ctx, cluster.ConnOperator, "op", "c2"))
	must(t, n1.AddConn(ctx, cluster.ConnOperator, "op", "c1"))
	must(t, n1.AddConn(ctx, cluster.ConnOperator, "op", "c1b"))
	must(t, n2.AddConn(ctx, cluster.ConnVisitor, "op", "v")) // another kind, same id
	check(cluster.ConnOperator, "op", "n1", "n2")
	check(cluster.ConnVisitor, "op", "n2")
	must(t, n2.RemoveConn(ctx, cluster.ConnOperator, "op", "c2"))
	check(cluster.ConnOperator, "op", "n1")
	must(t, n1.RemoveConn(ctx, cluster.ConnOperator, "op", "c1"))
	check(cluster.ConnOperator, "op", "n1")
	must(t, n1.RemoveConn(ctx, cluster.ConnOperator, "op", "c1b"))
	check(cluster.ConnOperator, "op")
	check(cluster.ConnOperator, "nobody")
}

func testVisitors(t *testing.T, h Harness) {
	ctx := t.Context()
	n1, n2 := h.Node(t, "n1"), h.Node(t, "n2")
	t0 := time.UnixMilli(time.Now().UnixMilli()).UTC()
	must(t, n2.PutVisitor(ctx, cluster.VisitorPresence{ConnID: "c3", VisitorID: "v3", DepartmentID: "b", ConnectedAt: t0.Add(3 * time.Second)}))
	must(t, n1.PutVisitor(ctx, cluster.VisitorPresence{ConnID: "c1", VisitorID: "v1", Name: "Ann", DepartmentID: "a",
		PageURL: "https://example.com/", IP: "192.0.2.1", ChatID: "chat1", ConnectedAt: t0.Add(time.Second)}))
	must(t, n1.PutVisitor(ctx, cluster.VisitorPresence{ConnID: "c2", VisitorID: "v2", DepartmentID: "a", ConnectedAt: t0.Add(2 * time.Second)}))
	conns := func(depts []string) []string {
		t.Helper()
		vs, err := n2.OnlineVisitors(ctx, depts)
		must(t, err)
		out := []string{}
		for _, v := range vs {
			out = append(out, v.ConnID+"@"+v.Node)
		}
		return out
	}
	if got, want := conns(nil), []string{"c1@n1", "c2@n1", "c3@n2"}; !slices.Equal(got, want) {
		t.Errorf("all = %v, want %v", got, want)
	}
	if got, want := conns([]string{"a"}), []string{"c1@n1", "c2@n1"}; !slices.Equal(got, want) {
		t.Errorf("a = %v, want %v", got, want)
	}
	if got := conns([]string{}); len(got) != 0 {
		t.Errorf("no departments = %v, want none", got)
	}
	vs, err := n2.OnlineVisitors(ctx, []string{"a"})
	must(t, err)
	want := cluster.VisitorPresence{ConnID: "c1", VisitorID: "v1", Name: "Ann", DepartmentID: "a",
		PageURL: "https://example.com/", IP: "192.0.2.1", ChatID: "chat1", ConnectedAt: t0.Add(time.Second), Node: "n1"}
	if len(vs) == 0 || !vs[0].ConnectedAt.Equal(want.ConnectedAt) {
		t.Fatalf("visitor = %+v, want %+v", vs, want)
	}
	vs[0].ConnectedAt = want.ConnectedAt
	if vs[0] != want {
		t.Errorf("visitor = %+v, want %+v", vs[0], want)
	}
	// An update moves c2 to b.
	must(t, n1.PutVisitor(ctx, cluster.VisitorPresence{ConnID: "c2", VisitorID: "v2", DepartmentID: "b", ConnectedAt: t0.Add(2 * time.Second)}))
	if got, want := conns([]string{"b"}), []string{"c2@n1", "c3@n2"}; !slices.Equal(got, want) {
		t.Errorf("b after move = %v, want %v", got, want)
	}
	if got, want := conns([]string{"a"}), []string{"c1@n1"}; !slices.Equal(got, want) {
		t.Errorf("a after move = %v, want %v", got, want)
	}
	must(t, n1.RemoveVisitor(ctx, "c1"))
	must(t, n1.RemoveVisitor(ctx, "c1"))
	if got, want := conns(nil), []string{"c2@n1", "c3@n2"}; !slices.Equal(got, want) {
		t.Errorf("after remove = %v, want %v", got, want)
	}
}

// collector gathers a subscriber's messages.
type collector struct {
	mu   sync.Mutex
	got  []string
	wake chan struct{}
}

func newCollector() *collector { return &collector{wake: make(chan struct{}, 1)} }

func (c *collector) add(m cluster.Message) {
	c.mu.Lock()
	c.got = append(c.got, m.ChatID+":"+string(m.Data))
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// waitN waits until n messages arrived and returns them.
func (c *collector) waitN(t *testing.T, n int) []string {
	t.Helper()
	timeout := time.After(wait)
	for {
		c.mu.Lock()
		got := slices.Clone(c.got)
		c.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-c.wake:
		case <-timeout:
			t.Fatalf("got %d messages within %v, want %d: %v", len(got), wait, n, got)
		}
	}
}

func seq(chat string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, chat+":"+strconv.Itoa(i))
	}
	return out
}

func testBusOrder(t *testing.T, h Harness) {
	ctx := t.Context()
	n1, n2, n3 := h.Node(t, "n1"), h.Node(t, "n2"), h.Node(t, "n3")
	a1, a1b, a2, b2 := newCollector(), newCollector(), newCollector(), newCollector()
	for _, s := range []struct {
		n    cluster.Node
		chat string
		c    *collector
	}{{n1, "A", a1}, {n1, "A", a1b}, {n2, "A", a2}, {n2, "B", b2}} {
		_, err := s.n.Subscribe(ctx, s.chat, s.c.add)
		must(t, err)
	}
	const count = 300
	for i := range count {
		must(t, n3.Publish(ctx, "A", []byte(strconv.Itoa(i))))
		if i%100 == 0 {
			must(t, n1.Publish(ctx, "B", []byte(strconv.Itoa(i/100))))
		}
	}
	want := seq("A", 0, count)
	for name, c := range map[string]*collector{"n1 first": a1, "n1 second": a1b, "n2": a2} {
		if got := c.waitN(t, count); !slices.Equal(got, want) {
			t.Errorf("%s subscriber of A: got %d messages, not in publish order: %v", name, len(got), got[:min(len(got), 20)])
		}
	}
	if got := b2.waitN(t, 3); !slices.Equal(got, seq("B", 0, 3)) {
		t.Errorf("B subscriber got %v", got)
	}
	// Nothing of B reached A's subscribers: their lists are exact above.
}

func testBusUnsubscribe(t *testing.T, h Harness) {
	ctx := t.Context()
	n1, n2 := h.Node(t, "n1"), h.Node(t, "n2")
	first, second, marker := newCollector(), newCollector(), newCollector()
	un1, err := n1.Subscribe(ctx, "A", first.add)
	must(t, err)
	un2, err := n1.Subscribe(ctx, "A", second.add)
	must(t, err)
	_, err = n1.Subscribe(ctx, "M", marker.add)
	must(t, err)

	must(t, n2.Publish(ctx, "A", []byte("0")))
	first.waitN(t, 1)
	second.waitN(t, 1)
	must(t, un1(ctx))
	must(t, un1(ctx)) // twice is harmless
	must(t, n2.Publish(ctx, "A", []byte("1")))
	if got := second.waitN(t, 2); !slices.Equal(got, seq("A", 0, 2)) {
		t.Errorf("remaining subscriber got %v", got)
	}
	must(t, un2(ctx))
	// After the last unsubscribe nothing of A arrives: a later message to
	// M (same publisher, so after it in order) proves the absence.
	must(t, n2.Publish(ctx, "A", []byte("2")))
	must(t, n2.Publish(ctx, "M", []byte("end")))
	marker.waitN(t, 1)
	if got := first.waitN(t, 0); !slices.Equal(got, seq("A", 0, 1)) {
		t.Errorf("unsubscribed first got %v", got)
	}
	if got := second.waitN(t, 0); !slices.Equal(got, seq("A", 0, 2)) {
		t.Errorf("unsubscribed second got %v", got)
	}
	// Subscribing again works.
	again := newCollector()
	_, err = n1.Subscribe(ctx, "A", again.add)
	must(t, err)
	must(t, n2.Publish(ctx, "A", []byte("3")))
	if got := again.waitN(t, 1); !slices.Equal(got, seq("A", 3, 4)) {
		t.Errorf("resubscribed got %v", got)
	}
}

func testBusConcurrent(t *testing.T, h Harness) {
	ctx := t.Context()
	subs := []cluster.Node{h.Node(t, "s1"), h.Node(t, "s2")}
	pubs := []cluster.Node{h.Node(t, "p1"), h.Node(t, "p2"), h.Node(t, "p3")}
	var cs []*collector
	for _, n := range subs {
		c := newCollector()
		_, err := n.Subscribe(ctx, "A", c.add)
		must(t, err)
		cs = append(cs, c)
	}
	const each = 100
	var wg sync.WaitGroup
	for _, p := range pubs {
		wg.Go(func() {
			for i := range each {
				if err := p.Publish(ctx, "A", []byte(fmt.Sprintf("%s/%03d", p.ID(), i))); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	for i, c := range cs {
		got := c.waitN(t, each*len(pubs))
		// Each publisher's messages arrive in its order, on every node.
		for _, p := range pubs {
			var mine []string
			for _, m := range got {
				if len(m) > 2 && m[2:2+len(p.ID())] == p.ID() {
					mine = append(mine, m)
				}
			}
			if !slices.IsSorted(mine) || len(mine) != each {
				t.Errorf("subscriber %d: %s's messages: %d, sorted %v", i, p.ID(), len(mine), slices.IsSorted(mine))
			}
		}
		// Every node sees one order.
		if i > 0 {
			if prev := cs[0].waitN(t, 0); !slices.Equal(got, prev) {
				t.Errorf("subscribers disagree on the order")
			}
		}
	}
}

func testSendNode(t *testing.T, h Harness) {
	ctx := t.Context()
	n1, n2 := h.Node(t, "n1"), h.Node(t, "n2")
	c := newCollector()
	n2.OnNode(c.add)
	for i := range 3 {
		must(t, n1.SendNode(ctx, "n2", []byte(strconv.Itoa(i))))
	}
	must(t, n1.SendNode(ctx, "nobody", []byte("x")))
	if got := c.waitN(t, 3); !slices.Equal(got, seq("", 0, 3)) {
		t.Errorf("n2 got %v", got)
	}
	// Ping answers while the backend is up.
	must(t, n1.Ping(ctx))
}
