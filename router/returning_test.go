package router_test

import (
	"testing"
	"time"
)

// startChatAs starts a chat named chat in dept for the visitor with that id.
func (h *harness) startChatAs(chat, dept, visitorID string) {
	h.t.Helper()
	nc := newChat(h.id(dept))
	nc.Visitor.ID = visitorID
	c, err := h.r.StartChat(h.ctx, nc)
	if err != nil {
		h.t.Fatalf("StartChat(%s in %s): %v", chat, dept, err)
	}
	h.name(c.ID, chat)
}

func TestReturningVisitorGoesFirstToLastOperator(t *testing.T) {
	run(t, bothBackends, func(t *testing.T, h *harness) {
		h.operator("alice", 5)
		h.operator("bob", 1)
		h.department("sales", auto, 10, 120, "alice", "bob")
		h.connect("bob")
		h.advance(time.Second)
		h.connect("alice")
		h.advance(time.Second)

		// Bob is idle longest: he serves the visitor's first chat.
		h.startChatAs("c1", "sales", "vera")
		h.expect("queue sales 1", "offer bob c1")
		h.accept("bob", "c1")
		h.end("c1")
		h.expect("assigned c1 bob", "queue sales 0")
		h.advance(time.Second)

		// Alice is idle longest now, but vera comes back: bob first.
		h.startChatAs("c2", "sales", "vera")
		h.expect("queue sales 1", "offer bob c2")
		// A new visitor goes the usual way.
		h.startChatAs("c3", "sales", "walt")
		h.expect("queue sales 2", "offer alice c3")
		h.accept("alice", "c3")
		h.expect("assigned c3 alice", "queue sales 1")

		// Bob lets it ring out: routing goes on as usual, to alice.
		h.advance(10 * time.Second)
		h.expect("revoke bob c2 timeout", "offer alice c2")
		h.accept("alice", "c2")
		h.expect("assigned c2 alice", "queue sales 0")
		h.end("c2")
		h.end("c3")
		h.events()

		// The last answered chat was alice's; she is offline now, so the
		// next one goes to bob as usual.
		h.advance(time.Second)
		h.r.Disconnect(h.id("alice"))
		h.advance(testGrace)
		h.events()
		h.startChatAs("c4", "sales", "vera")
		h.expect("queue sales 1", "offer bob c4")
		h.accept("bob", "c4")
		h.expect("assigned c4 bob", "queue sales 0")

		// Bob at his max_chats: vera's next chat waits for the usual route.
		h.connect("alice")
		h.events()
		h.startChatAs("c5", "sales", "vera")
		h.expect("queue sales 1", "offer alice c5")
	})
}

func TestReturningVisitorBroadcastStillOffersEveryone(t *testing.T) {
	run(t, sqliteOnly, func(t *testing.T, h *harness) {
		h.operator("alice", 5)
		h.operator("bob", 5)
		h.department("sales", broadcast, 10, 120, "alice", "bob")
		h.connect("alice")
		h.connect("bob")
		h.startChatAs("c1", "sales", "vera")
		h.expectUnordered("queue sales 1", "offer alice c1", "offer bob c1")
		h.accept("bob", "c1")
		h.end("c1")
		h.events()
		h.startChatAs("c2", "sales", "vera")
		h.expectUnordered("queue sales 1", "offer alice c2", "offer bob c2")
	})
}
