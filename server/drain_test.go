package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-chat/switchboard/internal/teststore"
)

// TestDrainClosesEveryConnection: on shutdown every WebSocket client, in a
// chat or not, is told to reconnect elsewhere (1001), and Drain returns
// when they are gone.
func TestDrainClosesEveryConnection(t *testing.T) {
	n := newNode(t, teststore.Open(t, "sqlite"), nodeOptions{})
	_, tok := n.operator("olive", 5, n.dept.ID)
	op := n.operatorConn("olive", tok)
	op.waitType("hello", wait)
	idle := n.visitor("idle", n.dept.WidgetKey, "") // no chat yet
	idle.waitType("hello", wait)
	chatting := n.visitor("chatting", n.dept.WidgetKey, "")
	chatting.waitType("hello", wait)
	chatting.ok(frame{"type": "chat.start"})

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.srv.Drain(ctx); err != nil {
		t.Fatalf("drain: %v", err)
	}
	for _, c := range []*wsClient{op, idle, chatting} {
		if code := c.waitClosed(wait); code != websocket.StatusGoingAway {
			t.Errorf("%s closed with %d, want 1001", c.name, code)
		}
	}
}
