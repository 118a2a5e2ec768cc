package router_test

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/router"
	"github.com/switchboard-chat/switchboard/store"
)

// The recorder is told of transfers too.
var _ router.TransferNotifier = (*recorder)(nil)

func (r *recorder) Transferred(m router.Move) {
	r.add("transferred %s %s %s %s", m.Chat.ID, m.From.ID, m.To.ID, m.Chat.DepartmentID)
}

func (r *recorder) TransferFailed(chatID string, operatorIDs []string, reason string) {
	r.add("transfer_failed %s %s %s", chatID, strings.Join(operatorIDs, ","), reason)
}

// ongoing starts a chat in dept and has op accept it; the events are checked.
func (h *harness) ongoing(chat, dept, op string) {
	h.t.Helper()
	h.startChat(chat, dept)
	h.accept(op, chat)
	h.events()
}

func (h *harness) transfer(by switchboard.Operator, chat, dept, op, note string) error {
	return h.r.Transfer(h.ctx, router.TransferRequest{ChatID: h.id(chat), By: by, DepartmentID: h.id0(dept), OperatorID: h.id0(op), Note: note})
}

// id0 is id, with "" staying "".
func (h *harness) id0(name string) string {
	if name == "" {
		return ""
	}
	return h.id(name)
}

func (h *harness) op(name string) switchboard.Operator {
	h.t.Helper()
	o, err := h.st.Operator(h.ctx, h.id(name))
	if err != nil {
		h.t.Fatal(err)
	}
	return o
}

func TestTransferToDepartmentAccepted(t *testing.T) {
	run(t, bothBackends, func(t *testing.T, h *harness) {
		for _, op := range []string{"alice", "bob", "carol"} {
			h.operator(op, 1)
		}
		h.department("sales", auto, 30, 120, "alice")
		h.department("vip", auto, 10, 120, "alice", "bob", "carol")
		h.connect("alice")
		h.advance(time.Second)
		h.connect("bob")
		h.advance(time.Second)
		h.connect("carol")
		h.ongoing("c1", "sales", "alice")

		if err := h.transfer(h.op("alice"), "c1", "vip", "", "vip customer"); err != nil {
			t.Fatal(err)
		}
		// alice, the sender, is left out; bob is idle longer than carol.
		h.expect("offer bob c1")
		o := h.rec.lastOffer()
		if o.Transfer == nil || o.Transfer.FromOperator.ID != h.id("alice") || o.Transfer.FromDepartment.ID != h.id("sales") ||
			o.Transfer.Note != "vip customer" || o.Department.ID != h.id("vip") || !o.ExpiresAt.Equal(h.clock.Now().Add(10*time.Second)) {
			t.Errorf("transfer offer = %+v (transfer %+v)", o, o.Transfer)
		}
		// A second transfer of the same chat waits for this one.
		if err := h.transfer(h.op("alice"), "c1", "", "carol", ""); !errors.Is(err, switchboard.ErrConflict) {
			t.Errorf("second transfer: %v, want ErrConflict", err)
		}
		// The first ring times out: carol is next; no second round.
		h.advance(10 * time.Second)
		h.expect("revoke bob c1 timeout", "offer carol c1")
		h.accept("carol", "c1")
		h.expect("transferred c1 alice carol vip")
		h.wantOperator("alice", switchboard.StatusOnline, 0)
		h.wantOperator("carol", switchboard.StatusOnline, 1)
		if ch := h.chat("c1"); ch.OperatorID != h.id("carol") || ch.DepartmentID != h.id("vip") {
			t.Errorf("stored chat = %+v", ch)
		}
		// alice (max 1) has room again: the next sales chat is hers.
		h.startChat("c2", "sales")
		h.expect("queue sales 1", "offer alice c2")
		if got := h.r.Transferring(); len(got) != 0 {
			t.Errorf("Transferring = %v after the accept", got)
		}
	})
}

func TestTransferToOperatorDeclinedOrTimedOut(t *testing.T) {
	run(t, bothBackends, func(t *testing.T, h *harness) {
		h.operator("alice", 5)
		h.operator("bob", 5)
		h.operator("dave", 5)
		h.department("sales", auto, 15, 120, "alice")
		h.connect("alice")
		h.connect("bob")
		h.ongoing("c1", "sales", "alice")

		// Refusals.
		if err := h.transfer(h.op("alice"), "c1", "", "dave", ""); !errors.Is(err, router.ErrNoOperators) {
			t.Errorf("transfer to an offline operator: %v, want ErrNoOperators", err)
		}
		var ve *switchboard.ValidationError
		if err := h.transfer(h.op("alice"), "c1", "", "alice", ""); !errors.As(err, &ve) || ve.Field != "operator_id" {
			t.Errorf("transfer to oneself: %v", err)
		}
		if err := h.transfer(h.op("bob"), "c1", "", "alice", ""); !errors.Is(err, switchboard.ErrForbidden) {
			t.Errorf("transfer by another operator: %v, want ErrForbidden", err)
		}
		h.expect()

		// Declined: no second round.
		if err := h.transfer(h.op("alice"), "c1", "", "bob", "over to you"); err != nil {
			t.Fatal(err)
		}
		h.expect("offer bob c1")
		if err := h.r.Decline(h.ctx, h.id("bob"), h.id("c1")); err != nil {
			t.Fatal(err)
		}
		h.expect("transfer_failed c1 alice declined")
		h.wantOperator("alice", switchboard.StatusOnline, 1)
		h.wantOperator("bob", switchboard.StatusOnline, 0)

		// Timed out at the chat's department's ring timeout.
		if err := h.transfer(h.op("alice"), "c1", "", "bob", ""); err != nil {
			t.Fatal(err)
		}
		h.expect("offer bob c1")
		h.advance(14 * time.Second)
		h.expect()
		h.advance(time.Second)
		h.expect("revoke bob c1 timeout", "transfer_failed c1 alice timeout")
		if _, err := h.r.Accept(h.ctx, h.id("bob"), h.id("c1")); !errors.Is(err, switchboard.ErrAlreadyTaken) {
			t.Errorf("late accept: %v, want ErrAlreadyTaken", err)
		}
		if ch := h.chat("c1"); ch.OperatorID != h.id("alice") {
			t.Errorf("chat is %s's, want alice's", ch.OperatorID)
		}

		// The target going away fails it too; the chat ending drops it silently.
		if err := h.transfer(h.op("alice"), "c1", "", "bob", ""); err != nil {
			t.Fatal(err)
		}
		h.setStatus("bob", switchboard.StatusAway)
		h.expect("offer bob c1", "revoke bob c1 timeout", "transfer_failed c1 alice timeout")
		h.setStatus("bob", switchboard.StatusOnline)
		if err := h.transfer(h.op("alice"), "c1", "", "bob", ""); err != nil {
			t.Fatal(err)
		}
		h.end("c1")
		h.expect("offer bob c1", "revoke bob c1 ended")
	})
}

func TestTakeOver(t *testing.T) {
	run(t, sqliteOnly, func(t *testing.T, h *harness) {
		h.operator("alice", 5)
		h.operator("bob", 5)
		sue := h.operator("sue", 5)
		if _, err := h.st.UpdateOperator(h.ctx, sue, func(o *switchboard.Operator) error { o.Role = switchboard.RoleSupervisor; return nil }); err != nil {
			t.Fatal(err)
		}
		h.department("sales", auto, 15, 120, "alice")
		h.connect("alice")
		h.connect("bob")
		h.connect("sue")
		h.ongoing("c1", "sales", "alice")
		if _, err := h.r.TakeOver(h.ctx, h.op("bob"), h.id("c1")); !errors.Is(err, switchboard.ErrForbidden) {
			t.Errorf("take-over by an operator: %v", err)
		}
		// A transfer under way is dropped by the take-over.
		if err := h.transfer(h.op("alice"), "c1", "", "bob", ""); err != nil {
			t.Fatal(err)
		}
		ch, err := h.r.TakeOver(h.ctx, h.op("sue"), h.id("c1"))
		if err != nil || ch.OperatorID != sue {
			t.Fatalf("TakeOver = %+v, %v", ch, err)
		}
		h.expect("offer bob c1", "revoke bob c1 taken", "transferred c1 alice sue sales")
		h.wantOperator("alice", switchboard.StatusOnline, 0)
		h.wantOperator("sue", switchboard.StatusOnline, 1)
		hops, err := h.st.(store.TransferStore).Transfers(h.ctx, h.id("c1"))
		if err != nil || len(hops) != 1 || hops[0].Note != router.TakeOverNote {
			t.Errorf("hops = %+v, %v", hops, err)
		}
	})
}

// TestTransferAcceptRacesTakeOver: the target accepting while a supervisor
// takes over: exactly one of them ends up with the chat, in the store and in
// the router's loads.
func TestTransferAcceptRacesTakeOver(t *testing.T) {
	run(t, sqliteOnly, func(t *testing.T, h *harness) {
		h.operator("alice", 50)
		h.operator("bob", 50)
		sue := h.operator("sue", 50)
		if _, err := h.st.UpdateOperator(h.ctx, sue, func(o *switchboard.Operator) error { o.Role = switchboard.RoleSupervisor; return nil }); err != nil {
			t.Fatal(err)
		}
		h.department("sales", auto, 15, 120, "alice")
		h.connect("alice")
		h.connect("bob")
		h.connect("sue")
		const rounds = 20
		for i := range rounds {
			chat := "c" + strconv.Itoa(i)
			h.ongoing(chat, "sales", "alice")
			if err := h.transfer(h.op("alice"), chat, "", "bob", ""); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			var bobErr, sueErr error
			wg.Add(2)
			go func() { defer wg.Done(); _, bobErr = h.r.Accept(h.ctx, h.id("bob"), h.id(chat)) }()
			go func() { defer wg.Done(); _, sueErr = h.r.TakeOver(h.ctx, h.op("sue"), h.id(chat)) }()
			wg.Wait()
			owner := h.chat(chat).OperatorID
			switch {
			case bobErr == nil && owner == h.id("bob"):
			case sueErr == nil && owner == sue:
			default:
				t.Fatalf("round %d: bob %v, sue %v, owner %s", i, bobErr, sueErr, owner)
			}
			h.events()
		}
		_, a := h.r.OperatorStatus(h.id("alice"))
		_, b := h.r.OperatorStatus(h.id("bob"))
		_, s := h.r.OperatorStatus(sue)
		if a != 0 || b+s != rounds {
			t.Errorf("loads alice %d, bob %d, sue %d; want 0 and %d in all", a, b, s, rounds)
		}
		if got := h.r.Transferring(); len(got) != 0 {
			t.Errorf("Transferring = %v", got)
		}
	})
}
