package server_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/internal/teststore"
	"github.com/switchboard-chat/switchboard/session"
	"github.com/switchboard-chat/switchboard/store"
)

const wait = 10 * time.Second

// drainMessages takes every buffered message frame of a chat (in arrival
// order) until one with seq untilSeq arrived (0: whatever is buffered).
func drainMessages(c *wsClient, chatID string, untilSeq int64) []frame {
	c.t.Helper()
	var out []frame
	isMsg := func(f frame) bool { return f.str("type") == "message" && f.str("chat_id") == chatID }
	for {
		if untilSeq == 0 {
			f, err := c.tryWait(200*time.Millisecond, isMsg)
			if err != nil {
				return out
			}
			out = append(out, f)
			continue
		}
		f := c.wait(30*time.Second, fmt.Sprintf("message seq %d", untilSeq), isMsg)
		out = append(out, f)
		if f.num("seq") >= untilSeq {
			return out
		}
	}
}

func seqsOf(frames []frame) []int64 {
	out := make([]int64, len(frames))
	for i, f := range frames {
		out[i] = f.num("seq")
	}
	return out
}

// checkRun fails unless seqs are exactly from, from+1, …, to.
func checkRun(t *testing.T, who string, seqs []int64, from, to int64) {
	t.Helper()
	if int64(len(seqs)) != to-from+1 {
		seen := map[int64]int{}
		for _, s := range seqs {
			seen[s]++
		}
		var odd []string
		for s := from; s <= to && len(odd) < 10; s++ {
			if seen[s] != 1 {
				odd = append(odd, fmt.Sprintf("seq %d ×%d", s, seen[s]))
			}
		}
		t.Fatalf("%s saw %d messages, want %d (seq %d..%d); first %v; wrong: %v", who, len(seqs), to-from+1, from, to, seqs[:min(len(seqs), 10)], odd)
	}
	for i, s := range seqs {
		if s != from+int64(i) {
			t.Fatalf("%s: message %d has seq %d, want %d (gap, duplicate or reorder)", who, i, s, from+int64(i))
		}
	}
}

// TestChatStory is the live-chat core's "done when", over real WebSockets
// on both store backends: a visitor opens a chat, the online operator is
// offered it and accepts, they exchange 1,000 messages each way while the
// visitor drops and resumes, the operator ends the chat and the visitor
// leaves feedback.
func TestChatStory(t *testing.T) {
	teststore.Each(t, func(t *testing.T, st store.Store) {
		n := newNode(t, st, nodeOptions{})
		_, aliceToken := n.operator("alice", 5, n.dept.ID)
		op := n.operatorConn("alice", aliceToken)
		if h := op.waitType("hello", wait); h.obj("operator").str("name") != "alice" || len(h["departments"].([]any)) != 1 {
			t.Fatalf("operator hello = %v", h)
		}
		if st := op.ok(frame{"type": "status.set", "status": "online"}); st.str("status") != "online" {
			t.Fatalf("status ack = %v", st)
		}

		v := n.visitor("visitor", n.dept.WidgetKey, "")
		vh := v.waitType("hello", wait)
		if vh.obj("department").str("name") != "Acme" || vh["online"] != true || vh.str("visitor_token") == "" {
			t.Fatalf("visitor hello = %v", vh)
		}
		start := v.ok(frame{"type": "chat.start", "name": "Yuki", "email": "yuki@example.com", "question": "配送について教えてください"})
		chatID := start.str("chat_id")
		if chatID == "" || start.str("status") != "queued" {
			t.Fatalf("chat.start ack = %v", start)
		}
		if q := v.waitType("message", wait); q.num("seq") != 1 || q.str("body") != "配送について教えてください" || q.obj("from").str("kind") != "visitor" {
			t.Fatalf("question message = %v", q)
		}

		offer := op.waitType("chat.offer", wait)
		if offer.str("chat_id") != chatID || offer.obj("visitor").str("name") != "Yuki" || offer.str("question") == "" || offer.obj("department").str("id") != n.dept.ID {
			t.Fatalf("offer = %v", offer)
		}
		op.ok(frame{"type": "chat.accept", "chat_id": chatID})
		if a := v.waitType("chat.assigned", wait); a.obj("operator").str("name") != "alice" {
			t.Fatalf("chat.assigned = %v", a)
		}
		joined := v.wait(wait, "joined notice", func(f frame) bool { return f.str("type") == "message" && f.obj("from").str("kind") == "system" })
		if joined.num("seq") != 2 {
			t.Fatalf("joined notice = %v", joined)
		}
		// The operator is live in the chat from the accept on (it sees the
		// "joined" notice), then loads the history with a resume from 0.
		op.wait(wait, "joined notice", func(f frame) bool { return f.str("type") == "message" && f.num("seq") == 2 })
		if r := op.ok(frame{"type": "chat.resume", "chat_id": chatID, "after_seq": 0}); r.num("last_seq") < 2 {
			t.Fatalf("operator resume ack = %v", r)
		}

		// 1,000 messages each way, both sides sending at once; the visitor
		// drops after its 500th and comes back.
		const each = 1000
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				op.send(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": "op-" + strconv.Itoa(i), "body": "operator says " + strconv.Itoa(i), "ref": "op-" + strconv.Itoa(i)})
			}
		}()
		acked := map[string]bool{}
		for i := range each / 2 {
			id := "v-" + strconv.Itoa(i)
			v.send(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": id, "body": "visitor says " + strconv.Itoa(i), "ref": id})
		}
		// Wait for a few acks, then drop the connection with sends in flight.
		for i := range 100 {
			v.wait(wait, "ack", func(f frame) bool { return f.str("ref") == "v-"+strconv.Itoa(i) })
			acked["v-"+strconv.Itoa(i)] = true
		}
		v.ws.CloseNow()
		v.waitClosed(wait)
		firstView := append([]frame{{"seq": float64(1)}, {"seq": float64(2)}}, drainMessages(v, chatID, 0)...)
		for _, f := range v.frames {
			if f.str("type") == "ack" {
				acked[f.str("ref")] = true
			}
		}
		lastSeen := firstView[len(firstView)-1].num("seq")
		checkRun(t, "visitor before the drop", seqsOf(firstView), 1, lastSeen)

		v2 := n.visitor("visitor again", n.dept.WidgetKey, vh.str("visitor_token"))
		h2 := v2.waitType("hello", wait)
		if h2.str("visitor_id") != vh.str("visitor_id") || len(h2["chats"].([]any)) != 1 || frame(h2["chats"].([]any)[0].(map[string]any)).str("chat_id") != chatID {
			t.Fatalf("returning visitor's hello = %v", h2)
		}
		if r := v2.ok(frame{"type": "chat.resume", "chat_id": chatID, "after_seq": lastSeen}); r.str("status") != "ongoing" {
			t.Fatalf("resume ack = %v", r)
		}
		// Unacked sends are retried with the same client_msg_id: no duplicates.
		for i := range each {
			id := "v-" + strconv.Itoa(i)
			if !acked[id] {
				v2.send(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": id, "body": "visitor says " + strconv.Itoa(i), "ref": id})
			}
		}
		wg.Wait()
		for i := range each {
			id := "op-" + strconv.Itoa(i)
			op.wait(wait, "ack "+id, func(f frame) bool { return f.str("ref") == id && f.str("type") == "ack" })
		}
		for i := range each {
			id := "v-" + strconv.Itoa(i)
			if !acked[id] {
				v2.wait(wait, "ack "+id, func(f frame) bool { return f.str("ref") == id && f.str("type") == "ack" })
			}
		}
		total := int64(2 + 2*each)
		checkRun(t, "visitor after resume", seqsOf(drainMessages(v2, chatID, total)), lastSeen+1, total)
		checkRun(t, "operator", seqsOf(drainMessages(op, chatID, total)), 1, total)

		op.ok(frame{"type": "chat.end", "chat_id": chatID})
		if e := v2.waitType("chat.ended", wait); e.obj("by").str("kind") != "operator" || e.str("at") == "" {
			t.Fatalf("chat.ended = %v", e)
		}
		v2.ok(frame{"type": "feedback", "chat_id": chatID, "rating": 5, "comment": "とても助かりました"})
		v2.refused(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": "late", "body": "hello?"}, "conflict")

		// The store agrees: every message exactly once, seq 1..N, completed, rated.
		msgs, err := st.Messages(t.Context(), chatID, 0, 10000)
		if err != nil {
			t.Fatal(err)
		}
		seqs := make([]int64, len(msgs))
		ids := map[string]bool{}
		for i, m := range msgs {
			seqs[i] = m.Seq
			if ids[m.ClientMsgID] {
				t.Fatalf("client_msg_id %q stored twice", m.ClientMsgID)
			}
			ids[m.ClientMsgID] = true
		}
		checkRun(t, "store", seqs, 1, total+1) // + the "ended" notice
		chat, err := st.Chat(t.Context(), chatID)
		if err != nil {
			t.Fatal(err)
		}
		if chat.Status != switchboard.ChatCompleted || chat.Rating != 5 || chat.AnsweredAt == nil || chat.EndedAt == nil || chat.OperatorID == "" {
			t.Fatalf("stored chat = %+v", chat)
		}
	})
}

// TestUnansweredChatRingsNextThenMisses: an offer nobody answers moves from
// one operator to the next at the ring timeout, and the chat turns missed at
// the wait timeout; the visitor can still leave a message.
func TestUnansweredChatRingsNextThenMisses(t *testing.T) {
	teststore.Each(t, func(t *testing.T, st store.Store) {
		n := newNode(t, st, nodeOptions{})
		dept := n.department("Night shift", 1, 3)
		_, bTok := n.operator("bob", 5, dept.ID)
		_, cTok := n.operator("carol", 5, dept.ID)
		ops := map[string]*wsClient{"bob": n.operatorConn("bob", bTok), "carol": n.operatorConn("carol", cTok)}
		for _, c := range ops {
			c.waitType("hello", wait)
			c.ok(frame{"type": "status.set", "status": "online"})
		}
		v := n.visitor("visitor", dept.WidgetKey, "")
		v.waitType("hello", wait)
		started := time.Now()
		chatID := v.ok(frame{"type": "chat.start", "name": "Ken", "question": "anyone?"}).str("chat_id")

		// Exactly one operator rings first, then the other after the ring timeout.
		var order []string
		deadline := time.Now().Add(wait)
		for len(order) < 2 && time.Now().Before(deadline) {
			for name, c := range ops {
				if slices.Contains(order, name) {
					continue
				}
				if _, err := c.tryWait(50*time.Millisecond, func(f frame) bool { return f.str("type") == "chat.offer" && f.str("chat_id") == chatID }); err == nil {
					order = append(order, name)
				}
			}
		}
		if len(order) != 2 {
			t.Fatalf("offers went to %v, want both operators one after the other", order)
		}
		first := ops[order[0]]
		if r := first.waitType("chat.offer_revoked", wait); r.str("reason") != "timeout" || r.str("chat_id") != chatID {
			t.Fatalf("first operator's revoke = %v", r)
		}
		v.waitType("chat.missed", wait)
		if el := time.Since(started); el < 2500*time.Millisecond {
			t.Fatalf("missed after %v, before the 3 s wait timeout", el)
		}
		ops[order[1]].wait(wait, "revoke", func(f frame) bool { return f.str("type") == "chat.offer_revoked" && f.str("chat_id") == chatID })

		chat, err := st.Chat(t.Context(), chatID)
		if err != nil || chat.Status != switchboard.ChatMissed || chat.OperatorID != "" {
			t.Fatalf("stored chat = %+v, %v", chat, err)
		}
		// A missed chat still takes the visitor's message, for follow-up.
		v.ok(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": "m1", "body": "please email me"})
		// And accepting it now is refused.
		ops[order[1]].refused(frame{"type": "chat.accept", "chat_id": chatID}, "already_taken")
	})
}

// TestNobodyOnlineMeansMissedAtOnce.
func TestNobodyOnlineMeansMissedAtOnce(t *testing.T) {
	teststore.Each(t, func(t *testing.T, st store.Store) {
		n := newNode(t, st, nodeOptions{})
		v := n.visitor("visitor", n.dept.WidgetKey, "")
		if h := v.waitType("hello", wait); h["online"] != false {
			t.Fatalf("hello online = %v with nobody online", h["online"])
		}
		ack := v.ok(frame{"type": "chat.start", "question": "hello?", "email": "me@example.com"})
		if ack.str("status") != "missed" {
			t.Fatalf("chat.start with nobody online: %v", ack)
		}
		v.ok(frame{"type": "message.send", "chat_id": ack.str("chat_id"), "client_msg_id": "1", "body": "call me back"})
	})
}

// TestOperatorGoingOfflineRequeues: an operator who goes offline hands its
// chats back to the queue; another operator is offered them and the
// visitor's conversation goes on in the same chat.
func TestOperatorGoingOfflineRequeues(t *testing.T) {
	teststore.Each(t, func(t *testing.T, st store.Store) {
		n := newNode(t, st, nodeOptions{})
		_, aTok := n.operator("ann", 5, n.dept.ID)
		_, bTok := n.operator("ben", 5, n.dept.ID)
		ann, ben := n.operatorConn("ann", aTok), n.operatorConn("ben", bTok)
		ann.waitType("hello", wait)
		ben.waitType("hello", wait)
		ann.ok(frame{"type": "status.set", "status": "online"})
		ben.ok(frame{"type": "status.set", "status": "away"})

		v := n.visitor("visitor", n.dept.WidgetKey, "")
		v.waitType("hello", wait)
		chatID := v.ok(frame{"type": "chat.start", "question": "hi"}).str("chat_id")
		ann.wait(wait, "offer", func(f frame) bool { return f.str("type") == "chat.offer" && f.str("chat_id") == chatID })
		ann.ok(frame{"type": "chat.accept", "chat_id": chatID})
		v.waitType("chat.assigned", wait)

		ben.ok(frame{"type": "status.set", "status": "online"})
		ann.ok(frame{"type": "status.set", "status": "offline"})
		if r := ann.waitType("chat.requeued", wait); r.str("chat_id") != chatID {
			t.Fatalf("requeued = %v", r)
		}
		v.wait(wait, "requeued notice", func(f frame) bool { return f.str("type") == "message" && f.obj("from").str("id") == "requeued" })
		ben.wait(wait, "offer", func(f frame) bool { return f.str("type") == "chat.offer" && f.str("chat_id") == chatID })
		ben.ok(frame{"type": "chat.accept", "chat_id": chatID})
		if a := v.waitType("chat.assigned", wait); a.obj("operator").str("name") != "ben" {
			t.Fatalf("reassigned to %v", a)
		}
		ann.refused(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": "x", "body": "still here?"}, "forbidden")
		ben.ok(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": "b1", "body": "ben here"})
		v.wait(wait, "ben's message", func(f frame) bool { return f.str("type") == "message" && f.str("body") == "ben here" })
	})
}

// TestDeadClientIsClosed: a client that answers no ping is disconnected.
func TestDeadClientIsClosed(t *testing.T) {
	n := newNode(t, teststore.Open(t, "sqlite"), nodeOptions{live: session.Config{PingInterval: 100 * time.Millisecond}})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	raw, _, err := websocket.Dial(ctx, wsURL(n.http.URL, "/ws/visitor?widget="+n.dept.WidgetKey), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.CloseNow()
	time.Sleep(time.Second) // not reading: no pongs
	for {
		if _, _, err := raw.Read(ctx); err != nil {
			if ctx.Err() != nil {
				t.Fatal("the server kept a client that answered no ping")
			}
			return
		}
	}
}
