package router_test

import (
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
)

// A reopened chat is routed like a new one; one reopened to an operator is
// that operator's, and counts against its max_chats.
func TestReopened(t *testing.T) {
	run(t, bothBackends, func(t *testing.T, h *harness) {
		h.operator("alice", 1)
		h.department("sales", auto, 30, 600, "alice")
		h.connect("alice")
		h.startChat("c1", "sales")
		h.expect("queue sales 1", "offer alice c1")
		h.accept("alice", "c1")
		h.expect("assigned c1 alice", "queue sales 0")
		h.end("c1")
		h.expect()

		// Back to the queue: offered again.
		ch, err := h.st.ReopenChat(h.ctx, h.id("c1"), "", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := h.r.Reopened(h.ctx, ch); err != nil {
			t.Fatal(err)
		}
		h.expect("queue sales 1", "offer alice c1")
		h.accept("alice", "c1")
		h.expect("assigned c1 alice", "queue sales 0")
		h.end("c1")
		h.expect()

		// Straight to alice: hers at once, and she is full.
		ch, err = h.st.ReopenChat(h.ctx, h.id("c1"), h.id("alice"), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := h.r.Reopened(h.ctx, ch); err != nil {
			t.Fatal(err)
		}
		h.expect("assigned c1 alice")
		h.wantOperator("alice", switchboard.StatusOnline, 1)
		if c := h.startChat("c2", "sales"); c.Status != switchboard.ChatQueued {
			t.Fatalf("c2 is %s, want queued", c.Status)
		}
		h.expect("queue sales 1")
		h.end("c1")
		h.expect("offer alice c2")

		// Neither queued nor ongoing: refused.
		if err := h.r.Reopened(h.ctx, h.chat("c1")); err == nil {
			t.Error("Reopened accepted a completed chat")
		}
	})
}
