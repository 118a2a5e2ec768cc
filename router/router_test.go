package router_test

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/router"
)

const (
	auto      = switchboard.RoutingAuto
	broadcast = switchboard.RoutingBroadcast
)

func TestNobodyOnlineMissesAtOnce(t *testing.T) {
	run(t, bothBackends, func(t *testing.T, h *harness) {
		h.operator("alice", 5)
		h.department("sales", auto, 30, 120, "alice")
		c := h.startChat("c1", "sales")
		if c.Status != switchboard.ChatMissed {
			t.Fatalf("StartChat returned a %s chat, want missed", c.Status)
		}
		h.expect("missed c1")
		h.wantStatus("c1", switchboard.ChatMissed)
		if n := h.r.Waiting(h.id("sales")); n != 0 {
			t.Errorf("Waiting = %d, want 0", n)
		}
		if h.r.DepartmentOnline(h.id("sales")) {
			t.Error("DepartmentOnline with nobody connected")
		}

		// Connected but away is not online either.
		h.connect("alice")
		h.setStatus("alice", switchboard.StatusAway)
		h.startChat("c2", "sales")
		h.expect("missed c2")
	})
}

func TestAutoPicksLeastActiveThenLongestIdle(t *testing.T) {
	run(t, bothBackends, func(t *testing.T, h *harness) {
		for _, op := range []string{"alice", "bob", "carol"} {
			h.operator(op, 5)
		}
		h.department("sales", auto, 30, 120, "carol", "bob", "alice")
		for _, op := range []string{"alice", "bob", "carol"} {
			if st := h.connect(op); st != switchboard.StatusOnline {
				t.Fatalf("Connect(%s) = %s, want online", op, st)
			}
			h.advance(time.Second)
		}
		if !h.r.DepartmentOnline(h.id("sales")) {
			t.Fatal("DepartmentOnline = false with three operators online")
		}

		// All idle with no chats: alice came online first.
		c := h.startChat("c1", "sales")
		if c.Status != switchboard.ChatQueued {
			t.Fatalf("StartChat returned a %s chat, want queued", c.Status)
		}
		h.expect("queue sales 1", "offer alice c1")
		o := h.rec.lastOffer()
		if o.Chat.ID != c.ID || o.Department.ID != h.id("sales") || o.Visitor.ID != c.VisitorID ||
			o.Visitor.Name != "Visitor" || !o.ExpiresAt.Equal(h.clock.Now().Add(30*time.Second)) {
			t.Errorf("offer = %+v", o)
		}
		got := h.accept("alice", "c1")
		if got.Status != switchboard.ChatOngoing || got.OperatorID != h.id("alice") {
			t.Fatalf("Accept returned %+v", got)
		}
		h.expect("assigned c1 alice", "queue sales 0")
		h.wantOperator("alice", switchboard.StatusOnline, 1)

		// Least active first: bob and carol have none; bob is idle longer.
		h.advance(time.Second)
		h.startChat("c2", "sales")
		h.expect("queue sales 1", "offer bob c2")
		h.accept("bob", "c2")
		h.advance(time.Second)
		h.startChat("c3", "sales")
		h.expect("assigned c2 bob", "queue sales 0", "queue sales 1", "offer carol c3")
		h.accept("carol", "c3")
		h.expect("assigned c3 carol", "queue sales 0")

		// All have one: alice was assigned longest ago.
		h.advance(time.Second)
		h.startChat("c4", "sales")
		h.expect("queue sales 1", "offer alice c4")

		// A live offer counts as load: the next chat goes to bob.
		h.startChat("c5", "sales")
		h.expect("queue sales 2", "offer bob c5")
		h.rec.mu.Lock()
		pool := h.rec.pools[h.id("sales")]
		h.rec.mu.Unlock()
		if want := []string{h.id("carol"), h.id("bob"), h.id("alice")}; !sameSet(pool, want) {
			t.Errorf("QueueChanged pool = %q, want %q", pool, want)
		}
	})
}

func TestRingTimeoutMovesOnAndStartsOver(t *testing.T) {
	run(t, bothBackends, func(t *testing.T, h *harness) {
		h.operator("alice", 5)
		h.operator("bob", 5)
		h.department("sales", auto, 10, 120, "alice", "bob")
		h.connect("alice")
		h.advance(time.Second)
		h.connect("bob")
		h.startChat("c1", "sales")
		h.expect("queue sales 1", "offer alice c1")
		h.advance(9 * time.Second)
		h.expect()
		h.advance(time.Second)
		h.expect("revoke alice c1 timeout", "offer bob c1")
		if _, err := h.r.Accept(h.ctx, h.id("alice"), h.id("c1")); !errors.Is(err, switchboard.ErrForbidden) {
			t.Errorf("Accept of an expired offer: %v, want ErrForbidden", err)
		}
		// Both tried: a new round, in the same order.
		h.advance(10 * time.Second)
		h.expect("revoke bob c1 timeout", "offer alice c1")
		h.advance(10 * time.Second)
		h.expect("revoke alice c1 timeout", "offer bob c1")
		h.accept("bob", "c1")
		h.expect("assigned c1 bob", "queue sales 0")
	})
}

func TestLoneOperatorKeepsBeingRung(t *testing.T) {
	run(t, sqliteOnly, func(t *testing.T, h *harness) {
		h.operator("alice", 5)
		h.department("sales", auto, 10, 45, "alice")
		h.connect("alice")
		h.startChat("c1", "sales")
		h.expect("queue sales 1", "offer alice c1")
		for range 4 {
			h.advance(10 * time.Second)
			h.expect("revoke alice c1 timeout", "offer alice c1")
		}
		h.advance(5 * time.Second)
		h.expect("revoke alice c1 timeout", "missed c1", "queue sales 0")
	})
}

func TestWaitTimeoutMisses(t *testing.T) {
	run(t, bothBackends, func(t *testing.T, h *harness) {
		h.operator("alice", 5)
		h.operator("bob", 5)
		h.department("sales", auto, 10, 25, "alice", "bob")
		h.connect("alice")
		h.advance(time.Second)
		h.connect("bob")
		h.startChat("c1", "sales")
		h.advance(24 * time.Second)
		h.expect("queue sales 1", "offer alice c1", "revoke alice c1 timeout", "offer bob c1",
			"revoke bob c1 timeout", "offer alice c1")
		h.wantStatus("c1", switchboard.ChatQueued)
		h.advance(time.Second)
		h.expect("revoke alice c1 timeout", "missed c1", "queue sales 0")
		h.wantStatus("c1", switchboard.ChatMissed)
		if _, err := h.r.Accept(h.ctx, h.id("alice"), h.id("c1")); !errors.Is(err, switchboard.ErrAlreadyTaken) {
			t.Errorf("Accept of a missed chat: %v, want ErrAlreadyTaken", err)
		}
		h.advance(time.Hour)
		h.expect()
	})
}

func TestBroadcastWaitTimeoutRevokesEveryOffer(t *testing.T) {
	run(t, sqliteOnly, func(t *testing.T, h *harness) {
		h.operator("alice", 5)
		h.operator("bob", 5)
		h.department("sales", broadcast, 10, 15, "alice", "bob")
		h.connect("alice")
		h.connect("bob")
		h.startChat("c1", "sales")
		h.expectUnordered("queue sales 1", "offer alice c1", "offer bob c1")
		// A new round at the ring timeout.
		h.advance(10 * time.Second)
		h.expectUnordered("revoke alice c1 timeout", "revoke bob c1 timeout", "offer alice c1", "offer bob c1")
		h.advance(5 * time.Second)
		h.expectUnordered("revoke alice c1 timeout", "revoke bob c1 timeout", "missed c1", "queue sales 0")
	})
}

func TestDeclineMovesOn(t *testing.T) {
	run(t, bothBackends, func(t *testing.T, h *harness) {
		h.operator("alice", 5)
		h.operator("bob", 5)
		h.department("sales", auto, 10, 60, "alice", "bob")
		h.connect("alice")
		h.advance(time.Second)
		h.connect("bob")
		h.startChat("c1", "sales")
		h.expect("queue sales 1", "offer alice c1")
		if err := h.r.Decline(h.ctx, h.id("alice"), h.id("c1")); err != nil {
			t.Fatal(err)
		}
		h.expect("offer bob c1")
		// Declining an offer one does not hold changes nothing.
		if err := h.r.Decline(h.ctx, h.id("alice"), h.id("c1")); err != nil {
			t.Fatal(err)
		}
		h.expect()
		// Nobody is left who did not decline: the chat waits.
		if err := h.r.Decline(h.ctx, h.id("bob"), h.id("c1")); err != nil {
			t.Fatal(err)
		}
		h.advance(59 * time.Second)
		h.expect()
		if n := h.r.Waiting(h.id("sales")); n != 1 {
			t.Errorf("Waiting = %d, want 1", n)
		}
		h.advance(time.Second)
		h.expect("missed c1", "queue sales 0")
		if err := h.r.Decline(h.ctx, h.id("bob"), switchboard.NewID()); !errors.Is(err, switchboard.ErrNotFound) {
			t.Errorf("Decline of an unknown chat: %v, want ErrNotFound", err)
		}
	})
}

func TestAcceptErrors(t *testing.T) {
	run(t, bothBackends, func(t *testing.T, h *harness) {
		h.operator("alice", 5)
		h.operator("bob", 5)
		h.department("sales", auto, 30, 120, "alice", "bob")
		h.connect("alice")
		h.advance(time.Second)
		h.connect("bob")
		h.startChat("c1", "sales")
		h.expect("queue sales 1", "offer alice c1")
		if _, err := h.r.Accept(h.ctx, h.id("bob"), h.id("c1")); !errors.Is(err, switchboard.ErrForbidden) {
			t.Errorf("Accept without an offer: %v, want ErrForbidden", err)
		}
		if _, err := h.r.Accept(h.ctx, h.id("bob"), switchboard.NewID()); !errors.Is(err, switchboard.ErrNotFound) {
			t.Errorf("Accept of an unknown chat: %v, want ErrNotFound", err)
		}
		h.expect()
		h.wantStatus("c1", switchboard.ChatQueued)
		h.accept("alice", "c1")
		h.expect("assigned c1 alice", "queue sales 0")
		if _, err := h.r.Accept(h.ctx, h.id("bob"), h.id("c1")); !errors.Is(err, switchboard.ErrAlreadyTaken) {
			t.Errorf("Accept of someone else's chat: %v, want ErrAlreadyTaken", err)
		}
		// Accepting again what one already has is harmless.
		if c, err := h.r.Accept(h.ctx, h.id("alice"), h.id("c1")); err != nil || c.OperatorID != h.id("alice") {
			t.Errorf("second Accept = %+v, %v", c, err)
		}
		h.expect()
		h.wantOperator("alice", switchboard.StatusOnline, 1)
	})
}

func TestBroadcastRaceHasOneWinner(t *testing.T) {
	run(t, bothBackends, func(t *testing.T, h *harness) {
		h.operator("alice", 5)
		h.operator("bob", 5)
		h.department("sales", broadcast, 30, 120, "alice", "bob")
		h.connect("alice")
		h.connect("bob")
		wins := map[string]int{}
		for i := range 20 {
			chat := "c" + string(rune('a'+i))
			h.startChat(chat, "sales")
			h.expectUnordered("queue sales 1", "offer alice "+chat, "offer bob "+chat)

			var wg sync.WaitGroup
			start := make(chan struct{})
			errs := map[string]error{}
			var mu sync.Mutex
			for _, op := range []string{"alice", "bob"} {
				wg.Go(func() {
					<-start
					_, err := h.r.Accept(h.ctx, h.id(op), h.id(chat))
					mu.Lock()
					errs[op] = err
					mu.Unlock()
				})
			}
			close(start)
			wg.Wait()

			var winner, loser string
			switch {
			case errs["alice"] == nil && errors.Is(errs["bob"], switchboard.ErrAlreadyTaken):
				winner, loser = "alice", "bob"
			case errs["bob"] == nil && errors.Is(errs["alice"], switchboard.ErrAlreadyTaken):
				winner, loser = "bob", "alice"
			default:
				t.Fatalf("%s: Accept errors %v, want one nil and one ErrAlreadyTaken", chat, errs)
			}
			wins[winner]++
			h.expectUnordered("revoke "+loser+" "+chat+" taken", "assigned "+chat+" "+winner, "queue sales 0")
			if c := h.chat(chat); c.Status != switchboard.ChatOngoing || c.OperatorID != h.id(winner) {
				t.Fatalf("%s in the store: %s with %s, want ongoing with %s", chat, c.Status, c.OperatorID, winner)
			}
			h.end(chat)
			h.expect()
		}
		t.Logf("wins: %v", wins)
		h.wantOperator("alice", switchboard.StatusOnline, 0)
		h.wantOperator("bob", switchboard.StatusOnline, 0)
	})
}

func TestMaxChatsRespected(t *testing.T) {
	run(t, bothBackends, func(t *testing.T, h *harness) {
		h.operator("alice", 1)
		h.department("sales", auto, 30, 600, "alice")
		h.connect("alice")
		h.startChat("c1", "sales")
		h.expect("queue sales 1", "offer alice c1")
		// Staffed but busy: queued, not missed, and not offered.
		c := h.startChat("c2", "sales")
		if c.Status != switchboard.ChatQueued {
			t.Fatalf("chat started while the only operator is busy is %s, want queued", c.Status)
		}
		h.expect("queue sales 2")
		h.accept("alice", "c1")
		h.expect("assigned c1 alice", "queue sales 1")
		if h.r.DepartmentOnline(h.id("sales")) {
			t.Error("DepartmentOnline with the only operator at max_chats")
		}
		h.advance(5 * time.Minute)
		h.expect()
		h.end("c1")
		h.expect("offer alice c2")
		h.wantOperator("alice", switchboard.StatusOnline, 0)

		// A raised max_chats applies at once.
		h.accept("alice", "c2")
		h.startChat("c3", "sales")
		h.expect("assigned c2 alice", "queue sales 0", "queue sales 1")
		if _, err := h.st.UpdateOperator(h.ctx, h.id("alice"), func(o *switchboard.Operator) error {
			o.MaxChats = 2
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := h.r.OperatorUpdated(h.ctx, h.id("alice")); err != nil {
			t.Fatal(err)
		}
		h.expect("offer alice c3")
	})
}

func TestAwayAndOfflineGetNoOffers(t *testing.T) {
	run(t, sqliteOnly, func(t *testing.T, h *harness) {
		h.operator("alice", 5)
		h.operator("bob", 5)
		h.operator("carol", 5)
		h.department("sales", auto, 10, 600, "alice", "bob", "carol")
		h.connect("alice")
		h.connect("bob")
		h.connect("carol")
		h.setStatus("alice", switchboard.StatusAway)
		h.setStatus("carol", switchboard.StatusOffline)
		h.wantOperator("alice", switchboard.StatusAway, 0)
		h.wantOperator("carol", switchboard.StatusOffline, 0)
		h.startChat("c1", "sales")
		h.expect("queue sales 1", "offer bob c1")
		h.advance(10 * time.Second)
		h.expect("revoke bob c1 timeout", "offer bob c1")

		// alice is back, but bob holds the offer; bob going away moves it.
		h.setStatus("alice", switchboard.StatusOnline)
		h.expect()
		h.setStatus("bob", switchboard.StatusAway)
		h.expect("revoke bob c1 timeout", "offer alice c1")
		h.setStatus("alice", switchboard.StatusOffline)
		h.expect("revoke alice c1 timeout")
		h.advance(time.Minute)
		h.expect()

		var ve *switchboard.ValidationError
		if err := h.r.SetStatus(h.ctx, h.id("alice"), "busy"); !errors.As(err, &ve) || ve.Field != "status" {
			t.Errorf("SetStatus(busy): %v, want a ValidationError for status", err)
		}
		if err := h.r.SetStatus(h.ctx, switchboard.NewID(), switchboard.StatusOnline); !errors.Is(err, switchboard.ErrNotFound) {
			t.Errorf("SetStatus of an unknown operator: %v, want ErrNotFound", err)
		}
		if _, err := h.r.Connect(h.ctx, switchboard.NewID()); !errors.Is(err, switchboard.ErrNotFound) {
			t.Errorf("Connect of an unknown operator: %v, want ErrNotFound", err)
		}
		if s, n := h.r.OperatorStatus(switchboard.NewID()); s != switchboard.StatusOffline || n != 0 {
			t.Errorf("OperatorStatus(unknown) = %s, %d", s, n)
		}
	})
}

func TestOfflineRequeuesChatsAtTheFront(t *testing.T) {
	run(t, bothBackends, func(t *testing.T, h *harness) {
		h.operator("alice", 1)
		h.operator("bob", 1)
		h.department("sales", auto, 600, 60, "alice", "bob")
		h.connect("alice")
		h.startChat("c1", "sales")
		h.accept("alice", "c1")
		h.advance(40 * time.Second)
		h.startChat("c2", "sales") // alice is busy: c2 waits
		h.advance(10 * time.Second)
		h.expect("queue sales 1", "offer alice c1", "assigned c1 alice", "queue sales 0", "queue sales 1")

		h.setStatus("alice", switchboard.StatusOffline)
		h.expect("requeued c1 alice", "queue sales 2")
		h.wantStatus("c1", switchboard.ChatQueued)
		h.wantOperator("alice", switchboard.StatusOffline, 0)

		// c1 waited already: it comes first, with a fresh wait timeout.
		h.connect("bob")
		h.expect("offer bob c1")
		h.advance(50 * time.Second) // c2 started 60 s ago
		h.expect("missed c2", "queue sales 1")
		h.advance(9 * time.Second)
		h.expect()
		h.advance(time.Second) // 60 s after the requeue
		h.expect("revoke bob c1 timeout", "missed c1", "queue sales 0")
	})
}

func TestGraceExpiryRequeues(t *testing.T) {
	run(t, bothBackends, func(t *testing.T, h *harness) {
		h.operator("alice", 5)
		h.operator("bob", 5)
		h.department("sales", auto, 600, 600, "alice", "bob")
		h.connect("alice")
		h.connect("alice") // a second tab
		h.startChat("c1", "sales")
		h.accept("alice", "c1")
		h.startChat("c2", "sales")
		h.expect("queue sales 1", "offer alice c1", "assigned c1 alice", "queue sales 0", "queue sales 1", "offer alice c2")
		h.connect("bob")

		h.r.Disconnect(h.id("alice"))
		h.advance(time.Minute)
		h.expect() // one tab is still open
		h.r.Disconnect(h.id("alice"))
		// alice cannot answer the offer any more: it moves on at once.
		h.expect("revoke alice c2 timeout", "offer bob c2")
		h.advance(testGrace - time.Millisecond)
		h.expect()
		h.wantOperator("alice", switchboard.StatusOnline, 1)
		h.advance(time.Millisecond)
		h.expect("requeued c1 alice", "queue sales 2", "offer bob c1")
		h.wantOperator("alice", switchboard.StatusOffline, 0)
		h.wantStatus("c1", switchboard.ChatQueued)

		// Coming back after the grace: online again (no status was chosen), no chats.
		if st := h.connect("alice"); st != switchboard.StatusOnline {
			t.Errorf("Connect after the grace = %s, want online", st)
		}
		h.wantOperator("alice", switchboard.StatusOnline, 0)
	})
}

func TestReconnectWithinGraceKeepsChatsAndStatus(t *testing.T) {
	run(t, sqliteOnly, func(t *testing.T, h *harness) {
		h.operator("alice", 5)
		h.department("sales", auto, 600, 600, "alice")
		h.connect("alice")
		h.startChat("c1", "sales")
		h.accept("alice", "c1")
		h.setStatus("alice", switchboard.StatusAway)
		h.expect("queue sales 1", "offer alice c1", "assigned c1 alice", "queue sales 0")
		h.r.Disconnect(h.id("alice"))
		h.advance(testGrace - time.Second)
		if st := h.connect("alice"); st != switchboard.StatusAway {
			t.Errorf("Connect within the grace = %s, want away", st)
		}
		h.advance(time.Hour)
		h.expect()
		h.wantOperator("alice", switchboard.StatusAway, 1)
		h.wantStatus("c1", switchboard.ChatOngoing)

		// A chosen status outlives the grace too; the chats do not.
		h.r.Disconnect(h.id("alice"))
		h.advance(testGrace)
		h.expect("requeued c1 alice", "queue sales 1")
		if st := h.connect("alice"); st != switchboard.StatusAway {
			t.Errorf("Connect after the grace = %s, want away (chosen earlier)", st)
		}
		h.setStatus("alice", switchboard.StatusOffline)
		if st := h.connect("alice"); st != switchboard.StatusOffline {
			t.Errorf("another connection while offline = %s, want offline", st)
		}
		h.expect()
		h.setStatus("alice", switchboard.StatusOnline)
		h.expect("offer alice c1")
	})
}

func TestDepartmentChecks(t *testing.T) {
	run(t, bothBackends, func(t *testing.T, h *harness) {
		h.operator("alice", 5)
		h.department("sales", auto, 30, 120, "alice")
		h.connect("alice")
		if _, err := h.st.UpdateDepartment(h.ctx, h.id("sales"), func(d *switchboard.Department) error {
			d.Enabled = false
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		nc := newChat(h.id("sales"))
		if _, err := h.r.StartChat(h.ctx, nc); !errors.Is(err, switchboard.ErrDepartmentDisabled) {
			t.Fatalf("StartChat in a disabled department: %v, want ErrDepartmentDisabled", err)
		}
		if _, err := h.r.StartChat(h.ctx, newChat(switchboard.NewID())); !errors.Is(err, switchboard.ErrNotFound) {
			t.Fatalf("StartChat in an unknown department: %v, want ErrNotFound", err)
		}
		h.expect()
		if q, err := h.st.QueuedChats(h.ctx); err != nil || len(q) != 0 {
			t.Errorf("QueuedChats = %v, %v; want none", q, err)
		}
		if _, err := h.st.Visitor(h.ctx, nc.Visitor.ID); !errors.Is(err, switchboard.ErrNotFound) {
			t.Errorf("the visitor of a refused chat was stored (%v)", err)
		}
	})
}

func TestPoolChangeAppliesToTheNextChat(t *testing.T) {
	run(t, bothBackends, func(t *testing.T, h *harness) {
		h.operator("alice", 5)
		h.operator("bob", 5)
		h.department("sales", auto, 10, 600, "alice")
		h.connect("alice")
		h.connect("bob")
		h.startChat("c1", "sales")
		h.expect("queue sales 1", "offer alice c1")
		h.setPool("sales", "bob")
		h.startChat("c2", "sales")
		h.expect("queue sales 2", "offer bob c2")
		// c1's next offer follows the new pool too.
		h.advance(10 * time.Second)
		h.expect("revoke alice c1 timeout", "offer bob c1", "revoke bob c2 timeout", "offer bob c2")
	})
}

func TestStartRebuildsQueues(t *testing.T) {
	run(t, bothBackends, func(t *testing.T, h *harness) {
		h.operator("alice", 5)
		h.department("short", auto, 600, 10, "alice")
		h.department("long", auto, 600, 3600, "alice")
		// Chats queued by an earlier process, which is gone.
		for chat, dept := range map[string]string{"old": "short", "young": "long"} {
			nc := newChat(h.id(dept))
			nc.Status = switchboard.ChatQueued
			c, err := h.st.CreateChat(h.ctx, nc)
			if err != nil {
				t.Fatal(err)
			}
			h.name(c.ID, chat)
		}
		// This process starts half an hour later.
		h.clock.Advance(30 * time.Minute)
		h.start(h.st)
		h.expectUnordered("missed old", "queue short 0", "queue long 1")
		h.wantStatus("old", switchboard.ChatMissed)
		if n := h.r.Waiting(h.id("long")); n != 1 {
			t.Fatalf("Waiting(long) = %d, want 1", n)
		}
		h.connect("alice")
		h.expect("offer alice young")
		// young has what is left of its hour: about 30 min.
		h.advance(29 * time.Minute)
		h.events()
		h.wantStatus("young", switchboard.ChatQueued)
		h.advance(2 * time.Minute)
		got := h.events()
		if !slices.Contains(got, "missed young") {
			t.Errorf("young was not missed an hour after it started: %q", got)
		}
	})
}

func TestCloseStopsTimers(t *testing.T) {
	run(t, sqliteOnly, func(t *testing.T, h *harness) {
		h.operator("alice", 5)
		h.operator("bob", 5)
		h.department("sales", broadcast, 10, 60, "alice", "bob")
		h.connect("alice")
		h.connect("bob")
		h.startChat("c1", "sales")
		h.r.Disconnect(h.id("bob")) // a grace timer
		h.events()
		if h.clock.pending() == 0 {
			t.Fatal("no timers before Close")
		}
		h.r.Close()
		if n := h.clock.pending(); n != 0 {
			t.Fatalf("%d timers pending after Close", n)
		}
		h.advance(time.Hour)
		h.expect()
		if _, err := h.r.StartChat(h.ctx, newChat(h.id("sales"))); !errors.Is(err, router.ErrClosed) {
			t.Errorf("StartChat after Close: %v", err)
		}
		if _, err := h.r.Connect(h.ctx, h.id("alice")); !errors.Is(err, router.ErrClosed) {
			t.Errorf("Connect after Close: %v", err)
		}
		h.r.Close() // twice is fine
	})
}

func TestEndedWhileQueued(t *testing.T) {
	run(t, sqliteOnly, func(t *testing.T, h *harness) {
		h.operator("alice", 5)
		h.operator("bob", 5)
		h.department("sales", broadcast, 30, 120, "alice", "bob")
		h.connect("alice")
		h.connect("bob")
		h.startChat("c1", "sales")
		h.events()
		h.end("c1")
		h.expectUnordered("revoke alice c1 ended", "revoke bob c1 ended", "queue sales 0")
		if _, err := h.r.Accept(h.ctx, h.id("alice"), h.id("c1")); !errors.Is(err, switchboard.ErrAlreadyTaken) {
			t.Errorf("Accept of an ended chat: %v, want ErrAlreadyTaken", err)
		}
		h.advance(time.Hour)
		h.expect()
	})
}

func TestStoreErrors(t *testing.T) {
	run(t, sqliteOnly, func(t *testing.T, h *harness) {
		fs := &faultStore{backend: h.st}
		h.r.Close()
		h.start(fs)
		h.operator("alice", 5)
		h.department("sales", auto, 10, 30, "alice")
		h.connect("alice")
		h.startChat("c1", "sales")
		h.expect("queue sales 1", "offer alice c1")

		// A failed accept keeps the offer for the rest of its ring time.
		fs.failOnce("AssignChat", switchboard.ErrUnavailable)
		h.advance(4 * time.Second)
		if _, err := h.r.Accept(h.ctx, h.id("alice"), h.id("c1")); !errors.Is(err, switchboard.ErrUnavailable) {
			t.Fatalf("Accept with the store down: %v", err)
		}
		h.advance(5 * time.Second)
		h.expect()
		h.advance(time.Second)
		h.expect("revoke alice c1 timeout", "offer alice c1")

		// A failed miss is tried again later.
		fs.failOnce("MissChat", switchboard.ErrUnavailable)
		h.advance(20 * time.Second) // ring at 20 s; wait and ring at 30 s
		h.expect("revoke alice c1 timeout", "offer alice c1", "revoke alice c1 timeout", "offer alice c1")
		h.wantStatus("c1", switchboard.ChatQueued)
		h.advance(5 * time.Second)
		h.expect("revoke alice c1 timeout", "missed c1", "queue sales 0")

		// A failed requeue leaves the chat with its operator.
		h.startChat("c2", "sales")
		h.accept("alice", "c2")
		h.events()
		fs.failOnce("RequeueChat", switchboard.ErrUnavailable)
		h.setStatus("alice", switchboard.StatusOffline)
		h.expect()
		h.wantOperator("alice", switchboard.StatusOffline, 1)
		h.wantStatus("c2", switchboard.ChatOngoing)
	})
}

func sameSet(a, b []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}

func TestDisabledOperatorGetsNoOffers(t *testing.T) {
	run(t, sqliteOnly, func(t *testing.T, h *harness) {
		h.operator("alice", 5)
		h.operator("bob", 5)
		h.department("sales", auto, 30, 120, "alice", "bob")
		h.connect("alice")
		h.advance(time.Second)
		h.connect("bob")
		h.startChat("c1", "sales")
		h.expect("queue sales 1", "offer alice c1")
		if _, err := h.st.UpdateOperator(h.ctx, h.id("alice"), func(o *switchboard.Operator) error {
			o.Enabled = false
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := h.r.OperatorUpdated(h.ctx, h.id("alice")); err != nil {
			t.Fatal(err)
		}
		h.expect("revoke alice c1 timeout", "offer bob c1")
		h.advance(30 * time.Second)
		h.expect("revoke bob c1 timeout", "offer bob c1")
	})
}
