package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/internal/teststore"
	"github.com/switchboard-chat/switchboard/session"
	"github.com/switchboard-chat/switchboard/store"
)

// TestBroadcastRace is issue 4's "broadcast with three operators where
// exactly one wins under a concurrent accept race (run it 100 times)": in a
// department set to broadcast through the API, every new chat is offered to
// all three online operators, who accept it at the same moment; exactly one
// gets the ack, the two others get already_taken and an offer_revoked
// (taken), the visitor is assigned the winner once, and the store agrees.
func TestBroadcastRace(t *testing.T) {
	teststore.Each(t, func(t *testing.T, st store.Store) {
		const rounds = 100
		// One new chat per round from the same address: lift the per-IP
		// hourly chat limit (default 100) out of the way.
		n := newNode(t, st, nodeOptions{live: session.Config{IPMaxChatsPerHour: 10 * rounds}})
		dept := n.department("Sales", 30, 120)
		n.api(n.adminToken, "PATCH", "/api/departments/"+dept.ID, map[string]any{"routing": "broadcast"}, 200, nil)

		names := []string{"ada", "bea", "cyd"}
		ids := map[string]string{} // operator id → name
		ops := make([]*wsClient, len(names))
		for i, name := range names {
			id, tok := n.operator(name, 5, dept.ID)
			ids[id] = name
			ops[i] = n.online(name, tok)
		}

		wins := map[string]int{}
		for round := range rounds {
			// A new visitor each round, so nothing like "back to the operator
			// who served you last" can narrow the broadcast.
			v := n.visitor(fmt.Sprintf("visitor %d", round), dept.WidgetKey, "")
			v.waitType("hello", wait)
			chatID := v.ok(frame{"type": "chat.start", "name": fmt.Sprintf("V%d", round), "question": "who is first?"}).str("chat_id")
			for _, op := range ops {
				if o := op.wait(wait, fmt.Sprintf("round %d offer", round), isType("chat.offer", chatID)); o.obj("department").str("id") != dept.ID {
					t.Fatalf("round %d: offer = %v", round, o)
				}
			}

			// All three accept at the same moment.
			ref := fmt.Sprintf("race-%d", round)
			data, _ := json.Marshal(frame{"type": "chat.accept", "chat_id": chatID, "ref": ref})
			var wg sync.WaitGroup
			start := make(chan struct{})
			errs := make([]error, len(ops))
			// Spawned in a shuffled order: the scheduler tends to run the
			// goroutine made last first, which would skew who wins.
			for _, i := range rand.Perm(len(ops)) {
				op := ops[i]
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					errs[i] = op.ws.Write(ctx, websocket.MessageText, data)
				}()
			}
			close(start)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("round %d: %s: write accept: %v", round, names[i], err)
				}
			}

			winner := -1
			for i, op := range ops {
				r := op.wait(wait, "reply to "+ref, func(f frame) bool { return f.str("ref") == ref })
				switch {
				case r.str("type") == "ack" && r.str("chat_id") == chatID:
					if winner >= 0 {
						t.Fatalf("round %d: both %s and %s got an ack for chat %s", round, names[winner], names[i], chatID)
					}
					winner = i
				case r.str("type") == "error" && r.str("code") == "already_taken" && r.str("message") != "":
				default:
					t.Fatalf("round %d: %s's accept got %v, want an ack or already_taken", round, names[i], r)
				}
			}
			if winner < 0 {
				t.Fatalf("round %d: nobody won chat %s", round, chatID)
			}
			for i, op := range ops {
				if i == winner {
					continue
				}
				if r := op.wait(wait, "revoke", isType("chat.offer_revoked", chatID)); r.str("reason") != "taken" {
					t.Fatalf("round %d: %s's revoke = %v, want reason taken", round, names[i], r)
				}
			}
			a := v.waitType("chat.assigned", wait)
			winnerName := names[winner]
			if a.str("chat_id") != chatID || a.obj("operator").str("name") != winnerName || ids[a.obj("operator").str("id")] != winnerName {
				t.Fatalf("round %d: visitor's chat.assigned = %v, want %s", round, a, winnerName)
			}
			if a := ops[winner].wait(wait, "chat.assigned", isType("chat.assigned", chatID)); a.obj("operator").str("name") != winnerName {
				t.Fatalf("round %d: winner's chat.assigned = %v", round, a)
			}
			ch, err := st.Chat(t.Context(), chatID)
			if err != nil || ch.Status != switchboard.ChatOngoing || ids[ch.OperatorID] != winnerName {
				t.Fatalf("round %d: stored chat = %+v, %v; want ongoing with %s", round, ch, err, winnerName)
			}
			wins[winnerName]++

			ops[winner].ok(frame{"type": "chat.end", "chat_id": chatID})
			v.waitType("chat.ended", wait)
			// chat.ended comes after chat.assigned: a second one would be here by now.
			if f, err := v.tryWait(0, func(f frame) bool { return f.str("type") == "chat.assigned" }); err == nil {
				t.Fatalf("round %d: the visitor got a second chat.assigned: %v", round, f)
			}
			v.ws.CloseNow()
		}

		// Nothing left over: no second revoke, offer, ack or error anywhere.
		for i, op := range ops {
			for {
				f, err := op.tryWait(100*time.Millisecond, func(frame) bool { return true })
				if err != nil {
					break
				}
				switch f.str("type") {
				case "chat.offer_revoked", "chat.offer", "ack", "error", "chat.assigned":
					t.Errorf("%s: stray frame after the rounds: %v", names[i], f)
				}
			}
		}
		t.Logf("%d broadcast races, winners: %s %d, %s %d, %s %d", rounds,
			names[0], wins[names[0]], names[1], wins[names[1]], names[2], wins[names[2]])
	})
}
