package router_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/router"
)

// offerBook is a Notifier that remembers who was offered which chat.
type offerBook struct {
	mu sync.Mutex
	to map[string]string // chat id → operator id
}

func (b *offerBook) Offer(opID string, o router.Offer) {
	b.mu.Lock()
	b.to[o.Chat.ID] = opID
	b.mu.Unlock()
}
func (b *offerBook) RevokeOffer(string, string, string)              {}
func (b *offerBook) Assigned(switchboard.Chat, switchboard.Operator) {}
func (b *offerBook) Missed(switchboard.Chat)                         {}
func (b *offerBook) Requeued(switchboard.Chat, switchboard.Operator) {}
func (b *offerBook) QueueChanged(string, int, []string)              {}
func (b *offerBook) take(chatID string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	op := b.to[chatID]
	delete(b.to, chatID)
	return op
}

// BenchmarkAssign measures a chat's way from StartChat to an accepted
// offer, with the real clock and store, among N online operators. Ending
// each chat afterwards is not timed.
//
//	go test -run='^$' -bench=Assign -count=10 ./router
func BenchmarkAssign(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		for _, n := range []int{1, 10, 100} {
			b.Run(fmt.Sprintf("backend=%s/operators=%d", backend, n), func(b *testing.B) {
				benchmarkAssign(b, backend, n)
			})
		}
	}
}

func benchmarkAssign(b *testing.B, backend string, n int) {
	ctx := b.Context()
	st := openBackend(b, backend)
	book := &offerBook{to: map[string]string{}}
	r, err := router.New(router.Config{Store: st, Notifier: book})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	if err := r.Start(ctx); err != nil {
		b.Fatal(err)
	}
	dept := &switchboard.Department{Name: "Sales", Enabled: true}
	for i := range n {
		o := &switchboard.Operator{Name: fmt.Sprint("op", i), Email: fmt.Sprintf("op%d@example.com", i),
			Role: switchboard.RoleOperator, MaxChats: 100, Enabled: true, PasswordHash: "x"}
		if err := st.CreateOperator(ctx, o); err != nil {
			b.Fatal(err)
		}
		dept.OperatorIDs = append(dept.OperatorIDs, o.ID)
	}
	dept.Normalize()
	dept.RingTimeoutS, dept.WaitTimeoutS = 600, 3600
	if err := st.CreateDepartment(ctx, dept); err != nil {
		b.Fatal(err)
	}
	for _, id := range dept.OperatorIDs {
		if _, err := r.Connect(ctx, id); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	chats := 0
	for b.Loop() {
		c, err := r.StartChat(ctx, newChat(dept.ID))
		if err != nil {
			b.Fatal(err)
		}
		op := book.take(c.ID)
		if op == "" {
			b.Fatalf("chat %d was offered to no one", chats)
		}
		if _, err := r.Accept(ctx, op, c.ID); err != nil {
			b.Fatal(err)
		}
		chats++
		// Ending the chat (untimed) keeps the operators below max_chats.
		b.StopTimer()
		ended, err := st.EndChat(ctx, c.ID, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		r.Ended(ended)
		b.StartTimer()
	}
}
