package server_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-chat/switchboard/auth"
	"github.com/switchboard-chat/switchboard/internal/teststore"
	"github.com/switchboard-chat/switchboard/session"
	"github.com/switchboard-chat/switchboard/store"
)

// pair is a control conversation: a visitor and an operator in an ongoing
// chat. Bad-input tests prove it saw nothing unusual.
type pair struct {
	v, op  *wsClient
	chatID string
	n      int
}

func newPair(t testing.TB, n *node, name string) *pair {
	t.Helper()
	_, tok := n.operator(name, 20, n.dept.ID)
	op := n.operatorConn(name, tok)
	op.waitType("hello", wait)
	op.ok(frame{"type": "status.set", "status": "online"})
	v := n.visitor(name+"-visitor", n.dept.WidgetKey, "")
	v.waitType("hello", wait)
	chatID := v.ok(frame{"type": "chat.start", "name": "Control"}).str("chat_id")
	op.wait(wait, "offer", func(f frame) bool { return f.str("type") == "chat.offer" && f.str("chat_id") == chatID })
	op.ok(frame{"type": "chat.accept", "chat_id": chatID})
	v.waitType("chat.assigned", wait)
	return &pair{v: v, op: op, chatID: chatID}
}

// check sends one message each way and expects it delivered promptly.
func (p *pair) check(t testing.TB) {
	t.Helper()
	p.n++
	body := "control " + strings.Repeat("!", p.n)
	p.v.ok(frame{"type": "message.send", "chat_id": p.chatID, "client_msg_id": "c" + body, "body": body})
	p.op.wait(2*time.Second, "control message", func(f frame) bool { return f.str("type") == "message" && f.str("body") == body })
	p.op.ok(frame{"type": "message.send", "chat_id": p.chatID, "client_msg_id": "o" + body, "body": "re " + body})
	p.v.wait(2*time.Second, "control reply", func(f frame) bool { return f.str("type") == "message" && f.str("body") == "re "+body })
}

func TestVisitorBadInput(t *testing.T) {
	teststore.Each(t, func(t *testing.T, st store.Store) {
		n := newNode(t, st, nodeOptions{})
		control := newPair(t, n, "ctl")
		v := n.visitor("bad", n.dept.WidgetKey, "")
		v.waitType("hello", wait)
		chatID := v.ok(frame{"type": "chat.start"}).str("chat_id")

		bad := []struct {
			raw   string
			code  string
			field string
		}{
			{`{nope`, "bad_request", ""},
			{`[1,2,3]`, "bad_request", ""},
			{`"just a string"`, "bad_request", ""},
			{`{"ref":"x"}`, "bad_request", "type"},
			{`{"type":"launch.rockets","ref":"x"}`, "bad_request", "type"},
			{`{"type":"message.send","ref":"x","client_msg_id":"a","body":"hi"}`, "bad_request", "chat_id"},
			{`{"type":"message.send","ref":"x","chat_id":"` + chatID + `","body":"hi"}`, "bad_request", "client_msg_id"},
			{`{"type":"message.send","ref":"x","chat_id":"` + chatID + `","client_msg_id":"a"}`, "bad_request", "body"},
			{`{"type":"message.send","ref":"x","chat_id":"` + chatID + `","client_msg_id":"a","body":"  \n "}`, "bad_request", "body"},
			{`{"type":"message.send","ref":"x","chat_id":"` + chatID + `","client_msg_id":"a","body":42}`, "bad_request", "body"},
			{`{"type":"message.send","ref":"x","chat_id":"` + chatID + `","client_msg_id":"a","body":"` + strings.Repeat("a", 8193) + `"}`, "too_large", "body"},
			{`{"type":"message.send","ref":"x","chat_id":"` + control.chatID + `","client_msg_id":"a","body":"hijack"}`, "not_found", ""},
			{`{"type":"chat.resume","ref":"x","chat_id":"` + control.chatID + `","after_seq":0}`, "not_found", ""},
			{`{"type":"chat.end","ref":"x","chat_id":"` + control.chatID + `"}`, "not_found", ""},
			{`{"type":"chat.resume","ref":"x","chat_id":"` + chatID + `","after_seq":"zero"}`, "bad_request", "after_seq"},
			{`{"type":"chat.resume","ref":"x","chat_id":"` + chatID + `"}`, "bad_request", "after_seq"},
			{`{"type":"feedback","ref":"x","chat_id":"` + chatID + `","rating":9}`, "bad_request", "rating"},
			{`{"type":"chat.start","ref":"x","email":"not an email"}`, "bad_request", "email"},
			{`{"type":"chat.start","ref":"x","name":"a\nb"}`, "bad_request", "name"},
			{`{"type":"chat.accept","ref":"x","chat_id":"` + chatID + `"}`, "bad_request", "type"},
			{`{"type":"message.send","ref":"` + strings.Repeat("r", 65) + `"}`, "bad_request", "ref"},
		}
		for _, b := range bad {
			v.sendRaw(websocket.MessageText, []byte(b.raw))
			e := v.waitType("error", wait)
			if e.str("code") != b.code || e.str("field") != b.field || e.str("message") == "" {
				t.Errorf("%.80s: got %v, want code %q field %q", b.raw, e, b.code, b.field)
			}
		}
		v.sendRaw(websocket.MessageBinary, []byte(`{"type":"typing"}`))
		if e := v.waitType("error", wait); e.str("code") != "bad_request" {
			t.Fatalf("binary frame: %v", e)
		}
		v.sendRaw(websocket.MessageText, []byte("{\"type\":\"\xff\xfe\"}"))
		if e := v.waitType("error", wait); e.str("code") != "bad_request" {
			t.Fatalf("invalid UTF-8: %v", e)
		}

		// Exactly the limit is fine, counted in UTF-8 bytes.
		exact := strings.Repeat("あ", 2730) + "ab" // 8192 bytes
		first := v.ok(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": "m1", "body": exact})
		again := v.ok(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": "m1", "body": exact})
		if first.num("seq") != again.num("seq") || first.num("seq") == 0 {
			t.Fatalf("retry got seq %v, first %v", again["seq"], first["seq"])
		}
		v.refused(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": "m1", "body": "different"}, "conflict")
		msgs, err := st.Messages(t.Context(), chatID, 0, 100)
		if err != nil || len(msgs) != 1 || msgs[0].Body != exact {
			t.Fatalf("stored %d messages (%v), want exactly the one", len(msgs), err)
		}
		if msgs, _ := st.Messages(t.Context(), control.chatID, 0, 100); len(msgs) != 1 { // the "joined" notice only
			t.Fatalf("the control chat got %d messages from bad input", len(msgs))
		}
		control.check(t)
	})
}

func TestOperatorBadInput(t *testing.T) {
	teststore.Each(t, func(t *testing.T, st store.Store) {
		n := newNode(t, st, nodeOptions{})
		control := newPair(t, n, "ctl")
		_, tok := n.operator("mallory", 5, n.dept.ID)
		op := n.operatorConn("mallory", tok)
		op.waitType("hello", wait)
		op.refused(frame{"type": "chat.accept", "chat_id": control.chatID}, "already_taken")
		op.refused(frame{"type": "message.send", "chat_id": control.chatID, "client_msg_id": "x", "body": "hi"}, "forbidden")
		op.refused(frame{"type": "chat.end", "chat_id": control.chatID}, "forbidden")
		op.refused(frame{"type": "chat.resume", "chat_id": control.chatID, "after_seq": 0}, "forbidden")
		op.refused(frame{"type": "status.set", "status": "busy"}, "bad_request")
		op.refused(frame{"type": "chat.accept", "chat_id": "nosuchchat"}, "not_found")
		op.refused(frame{"type": "chat.start"}, "bad_request")

		// A queued chat offered to someone else cannot be taken by mallory.
		op.ok(frame{"type": "status.set", "status": "away"})
		v := n.visitor("v", n.dept.WidgetKey, "")
		v.waitType("hello", wait)
		chatID := v.ok(frame{"type": "chat.start"}).str("chat_id")
		control.op.wait(wait, "offer", func(f frame) bool { return f.str("type") == "chat.offer" && f.str("chat_id") == chatID })
		op.refused(frame{"type": "chat.accept", "chat_id": chatID}, "forbidden")
		control.op.ok(frame{"type": "chat.accept", "chat_id": chatID})
		control.check(t)
	})
}

func TestHandshakeRefusals(t *testing.T) {
	teststore.Each(t, func(t *testing.T, st store.Store) {
		n := newNode(t, st, nodeOptions{})
		status := func(path string, h http.Header) int {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			ws, resp, err := websocket.Dial(ctx, wsURL(n.http.URL, path), &websocket.DialOptions{HTTPHeader: h})
			if err == nil {
				ws.CloseNow()
				return 101
			}
			if resp == nil {
				t.Fatalf("%s: %v", path, err)
			}
			return resp.StatusCode
		}
		priv := n.department("Internal", 30, 120)
		n.api(n.adminToken, "PATCH", "/api/departments/"+priv.ID, map[string]any{"visibility": "private"}, 200, nil)
		if got := status("/ws/visitor?widget="+priv.WidgetKey, nil); got != 404 {
			t.Errorf("private department's old key: %d", got)
		}
		if got := status("/ws/visitor?widget=nosuch", nil); got != 404 {
			t.Errorf("unknown widget: %d", got)
		}
		shop := n.department("Shop", 30, 120)
		n.api(n.adminToken, "PATCH", "/api/departments/"+shop.ID, map[string]any{"allowed_origins": "https://shop.example.com"}, 200, nil)
		if got := status("/ws/visitor?widget="+shop.WidgetKey, http.Header{"Origin": {"https://evil.example.com"}}); got != 403 {
			t.Errorf("bad origin: %d", got)
		}
		if got := status("/ws/visitor?widget="+shop.WidgetKey, http.Header{"Origin": {"https://shop.example.com:443"}}); got != 101 {
			t.Errorf("allowed origin: %d", got)
		}
		n.api(n.adminToken, "PATCH", "/api/departments/"+shop.ID, map[string]any{"enabled": false}, 200, nil)
		if got := status("/ws/visitor?widget="+shop.WidgetKey, http.Header{"Origin": {"https://shop.example.com"}}); got != 404 {
			t.Errorf("disabled department: %d", got)
		}

		if got := status("/ws/operator", nil); got != 401 {
			t.Errorf("operator without credentials: %d", got)
		}
		if got := status("/ws/operator", http.Header{"Authorization": {"Bearer forged"}}); got != 401 {
			t.Errorf("forged bearer: %d", got)
		}
		if got := status("/ws/operator?ticket=forged", nil); got != 401 {
			t.Errorf("forged ticket: %d", got)
		}
		var ticket struct{ Ticket string }
		n.api(n.adminToken, "POST", "/api/ws-ticket", nil, 201, &ticket)
		if got := status("/ws/operator?ticket="+ticket.Ticket, http.Header{"Origin": {"https://evil.example.com"}}); got != 403 {
			t.Errorf("ticket from a foreign origin: %d", got)
		}
		if got := status("/ws/operator?ticket="+ticket.Ticket, nil); got != 101 {
			t.Errorf("fresh ticket: %d", got)
		}
		if got := status("/ws/operator?ticket="+ticket.Ticket, nil); got != 401 {
			t.Errorf("ticket used twice: %d", got)
		}

		// A forged or expired visitor token is refused after the upgrade with 4001.
		v := n.visitor("forger", n.dept.WidgetKey, "someone.9999999999.forgedsignature")
		if code := v.waitClosed(wait); code != 4001 {
			t.Errorf("forged visitor token closed with %d, want 4001", code)
		}
		key, err := st.EnsureSetting(t.Context(), "visitor_token_key", "unused")
		if err != nil {
			t.Fatal(err)
		}
		tokens, err := auth.NewVisitorTokens([]byte(key), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		expired := tokens.Sign("visitor1", time.Now().Add(-2*time.Hour))
		if code := n.visitor("late", n.dept.WidgetKey, expired).waitClosed(wait); code != 4001 {
			t.Errorf("expired visitor token closed with %d, want 4001", code)
		}
		valid := tokens.Sign("visitor1", time.Now())
		if h := n.visitor("valid", n.dept.WidgetKey, valid).waitType("hello", wait); h.str("visitor_id") != "visitor1" {
			t.Errorf("a valid token's hello = %v", h)
		}
	})
}

func TestLimits(t *testing.T) {
	teststore.Each(t, func(t *testing.T, st store.Store) {
		n := newNode(t, st, nodeOptions{live: session.Config{Rate: 5, Burst: 5, IPMaxChatsPerHour: 3}})
		control := newPair(t, n, "ctl")

		v := n.visitor("flooder", n.dept.WidgetKey, "")
		v.waitType("hello", wait)
		for range 12 {
			v.send(frame{"type": "typing", "chat_id": "x", "on": true})
		}
		e := v.wait(wait, "rate_limited", func(f frame) bool { return f.str("code") == "rate_limited" })
		if e.num("retry_after_ms") <= 0 {
			t.Fatalf("rate_limited without retry_after_ms: %v", e)
		}
		time.Sleep(1200 * time.Millisecond) // tokens come back; the connection lives on
		v.refused(frame{"type": "typing", "chat_id": "nosuch", "on": true}, "not_found")
		for range 60 {
			data, _ := json.Marshal(frame{"type": "typing", "chat_id": "x", "on": true})
			if err := v.ws.Write(context.Background(), websocket.MessageText, data); err != nil {
				break // the server already hung up
			}
		}
		if code := v.waitClosed(wait); code != 4429 {
			t.Fatalf("sustained flood closed with %d, want 4429", code)
		}

		// New chats per IP per hour (the control pair used one).
		v2 := n.visitor("chatty", n.dept.WidgetKey, "")
		v2.waitType("hello", wait)
		v2.ok(frame{"type": "chat.start"})
		v2.ok(frame{"type": "chat.start"})
		v2.refused(frame{"type": "chat.start"}, "rate_limited")

		// A frame over 64 KiB closes the connection with 1009.
		big := n.visitor("big", n.dept.WidgetKey, "")
		big.waitType("hello", wait)
		big.sendRaw(websocket.MessageText, []byte(`{"type":"typing","pad":"`+strings.Repeat("x", 70<<10)+`"}`))
		if code := big.waitClosed(wait); code != websocket.StatusMessageTooBig {
			t.Fatalf("oversize frame closed with %d, want 1009", code)
		}
		time.Sleep(1100 * time.Millisecond) // the control pair's own rate budget
		control.check(t)
	})
}

// TestSlowConsumer: a visitor that stops reading is disconnected (4008)
// when its queue fills, others are not slowed, and a resume loses nothing.
func TestSlowConsumer(t *testing.T) {
	teststore.Each(t, func(t *testing.T, st store.Store) {
		n := newNode(t, st, nodeOptions{live: session.Config{SendQueue: 16, MaxMessageBytes: 50000}})
		control := newPair(t, n, "ctl")
		_, tok := n.operator("writer", 5, n.dept.ID)
		isMessage := func(f frame) bool { return f.str("type") == "message" }
		op := dialDropping(t, "writer", wsURL(n.http.URL, "/ws/operator"), http.Header{"Authorization": {"Bearer " + tok}}, isMessage)
		op.waitType("hello", wait)
		control.op.ok(frame{"type": "status.set", "status": "away"})
		op.ok(frame{"type": "status.set", "status": "online"})

		// A raw visitor with a tiny receive buffer that reads its hello and
		// the chat.start ack, then stops reading.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		dialer := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		}}
		raw, _, err := websocket.Dial(ctx, wsURL(n.http.URL, "/ws/visitor?widget="+n.dept.WidgetKey),
			&websocket.DialOptions{HTTPClient: &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}})
		if err != nil {
			t.Fatal(err)
		}
		defer raw.CloseNow()
		raw.SetReadLimit(1 << 20)
		_, data, err := raw.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		token := frameOf(t, data).str("visitor_token")
		_ = raw.Write(ctx, websocket.MessageText, []byte(`{"type":"chat.start","ref":"s"}`))
		_, data, err = raw.Read(ctx)
		if err != nil || !strings.Contains(string(data), `"chat_id"`) {
			t.Fatalf("start: %s %v", data, err)
		}
		chatID := frameOf(t, data).str("chat_id")
		op.wait(wait, "offer", func(f frame) bool { return f.str("type") == "chat.offer" && f.str("chat_id") == chatID })
		op.ok(frame{"type": "chat.accept", "chat_id": chatID})

		// 20 MB for a reader that takes nothing: far past its queue and the
		// kernel's socket buffers. The writer itself waits for its acks every
		// few messages, so its own queue (acks and echoes) stays short.
		body := strings.Repeat("z", 50000)
		const sent = 400
		for i := 0; i < sent && n.srv.Live.Stats().SlowConsumers == 0; i++ {
			op.send(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": "big" + itoa(i), "body": body, "ref": "b" + itoa(i)})
			if i%5 == 4 {
				op.wait(time.Minute, "ack", func(f frame) bool { return f.str("ref") == "b"+itoa(i) })
			}
			if i%50 == 49 {
				control.check(t) // others are not held up
			}
		}
		if n.srv.Live.Stats().SlowConsumers == 0 {
			t.Fatal("20 MB unread and the visitor was never cut off")
		}
		// Now read: after what the buffers held, the server's 4008.
		var lastSeq int64
		for {
			_, data, err := raw.Read(ctx)
			if err != nil {
				if code := websocket.CloseStatus(err); code != 4008 {
					t.Fatalf("slow consumer closed with %d (%v), want 4008", code, err)
				}
				break
			}
			if f := frameOf(t, data); f.str("type") == "message" {
				lastSeq = f.num("seq")
			}
		}
		chat, _ := st.Chat(t.Context(), chatID)
		if lastSeq >= chat.LastSeq {
			t.Fatalf("the slow consumer got everything (seq %d of %d): it was never cut off", lastSeq, chat.LastSeq)
		}
		// It comes back and resumes: nothing lost.
		v := n.visitor("back", n.dept.WidgetKey, token)
		v.waitType("hello", wait)
		v.ok(frame{"type": "chat.resume", "chat_id": chatID, "after_seq": lastSeq})
		checkRun(t, "resumed slow consumer", seqsOf(drainMessages(v, chatID, chat.LastSeq)), lastSeq+1, chat.LastSeq)
		control.check(t)
	})
}
