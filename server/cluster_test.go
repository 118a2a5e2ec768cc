package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/cluster"
	clusterredis "github.com/switchboard-chat/switchboard/cluster/redis"
	"github.com/switchboard-chat/switchboard/internal/testenv"
	"github.com/switchboard-chat/switchboard/store"
	"github.com/switchboard-chat/switchboard/store/postgres"
)

// pgStore opens a fresh PostgreSQL database for one test.
func pgStore(t *testing.T) store.Store {
	t.Helper()
	st, err := postgres.Open(t.Context(), testenv.PostgresURL(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// redisNode joins a cluster node to the Redis server at url under prefix,
// with a short TTL so that tests see a dead node's entries go quickly.
func redisNode(t *testing.T, url, prefix, id string, ttl time.Duration) cluster.Node {
	t.Helper()
	client, err := clusterredis.NewClient(url)
	if err != nil {
		t.Fatal(err)
	}
	n, err := clusterredis.New(clusterredis.Config{Client: client, Node: id, Prefix: prefix, TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close(); _ = client.Close() })
	return n
}

// readyz returns /readyz's status and body.
func readyz(t *testing.T, n *node) (int, string) {
	t.Helper()
	resp, err := http.Get(n.http.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 512)
	for {
		k, err := resp.Body.Read(buf)
		b.Write(buf[:k])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, b.String()
}

// TestReadyzRedisOutage: /readyz says 503 with the reason while Redis is
// down, and 200 again once it is back, without a restart.
func TestReadyzRedisOutage(t *testing.T) {
	rs := testenv.StartRedis(t)
	n := newNode(t, pgStore(t), nodeOptions{node: redisNode(t, rs.URL(), "test:readyz:", "a", 2*time.Second)})
	if code, body := readyz(t, n); code != 200 {
		t.Fatalf("readyz with Redis up: %d %s", code, body)
	}
	rs.Stop()
	waitFor(t, 10*time.Second, func() bool {
		code, body := readyz(t, n)
		return code == 503 && strings.Contains(body, "redis")
	})
	rs.Start()
	waitFor(t, 15*time.Second, func() bool { code, _ := readyz(t, n); return code == 200 })
}

// waitFor polls cond until it holds, failing the test after d.
func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// clusterNodes starts n server nodes on one PostgreSQL database and one
// Redis (each with its own cluster node), the first set up with the admin.
func clusterNodes(t *testing.T, n int, opts nodeOptions) []*node {
	t.Helper()
	url, prefix := testenv.Redis(t)
	st := pgStore(t)
	var nodes []*node
	for i := range n {
		o := opts
		o.node = redisNode(t, url, prefix, string(rune('a'+i)), 2*time.Second)
		nd := newNode(t, st, o)
		if i > 0 {
			nd.dept = nodes[0].dept
		}
		nodes = append(nodes, nd)
	}
	return nodes
}

// TestClusterConversation: a visitor on node A and an operator on node B
// chat as if on one node: the chat is offered across nodes, accepted, both
// send at once and each sees every message once in seq order (so does a
// second visitor socket on node C, and a supervisor watching from C),
// typing crosses, the visitor is listed online from B, and the end
// reaches A.
func TestClusterConversation(t *testing.T) {
	nodes := clusterNodes(t, 3, nodeOptions{})
	a, b, c := nodes[0], nodes[1], nodes[2]
	aliceID, aliceToken := a.operator("alice", 5, a.dept.ID)
	op := b.operatorConn("alice", aliceToken)
	op.waitType("hello", wait)
	op.ok(frame{"type": "status.set", "status": "online"})

	var v *wsClient
	var vh frame
	waitFor(t, 10*time.Second, func() bool {
		if v != nil {
			v.ws.CloseNow()
		}
		v = a.visitor("visitor", a.dept.WidgetKey, "")
		vh = v.waitType("hello", wait)
		return vh["online"] == true
	})
	start := v.ok(frame{"type": "chat.start", "name": "Yuki", "question": "hello from node A"})
	chatID := start.str("chat_id")
	if start.str("status") != "queued" {
		t.Fatalf("chat.start ack = %v", start)
	}
	offer := op.waitType("chat.offer", wait)
	if offer.str("chat_id") != chatID {
		t.Fatalf("offer = %v", offer)
	}
	op.ok(frame{"type": "chat.accept", "chat_id": chatID})
	if as := v.waitType("chat.assigned", wait); as.obj("operator").str("id") != aliceID {
		t.Fatalf("chat.assigned = %v", as)
	}
	op.wait(wait, "joined notice", func(f frame) bool { return f.str("type") == "message" && f.num("seq") == 2 })

	// A second socket of the visitor, on node C, resumes the chat.
	v3 := c.visitor("visitor again on C", a.dept.WidgetKey, vh.str("visitor_token"))
	v3.waitType("hello", wait)
	v3.ok(frame{"type": "chat.resume", "chat_id": chatID, "after_seq": 2})

	// A supervisor on C watches the chat.
	_, samToken := a.staff("sam", switchboard.RoleSupervisor)
	sam := c.operatorConn("sam", samToken)
	sam.waitType("hello", wait)
	sam.ok(frame{"type": "chat.monitor", "chat_id": chatID, "on": true})

	v.send(frame{"type": "typing", "chat_id": chatID, "on": true})
	if ty := op.waitType("typing", wait); ty.obj("from").str("kind") != "visitor" {
		t.Fatalf("typing = %v", ty)
	}

	const each = 200
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range each {
			id := "op-" + itoa(i)
			op.send(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": id, "body": "op " + itoa(i), "ref": id})
		}
	}()
	for i := range each {
		id := "v-" + itoa(i)
		v.send(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": id, "body": "visitor " + itoa(i), "ref": id})
	}
	<-done
	total := int64(2 + 2*each)
	checkRun(t, "visitor on A", seqsOf(drainMessages(v, chatID, total)), 1, total)
	checkRun(t, "operator on B", seqsOf(drainMessages(op, chatID, total)), 3, total)
	checkRun(t, "visitor on C", seqsOf(drainMessages(v3, chatID, total)), 3, total)
	checkRun(t, "supervisor watching on C", seqsOf(drainMessages(sam, chatID, total)), 1, total)

	var online struct {
		Items []struct {
			ID     string  `json:"id"`
			ChatID *string `json:"chat_id"`
		} `json:"items"`
	}
	b.api(b.adminToken, "GET", "/api/visitors?online=true", nil, 200, &online)
	if len(online.Items) != 2 {
		t.Fatalf("online visitors seen from B = %+v, want the visitor's 2 sockets on A and C", online.Items)
	}

	op.ok(frame{"type": "chat.end", "chat_id": chatID})
	v.waitType("chat.ended", wait)
	v3.waitType("chat.ended", wait)
	v.refused(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": "late", "body": "hello?"}, "conflict")
}

// TestClusterTransfer: an operator on node B transfers a chat whose visitor
// is on node A to an operator on node C, then a supervisor on A takes it
// over: the chat moves across nodes as on one (offers, subscriptions,
// assigned frames), and the operator it left can no longer write in it.
func TestClusterTransfer(t *testing.T) {
	nodes := clusterNodes(t, 3, nodeOptions{})
	a, b, c := nodes[0], nodes[1], nodes[2]
	_, aliceToken := a.operator("alice", 5, a.dept.ID)
	bobID, bobToken := a.operator("bob", 5)
	alice := b.operatorConn("alice", aliceToken)
	alice.waitType("hello", wait)
	alice.ok(frame{"type": "status.set", "status": "online"})

	var v *wsClient
	waitFor(t, 10*time.Second, func() bool {
		if v != nil {
			v.ws.CloseNow()
		}
		v = a.visitor("visitor", a.dept.WidgetKey, "")
		return v.waitType("hello", wait)["online"] == true
	})
	chatID := v.ok(frame{"type": "chat.start", "question": "transfer me"}).str("chat_id")
	alice.waitType("chat.offer", wait)
	alice.ok(frame{"type": "chat.accept", "chat_id": chatID})
	v.waitType("chat.assigned", wait)

	bob := c.operatorConn("bob", bobToken)
	bob.waitType("hello", wait)
	bob.ok(frame{"type": "status.set", "status": "online"})
	alice.ok(frame{"type": "chat.transfer", "chat_id": chatID, "operator_id": bobID, "note": "over to you"})
	offer := bob.waitType("chat.offer", wait)
	if offer.str("chat_id") != chatID || offer.obj("transfer").str("note") != "over to you" {
		t.Fatalf("transfer offer on C = %v", offer)
	}
	bob.ok(frame{"type": "chat.accept", "chat_id": chatID})
	if moved := alice.waitType("chat.transferred", wait); moved.obj("to_operator").str("id") != bobID {
		t.Fatalf("chat.transferred on B = %v", moved)
	}
	v.wait(wait, "chat.assigned to bob", func(f frame) bool {
		return f.str("type") == "chat.assigned" && f.obj("operator").str("id") == bobID
	})
	bob.ok(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": "b1", "body": "bob here"})
	v.wait(wait, "bob's message", func(f frame) bool { return f.str("type") == "message" && f.str("client_msg_id") == "b1" })
	alice.refused(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": "a1", "body": "still me?"}, "forbidden")

	// A supervisor on A takes it over from bob on C.
	_, supToken := a.staff("sue", switchboard.RoleSupervisor)
	sue := a.operatorConn("sue", supToken)
	sue.waitType("hello", wait)
	sue.ok(frame{"type": "chat.accept", "chat_id": chatID})
	bob.waitType("chat.transferred", wait)
	bob.refused(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": "b2", "body": "hello?"}, "forbidden")
	sue.ok(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": "s1", "body": "sue here"})
	v.wait(wait, "sue's message", func(f frame) bool { return f.str("type") == "message" && f.str("client_msg_id") == "s1" })
}

// TestClusterAcceptRace: a broadcast department's chat is offered to
// operators on two nodes; both accept at once and exactly one gets it
// (the store decides), the other is refused and its offer revoked.
func TestClusterAcceptRace(t *testing.T) {
	nodes := clusterNodes(t, 3, nodeOptions{})
	a, b, c := nodes[0], nodes[1], nodes[2]
	if _, err := a.st.UpdateDepartment(t.Context(), a.dept.ID, func(d *switchboard.Department) error {
		d.Routing = switchboard.RoutingBroadcast
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var ops []*wsClient
	for i, n := range []*node{b, c} {
		_, token := a.operator("op"+itoa(i), 5, a.dept.ID)
		op := n.operatorConn("op"+itoa(i), token)
		op.waitType("hello", wait)
		op.ok(frame{"type": "status.set", "status": "online"})
		ops = append(ops, op)
	}
	for round := range 5 {
		var v *wsClient
		waitFor(t, 10*time.Second, func() bool {
			v = a.visitor("visitor", a.dept.WidgetKey, "")
			if v.waitType("hello", wait)["online"] == true {
				return true
			}
			v.ws.CloseNow()
			return false
		})
		chatID := v.ok(frame{"type": "chat.start", "question": "race " + itoa(round)}).str("chat_id")
		for _, op := range ops {
			op.wait(wait, "offer", func(f frame) bool { return f.str("type") == "chat.offer" && f.str("chat_id") == chatID })
		}
		for i, op := range ops {
			op.send(frame{"type": "chat.accept", "chat_id": chatID, "ref": "acc" + itoa(i)})
		}
		won := 0
		for i, op := range ops {
			f := op.wait(wait, "accept answer", func(f frame) bool { return f.str("ref") == "acc"+itoa(i) })
			switch {
			case f.str("type") == "ack":
				won++
			case f.str("code") != "already_taken":
				t.Fatalf("losing accept = %v", f)
			default:
				op.wait(wait, "the loser's offer revoked", func(f frame) bool {
					return f.str("type") == "chat.offer_revoked" && f.str("chat_id") == chatID && f.str("reason") == "taken"
				})
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d accepts won, want exactly 1", round, won)
		}
		v.waitType("chat.assigned", wait)
		v.ok(frame{"type": "chat.end", "chat_id": chatID})
		v.ws.CloseNow()
	}
}
