package server_test

import (
	"context"
	"net/http"
	"path"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-chat/switchboard/clientip"
	"github.com/switchboard-chat/switchboard/internal/teststore"
	"github.com/switchboard-chat/switchboard/store"
)

// dialStatusWith opens a visitor socket with extra request headers and
// returns the handshake's HTTP status (101 when it upgraded; the socket is
// then closed).
func (n *node) dialStatusWith(widgetKey string, h http.Header) int {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, wsURL(n.http.URL, "/ws/visitor?widget="+widgetKey), &websocket.DialOptions{HTTPHeader: h})
	if err == nil {
		ws.CloseNow()
		return http.StatusSwitchingProtocols
	}
	if resp == nil {
		n.t.Fatalf("dial: %v", err)
	}
	return resp.StatusCode
}

func xff(v string) http.Header { return http.Header{"X-Forwarded-For": {v}} }

// proxiedChat opens a visitor socket with header h, starts a chat, and
// returns the chat id and the visitor.ip of the offer op got for it.
func proxiedChat(t *testing.T, n *node, op *wsClient, name string, h http.Header) (chatID, offeredIP string) {
	t.Helper()
	v := dial(t, name, wsURL(n.http.URL, "/ws/visitor?widget="+n.dept.WidgetKey), h)
	v.waitType("hello", wait)
	chatID = v.ok(frame{"type": "chat.start", "name": name, "question": "where am I from?"}).str("chat_id")
	offer := op.wait(wait, "offer", isType("chat.offer", chatID))
	return chatID, offer.obj("visitor").str("ip")
}

// TestTrustedProxies: X-Forwarded-For and Forwarded are believed only from
// trusted proxies (issue 4, item 8). A node trusting 127.0.0.1 sees the
// forwarded client in the operator's offer, in the store and in blocks; a
// node trusting nobody sees the peer, 127.0.0.1, whatever the headers say.
func TestTrustedProxies(t *testing.T) {
	teststore.Each(t, func(t *testing.T, st store.Store) {
		ips, err := clientip.New("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		trusting := newNode(t, st, nodeOptions{ips: ips})
		plain := newNode(t, teststore.Open(t, path.Base(t.Name())), nodeOptions{})

		_, tTok := trusting.operator("tara", 10, trusting.dept.ID)
		tara := trusting.online("tara", tTok)
		_, pTok := plain.operator("paul", 10, plain.dept.ID)
		paul := plain.online("paul", pTok)

		// The trusting node believes the header.
		chatID, ip := proxiedChat(t, trusting, tara, "proxied", xff("203.0.113.7"))
		if ip != "203.0.113.7" {
			t.Errorf("trusting node: offer's visitor.ip = %q, want 203.0.113.7", ip)
		}
		if ch, err := st.Chat(t.Context(), chatID); err != nil || ch.VisitorIP != "203.0.113.7" {
			t.Errorf("trusting node: stored visitor_ip = %q (%v), want 203.0.113.7", ch.VisitorIP, err)
		}
		blockMe := chatID
		// A chain: the rightmost untrusted hop is the client, whatever a
		// client wrote further left; Forwarded works when there is no XFF.
		if _, ip := proxiedChat(t, trusting, tara, "chain", xff("198.51.100.1, 203.0.113.8, 127.0.0.1")); ip != "203.0.113.8" {
			t.Errorf("trusting node, chain: visitor.ip = %q, want 203.0.113.8", ip)
		}
		if _, ip := proxiedChat(t, trusting, tara, "forwarded", http.Header{"Forwarded": {`for="203.0.113.9:4711";proto=https`}}); ip != "203.0.113.9" {
			t.Errorf("trusting node, Forwarded: visitor.ip = %q, want 203.0.113.9", ip)
		}

		// The plain node does not.
		chatID, ip = proxiedChat(t, plain, paul, "spoofer", xff("203.0.113.7"))
		if ip != "127.0.0.1" {
			t.Errorf("plain node: offer's visitor.ip = %q, want 127.0.0.1", ip)
		}
		if ch, err := plain.st.Chat(t.Context(), chatID); err != nil || ch.VisitorIP != "127.0.0.1" {
			t.Errorf("plain node: stored visitor_ip = %q (%v), want 127.0.0.1", ch.VisitorIP, err)
		}

		// visitor.block blocks the forwarded address, not the proxy's.
		tara.ok(frame{"type": "chat.accept", "chat_id": blockMe})
		blk := tara.ok(frame{"type": "visitor.block", "chat_id": blockMe, "reason": "abuse"})
		if blk.str("ip") != "203.0.113.7" {
			t.Fatalf("visitor.block ack = %v, want ip 203.0.113.7", blk)
		}
		if got := trusting.dialStatusWith(trusting.dept.WidgetKey, xff("203.0.113.7")); got != http.StatusForbidden {
			t.Errorf("trusting node, blocked forwarded IP: %d, want 403", got)
		}
		if got := trusting.dialStatusWith(trusting.dept.WidgetKey, xff("203.0.113.70")); got != http.StatusSwitchingProtocols {
			t.Errorf("trusting node, a neighbour of the blocked IP: %d, want 101", got)
		}
		if got := trusting.dialStatusWith(trusting.dept.WidgetKey, nil); got != http.StatusSwitchingProtocols {
			t.Errorf("trusting node, the proxy itself: %d, want 101", got)
		}

		// A CIDR block through the API, on both nodes.
		for _, n := range []*node{trusting, plain} {
			n.api(n.adminToken, "POST", "/api/blocked-ips", map[string]any{"ip": "203.0.113.0/24", "reason": "documentation range"}, 201, nil)
		}
		for _, h := range []http.Header{
			xff("203.0.113.200"),
			xff("198.51.100.1, 203.0.113.200"), // a client's spoofed entry does not hide it
			{"Forwarded": {"for=203.0.113.201"}},
		} {
			if got := trusting.dialStatusWith(trusting.dept.WidgetKey, h); got != http.StatusForbidden {
				t.Errorf("trusting node, %v in the blocked range: %d, want 403", h, got)
			}
		}
		if got := trusting.dialStatusWith(trusting.dept.WidgetKey, xff("198.51.100.1")); got != http.StatusSwitchingProtocols {
			t.Errorf("trusting node, outside the blocked range: %d, want 101", got)
		}
		if got := plain.dialStatusWith(plain.dept.WidgetKey, xff("203.0.113.200")); got != http.StatusSwitchingProtocols {
			t.Errorf("plain node, a forwarded IP in the blocked range: %d, want 101 (the header is not believed)", got)
		}
		// And the plain node's visitors still chat.
		if _, ip := proxiedChat(t, plain, paul, "after", xff("203.0.113.200")); ip != "127.0.0.1" {
			t.Errorf("plain node after the block: visitor.ip = %q", ip)
		}
	})
}
