package router_test

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/internal/testenv"
	"github.com/switchboard-chat/switchboard/internal/teststore"
	"github.com/switchboard-chat/switchboard/router"
	"github.com/switchboard-chat/switchboard/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// backend is the store a test drives: what the router uses, plus what the
// test needs to set the scene.
type backend interface {
	router.Store
	CreateDepartment(ctx context.Context, d *switchboard.Department) error
	UpdateDepartment(ctx context.Context, id string, update func(*switchboard.Department) error) (switchboard.Department, error)
	CreateOperator(ctx context.Context, o *switchboard.Operator) error
	UpdateOperator(ctx context.Context, id string, update func(*switchboard.Operator) error) (switchboard.Operator, error)
	EndChat(ctx context.Context, chatID string, at time.Time) (switchboard.Chat, error)
	VisitorOpenChats(ctx context.Context, visitorID string) ([]switchboard.Chat, error)
	ReopenChat(ctx context.Context, chatID, toOperatorID string, at time.Time) (switchboard.Chat, error)
}

var _ backend = store.Store(nil)

// Which backends the scenarios run on: every scenario on SQLite (the
// default store), the key ones on PostgreSQL too.
const (
	sqliteOnly = iota
	bothBackends
)

func openBackend(t testing.TB, name string) backend {
	return teststore.Open(t, name)
}

// run runs f as a parallel subtest per backend, in parallel with other tests.
func run(t *testing.T, which int, f func(t *testing.T, h *harness)) {
	t.Parallel()
	names := []string{"sqlite"}
	if which == bothBackends {
		names = append(names, "postgres")
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t, newHarness(t, openBackend(t, name)))
		})
	}
}

// harness is a router on a store with a fake clock and a recording
// Notifier. Operators, departments and chats have test names; events are
// reported with those names.
type harness struct {
	t     *testing.T
	ctx   context.Context
	st    backend
	clock *fakeClock
	rec   *recorder
	r     *router.Router

	mu    sync.Mutex
	names map[string]string // id → name
	ids   map[string]string // name → id
}

const testGrace = 5 * time.Second

func newHarness(t *testing.T, st backend) *harness {
	t.Helper()
	h := &harness{t: t, ctx: t.Context(), st: st, clock: newFakeClock(time.Now()), rec: &recorder{},
		names: map[string]string{}, ids: map[string]string{}}
	h.start(st)
	return h
}

// start (re)creates the router on st.
func (h *harness) start(st router.Store) {
	h.t.Helper()
	r, err := router.New(router.Config{Store: st, Notifier: h.rec, Clock: h.clock, Grace: testGrace})
	if err != nil {
		h.t.Fatal(err)
	}
	if err := r.Start(h.ctx); err != nil {
		h.t.Fatal(err)
	}
	h.r = r
	h.t.Cleanup(func() {
		r.Close()
		if n := h.clock.pending(); n != 0 {
			h.t.Errorf("%d timers still pending after Close", n)
		}
	})
}

func (h *harness) name(id, name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.names[id] = name
	h.ids[name] = id
}

// id returns the id of a named object; unknown names are used as ids.
func (h *harness) id(name string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return cmp.Or(h.ids[name], name)
}

// operator creates an enabled operator.
func (h *harness) operator(name string, maxChats int) string {
	h.t.Helper()
	o := &switchboard.Operator{Name: name, Email: name + "@example.com", Role: switchboard.RoleOperator,
		MaxChats: maxChats, Enabled: true, PasswordHash: "x"}
	if err := h.st.CreateOperator(h.ctx, o); err != nil {
		h.t.Fatalf("create operator %s: %v", name, err)
	}
	h.name(o.ID, name)
	return o.ID
}

// department creates an enabled department with these timeouts and pool.
func (h *harness) department(name string, routing switchboard.Routing, ringS, waitS int, pool ...string) string {
	h.t.Helper()
	d := &switchboard.Department{Name: name, Enabled: true, Routing: routing}
	for _, op := range pool {
		d.OperatorIDs = append(d.OperatorIDs, h.id(op))
	}
	d.Normalize()
	d.RingTimeoutS, d.WaitTimeoutS = ringS, waitS
	if err := h.st.CreateDepartment(h.ctx, d); err != nil {
		h.t.Fatalf("create department %s: %v", name, err)
	}
	h.name(d.ID, name)
	return d.ID
}

func (h *harness) setPool(dept string, pool ...string) {
	h.t.Helper()
	_, err := h.st.UpdateDepartment(h.ctx, h.id(dept), func(d *switchboard.Department) error {
		d.OperatorIDs = d.OperatorIDs[:0]
		for _, op := range pool {
			d.OperatorIDs = append(d.OperatorIDs, h.id(op))
		}
		return nil
	})
	if err != nil {
		h.t.Fatalf("set pool of %s: %v", dept, err)
	}
}

func (h *harness) connect(op string) switchboard.Status {
	h.t.Helper()
	st, err := h.r.Connect(h.ctx, h.id(op))
	if err != nil {
		h.t.Fatalf("Connect(%s): %v", op, err)
	}
	return st
}

func (h *harness) setStatus(op string, s switchboard.Status) {
	h.t.Helper()
	if err := h.r.SetStatus(h.ctx, h.id(op), s); err != nil {
		h.t.Fatalf("SetStatus(%s, %s): %v", op, s, err)
	}
}

func newChat(deptID string) store.NewChat {
	return store.NewChat{
		DepartmentID: deptID,
		Visitor:      switchboard.Visitor{ID: switchboard.NewID(), Name: "Visitor", Email: "v@example.com", IP: "192.0.2.1"},
		Question:     "hello?",
		PageURL:      "https://example.com/pricing",
	}
}

// startChat starts a chat named chat in dept.
func (h *harness) startChat(chat, dept string) switchboard.Chat {
	h.t.Helper()
	c, err := h.r.StartChat(h.ctx, newChat(h.id(dept)))
	if err != nil {
		h.t.Fatalf("StartChat(%s in %s): %v", chat, dept, err)
	}
	h.name(c.ID, chat)
	return c
}

func (h *harness) accept(op, chat string) switchboard.Chat {
	h.t.Helper()
	c, err := h.r.Accept(h.ctx, h.id(op), h.id(chat))
	if err != nil {
		h.t.Fatalf("Accept(%s, %s): %v", op, chat, err)
	}
	return c
}

// end ends a chat in the store, then tells the router, as the session layer does.
func (h *harness) end(chat string) {
	h.t.Helper()
	c, err := h.st.EndChat(h.ctx, h.id(chat), h.clock.Now())
	if err != nil {
		h.t.Fatalf("EndChat(%s): %v", chat, err)
	}
	h.r.Ended(c)
}

func (h *harness) chat(chat string) switchboard.Chat {
	h.t.Helper()
	c, err := h.st.Chat(h.ctx, h.id(chat))
	if err != nil {
		h.t.Fatalf("Chat(%s): %v", chat, err)
	}
	return c
}

func (h *harness) wantStatus(chat string, want switchboard.ChatStatus) {
	h.t.Helper()
	if got := h.chat(chat).Status; got != want {
		h.t.Errorf("chat %s is %s in the store, want %s", chat, got, want)
	}
}

func (h *harness) wantOperator(op string, status switchboard.Status, chats int) {
	h.t.Helper()
	if s, n := h.r.OperatorStatus(h.id(op)); s != status || n != chats {
		h.t.Errorf("OperatorStatus(%s) = %s, %d; want %s, %d", op, s, n, status, chats)
	}
}

func (h *harness) advance(d time.Duration) { h.clock.Advance(d) }

// events returns (and forgets) the events recorded so far, with names.
func (h *harness) events() []string { return h.rename(h.rec.take()) }

// rename replaces ids by test names in recorded events.
func (h *harness) rename(events []string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, len(events))
	for i, e := range events {
		f := strings.Fields(e)
		for j, w := range f {
			if n, ok := h.names[w]; ok {
				f[j] = n
			}
		}
		out[i] = strings.Join(f, " ")
	}
	return out
}

// expect checks the events recorded since the last check, in order.
func (h *harness) expect(want ...string) {
	h.t.Helper()
	got := h.events()
	if !slices.Equal(got, want) {
		h.t.Fatalf("events:\n got  %q\n want %q", got, want)
	}
}

// expectUnordered checks the events recorded since the last check, in any order.
func (h *harness) expectUnordered(want ...string) {
	h.t.Helper()
	got := h.events()
	slices.Sort(got)
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		h.t.Fatalf("events (any order):\n got  %q\n want %q", got, want)
	}
}

// recorder is a Notifier that records what it is told.
type recorder struct {
	mu     sync.Mutex
	log    []string
	offers []router.Offer
	pools  map[string][]string // department id → last pool told
}

func (r *recorder) add(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, fmt.Sprintf(format, args...))
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.log
	r.log = nil
	return l
}

func (r *recorder) lastOffer() router.Offer {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.offers) == 0 {
		return router.Offer{}
	}
	return r.offers[len(r.offers)-1]
}

func (r *recorder) Offer(operatorID string, o router.Offer) {
	r.mu.Lock()
	r.offers = append(r.offers, o)
	r.mu.Unlock()
	r.add("offer %s %s", operatorID, o.Chat.ID)
}

func (r *recorder) RevokeOffer(operatorID, chatID, reason string) {
	r.add("revoke %s %s %s", operatorID, chatID, reason)
}

func (r *recorder) Assigned(chat switchboard.Chat, op switchboard.Operator) {
	r.add("assigned %s %s", chat.ID, op.ID)
}

func (r *recorder) Missed(chat switchboard.Chat) { r.add("missed %s", chat.ID) }

func (r *recorder) Requeued(chat switchboard.Chat, from switchboard.Operator) {
	r.add("requeued %s %s", chat.ID, from.ID)
}

func (r *recorder) QueueChanged(departmentID string, waiting int, operatorIDs []string) {
	r.mu.Lock()
	if r.pools == nil {
		r.pools = map[string][]string{}
	}
	r.pools[departmentID] = operatorIDs
	r.mu.Unlock()
	r.add("queue %s %d", departmentID, waiting)
}

// fakeClock is a Clock whose time moves only by Advance, which runs the
// callbacks of the timers that come due, in order, on the caller's goroutine.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	seq    int
	timers []*fakeTimer
}

type fakeTimer struct {
	c    *fakeClock
	when time.Time
	seq  int
	f    func()
	done bool // fired or stopped
}

func newFakeClock(now time.Time) *fakeClock {
	return &fakeClock{now: now.UTC().Truncate(time.Millisecond)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) router.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &fakeTimer{c: c, when: c.now.Add(max(d, 0)), seq: c.seq, f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.done {
		return false
	}
	t.done = true
	t.c.timers = slices.DeleteFunc(t.c.timers, func(x *fakeTimer) bool { return x == t })
	return true
}

// Advance moves the clock by d, firing due timers one by one in order.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		var next *fakeTimer
		for _, t := range c.timers {
			if !t.when.After(end) && (next == nil || t.when.Before(next.when) || t.when.Equal(next.when) && t.seq < next.seq) {
				next = t
			}
		}
		if next == nil {
			c.now = end
			c.mu.Unlock()
			return
		}
		next.done = true
		c.timers = slices.DeleteFunc(c.timers, func(x *fakeTimer) bool { return x == next })
		if next.when.After(c.now) {
			c.now = next.when
		}
		c.mu.Unlock()
		next.f()
	}
}

// pending counts the timers neither fired nor stopped.
func (c *fakeClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}
