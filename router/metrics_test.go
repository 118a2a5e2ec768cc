package router_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/router"
)

// metricsRecorder is a router.Metrics that records each call as text.
type metricsRecorder struct {
	mu     sync.Mutex
	events []string
}

func (m *metricsRecorder) add(format string, args ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.events = append(m.events, fmt.Sprintf(format, args...))
}

func (m *metricsRecorder) take() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.events
	m.events = nil
	return out
}

func (m *metricsRecorder) ChatStarted(d string)                { m.add("started %s", d) }
func (m *metricsRecorder) Offered(d string)                    { m.add("offered %s", d) }
func (m *metricsRecorder) OfferOutcome(d, outcome string)      { m.add("outcome %s %s", d, outcome) }
func (m *metricsRecorder) LeftQueue(d string, w time.Duration) { m.add("left %s %v", d, w) }
func (m *metricsRecorder) Assigned(d string, l time.Duration)  { m.add("assigned %s %v", d, l) }
func (m *metricsRecorder) Missed(d string)                     { m.add("missed %s", d) }
func (m *metricsRecorder) Transfer(d, outcome string)          { m.add("transfer %s %s", d, outcome) }

// restartWith replaces the harness's router by one that reports to m
// (the first one, idle, is closed with the test).
func (h *harness) restartWith(m router.Metrics) *router.Router {
	h.t.Helper()
	r, err := router.New(router.Config{Store: h.st, Notifier: h.rec, Clock: h.clock, Grace: testGrace, Metrics: m})
	if err != nil {
		h.t.Fatal(err)
	}
	if err := r.Start(h.ctx); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(r.Close)
	h.r = r
	return r
}

// expectMetrics checks the metrics events since the last check, in order.
func (h *harness) expectMetrics(m *metricsRecorder, want ...string) {
	h.t.Helper()
	got := h.rename(m.take())
	if !slices.Equal(got, want) {
		h.t.Fatalf("metrics events:\n got  %q\n want %q", got, want)
	}
}

// TestMetricsObserveRouting drives a chat through a ring timeout, an
// accept, a transfer, and others through a decline and a missed wait, and
// checks what the router reported to its Metrics, in order and with the
// durations the fake clock gives.
func TestMetricsObserveRouting(t *testing.T) {
	run(t, sqliteOnly, func(t *testing.T, h *harness) {
		m := &metricsRecorder{}
		h.restartWith(m)
		h.operator("alice", 5)
		h.operator("bob", 5)
		h.department("sales", auto, 10, 25, "alice", "bob")
		h.connect("alice")
		h.advance(time.Second)
		h.connect("bob")

		// Offered to alice, timed out, offered to bob, accepted 12 s after it queued.
		h.startChat("c1", "sales")
		h.expectMetrics(m, "started sales", "offered sales")
		h.advance(10 * time.Second)
		h.expectMetrics(m, "outcome sales timeout", "offered sales")
		h.advance(2 * time.Second)
		h.accept("bob", "c1")
		h.expectMetrics(m, "outcome sales accepted", "assigned sales 12s", "left sales 12s")

		// Declined by alice (for good), so bob is rung again and again
		// until the wait timeout misses it after 25 s.
		h.startChat("c2", "sales")
		h.expectMetrics(m, "started sales", "offered sales")
		if err := h.r.Decline(h.ctx, h.id("alice"), h.id("c2")); err != nil {
			t.Fatal(err)
		}
		h.expectMetrics(m, "outcome sales declined", "offered sales")
		h.advance(10 * time.Second)
		h.expectMetrics(m, "outcome sales timeout", "offered sales")
		h.advance(10 * time.Second)
		h.expectMetrics(m, "outcome sales timeout", "offered sales")
		h.advance(5 * time.Second)
		h.expectMetrics(m, "left sales 25s", "outcome sales timeout", "missed sales")

		// bob transfers c1 to alice, who accepts.
		if err := h.transfer(h.op("bob"), "c1", "", "alice", ""); err != nil {
			t.Fatal(err)
		}
		h.expectMetrics(m, "offered sales")
		h.accept("alice", "c1")
		h.expectMetrics(m, "outcome sales accepted", "transfer sales completed")

		// A supervisor takes it over.
		sue := h.operator("sue", 5)
		if _, err := h.st.UpdateOperator(h.ctx, sue, func(o *switchboard.Operator) error {
			o.Role = switchboard.RoleSupervisor
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := h.r.TakeOver(h.ctx, h.op("sue"), h.id("c1")); err != nil {
			t.Fatal(err)
		}
		h.expectMetrics(m, "transfer sales taken_over")

		// Nobody online: missed at once, never queued.
		h.setStatus("alice", switchboard.StatusOffline)
		h.setStatus("bob", switchboard.StatusOffline)
		m.take()
		h.startChat("c3", "sales")
		h.expectMetrics(m, "started sales", "missed sales")

		// Both count as offline; c1 is sue's, who never connected here.
		st := h.r.Stats()
		sales := h.id("sales")
		if len(st.Ongoing) != 0 || len(st.Queued) != 0 ||
			st.Operators[router.OperatorCount{DepartmentID: sales, Status: switchboard.StatusOffline}] != 2 {
			t.Errorf("Stats after everyone went offline = %+v", st)
		}
	})
}

// TestStatsCountQueuesChatsAndOperators checks Router.Stats, which the
// scrape-time gauges read.
func TestStatsCountQueuesChatsAndOperators(t *testing.T) {
	run(t, sqliteOnly, func(t *testing.T, h *harness) {
		h.operator("alice", 1)
		h.operator("bob", 5)
		sales := h.department("sales", auto, 60, 600, "alice")
		vip := h.department("vip", auto, 60, 600, "alice", "bob")
		h.connect("alice")
		h.connect("bob")
		h.setStatus("bob", switchboard.StatusAway)
		h.startChat("c1", "sales")
		h.accept("alice", "c1")
		h.startChat("c2", "sales") // alice is full: it waits
		h.startChat("c3", "sales")
		st := h.r.Stats()
		if st.Queued[sales] != 2 || st.Ongoing[sales] != 1 || len(st.Queued) != 1 {
			t.Errorf("queued %v, ongoing %v", st.Queued, st.Ongoing)
		}
		want := map[router.OperatorCount]int{
			{DepartmentID: sales, Status: switchboard.StatusOnline}: 1,
			{DepartmentID: vip, Status: switchboard.StatusOnline}:   1,
			{DepartmentID: vip, Status: switchboard.StatusAway}:     1,
		}
		if fmt.Sprint(st.Operators) != fmt.Sprint(want) {
			t.Errorf("operators %v, want %v", st.Operators, want)
		}
	})
}
