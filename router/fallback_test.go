package router_test

import (
	"context"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/router"
)

// setFallback makes fallback the fallback department of dept.
func (h *harness) setFallback(dept, fallback string) {
	h.t.Helper()
	_, err := h.st.UpdateDepartment(h.ctx, h.id(dept), func(d *switchboard.Department) error {
		d.FallbackDepartmentID = h.id(fallback)
		return nil
	})
	if err != nil {
		h.t.Fatalf("set fallback of %s: %v", dept, err)
	}
}

// wantFallbackHop checks that the chat's only hop is a fallback from one
// department to another.
func (h *harness) wantFallbackHop(chat, from, to string) {
	h.t.Helper()
	ts, ok := h.st.(interface {
		Transfers(ctx context.Context, chatID string) ([]switchboard.Transfer, error)
	})
	if !ok {
		h.t.Fatal("the backend does not list transfers")
	}
	hops, err := ts.Transfers(h.ctx, h.id(chat))
	if err != nil {
		h.t.Fatalf("Transfers(%s): %v", chat, err)
	}
	if len(hops) != 1 || hops[0].Note != router.FallbackNote || hops[0].FromDepartmentID != h.id(from) ||
		hops[0].ToDepartmentID != h.id(to) || hops[0].FromOperatorID != "" || hops[0].ToOperatorID != "" {
		h.t.Errorf("hops of %s = %+v, want one fallback hop from %s to %s", chat, hops, from, to)
	}
}

func TestFallbackWhenNobodyOnline(t *testing.T) {
	run(t, bothBackends, func(t *testing.T, h *harness) {
		h.operator("alice", 5)
		h.operator("bob", 5)
		h.department("sales", auto, 10, 60, "alice")
		h.department("overflow", auto, 10, 30, "bob")
		h.setFallback("sales", "overflow")
		if h.r.DepartmentOnline(h.id("sales")) {
			t.Error("DepartmentOnline(sales) with nobody online here nor in the fallback")
		}
		h.connect("bob")
		h.events()
		if !h.r.DepartmentOnline(h.id("sales")) {
			t.Error("DepartmentOnline(sales) = false with bob online in the fallback")
		}

		c := h.startChat("c1", "sales")
		if c.Status != switchboard.ChatQueued || c.DepartmentID != h.id("overflow") || c.DepartmentName != "overflow" {
			t.Fatalf("StartChat returned %+v, want it queued in overflow", c)
		}
		h.expect("queue overflow 1", "offer bob c1")
		if o := h.rec.lastOffer(); o.Department.ID != h.id("overflow") || !o.ExpiresAt.Equal(h.clock.Now().Add(10*time.Second)) {
			t.Errorf("offer = %+v, want overflow's, ringing 10s", o)
		}
		h.wantFallbackHop("c1", "sales", "overflow")
		got := h.accept("bob", "c1")
		if got.OperatorID != h.id("bob") || got.DepartmentID != h.id("overflow") {
			t.Errorf("accepted chat = %+v", got)
		}
		h.expect("assigned c1 bob", "queue overflow 0")

		// Nobody online in the fallback either: missed at once.
		h.setStatus("bob", switchboard.StatusAway)
		h.events()
		c2 := h.startChat("c2", "sales")
		if c2.Status != switchboard.ChatMissed || c2.DepartmentID != h.id("sales") {
			t.Fatalf("StartChat returned %+v, want it missed in sales", c2)
		}
		h.expect("missed c2")

		// A disabled fallback is not used.
		h.setStatus("bob", switchboard.StatusOnline)
		if _, err := h.st.UpdateDepartment(h.ctx, h.id("overflow"), func(d *switchboard.Department) error {
			d.Enabled = false
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		h.events()
		h.startChat("c3", "sales")
		h.expect("missed c3")
	})
}

func TestFallbackAtWaitTimeoutThenMissed(t *testing.T) {
	run(t, bothBackends, func(t *testing.T, h *harness) {
		h.operator("alice", 5)
		h.operator("bob", 5)
		h.department("sales", auto, 10, 15, "alice")
		h.department("overflow", auto, 10, 25, "bob")
		h.setFallback("sales", "overflow")
		h.setFallback("overflow", "sales") // not followed: no loop
		h.connect("alice")
		h.connect("bob")
		h.events()

		h.startChat("c1", "sales")
		h.expect("queue sales 1", "offer alice c1")
		h.advance(10 * time.Second)
		h.expect("revoke alice c1 timeout", "offer alice c1")
		h.advance(5 * time.Second) // sales' wait timeout
		h.expect("revoke alice c1 timeout", "queue sales 0", "queue overflow 1", "offer bob c1")
		h.wantStatus("c1", switchboard.ChatQueued)
		if got := h.chat("c1"); got.DepartmentID != h.id("overflow") {
			t.Errorf("chat is in %s, want overflow", got.DepartmentID)
		}
		h.wantFallbackHop("c1", "sales", "overflow")
		// Alice's offer is gone: she cannot take it any more.
		if _, err := h.r.Accept(h.ctx, h.id("alice"), h.id("c1")); err == nil {
			t.Error("alice accepted a chat that moved to the fallback")
		}

		// A fresh wait timeout in overflow (25s), then missed.
		h.advance(10 * time.Second)
		h.expect("revoke bob c1 timeout", "offer bob c1")
		h.advance(10 * time.Second)
		h.expect("revoke bob c1 timeout", "offer bob c1")
		h.advance(5*time.Second - time.Millisecond)
		h.expect()
		h.advance(time.Millisecond)
		h.expect("revoke bob c1 timeout", "missed c1", "queue overflow 0")
		h.wantStatus("c1", switchboard.ChatMissed)
		h.wantFallbackHop("c1", "sales", "overflow")
	})
}

func TestFallbackAtWaitTimeoutWithNobodyThereMisses(t *testing.T) {
	run(t, sqliteOnly, func(t *testing.T, h *harness) {
		h.operator("alice", 5)
		h.operator("bob", 5)
		h.department("sales", auto, 10, 15, "alice")
		h.department("overflow", auto, 10, 25, "bob")
		h.setFallback("sales", "overflow")
		h.connect("alice")
		h.events()
		h.startChat("c1", "sales")
		h.expect("queue sales 1", "offer alice c1")
		h.advance(15 * time.Second)
		h.expect("revoke alice c1 timeout", "offer alice c1", "revoke alice c1 timeout", "missed c1", "queue sales 0")
		h.wantStatus("c1", switchboard.ChatMissed)
		if got := h.chat("c1"); got.DepartmentID != h.id("sales") {
			t.Errorf("missed chat is in %s, want sales", got.DepartmentID)
		}
	})
}
