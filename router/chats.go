package router

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store"
)

// StartChat creates a visitor's chat in its department. The department must
// exist and be enabled (else switchboard.ErrNotFound or
// switchboard.ErrDepartmentDisabled, and nothing is stored). When no
// operator of the department's pool is online (and connected and enabled),
// the chat moves to the department's fallback if that has someone online
// (fallback.go; the chat is returned as moved), else it is created missed
// and Notifier.Missed is called. Otherwise it is
// created queued — also when every such operator is at its max_chats: it
// waits for one to free up — and offered. c.Status is ignored.
func (r *Router) StartChat(ctx context.Context, c store.NewChat) (switchboard.Chat, error) {
	if !r.enter() {
		return switchboard.Chat{}, ErrClosed
	}
	defer r.wg.Done()
	d, err := r.store.Department(ctx, c.DepartmentID)
	if err != nil {
		return switchboard.Chat{}, fmt.Errorf("router: start chat in department %s: %w", c.DepartmentID, err)
	}
	if !d.Enabled {
		return switchboard.Chat{}, fmt.Errorf("router: start chat in department %s: %w", c.DepartmentID, switchboard.ErrDepartmentDisabled)
	}
	r.mu.Lock()
	staffed := r.staffedLocked(d)
	r.mu.Unlock()
	staffed = staffed || r.staffedElsewhere(ctx, d.OperatorIDs)
	var fd switchboard.Department
	fallback := false
	if !staffed {
		fd, fallback = r.staffedFallback(ctx, d)
	}

	c.Status = switchboard.ChatQueued
	if !staffed && !fallback {
		c.Status = switchboard.ChatMissed
	}
	cctx, cancel := commitContext(ctx)
	ch, err := r.store.CreateChat(cctx, c)
	cancel()
	if err != nil {
		return switchboard.Chat{}, fmt.Errorf("router: start chat in department %s: %w", c.DepartmentID, err)
	}
	r.metrics.ChatStarted(ch.DepartmentID)
	if !staffed && !fallback {
		r.mu.Lock()
		r.metrics.Missed(ch.DepartmentID)
		r.notify(func() { r.notifier.Missed(ch) })
		r.mu.Unlock()
		r.flush()
		return ch, nil
	}
	fellBack := false
	if fallback {
		// Nobody here, someone in the fallback: the chat moves there. If
		// the move fails it waits here, and may fall back at its wait
		// timeout.
		if moved, err := r.moveToFallback(ctx, ch, fd); err != nil {
			if ctx.Err() == nil {
				r.log.Error("move chat to fallback department", "chat_id", ch.ID, "fallback_department_id", fd.ID, "err", err)
			}
		} else {
			ch, d, fellBack = moved, fd, true
		}
	}
	v := r.visitor(ctx, ch)
	last := r.lastOperator(ctx, ch)
	r.mu.Lock()
	now := r.clock.Now()
	q := r.enqueueLocked(ch, v, d, now.Add(seconds(d.WaitTimeoutS, switchboard.DefaultWaitTimeout)), false, now)
	q.preferred, q.fellBack = last, fellBack
	r.queueChangedLocked(d.ID, d.OperatorIDs)
	r.routeLocked(q, d, now)
	r.mu.Unlock()
	r.flush()
	return ch, nil
}

// Accept gives a queued chat to an operator holding a live offer for it;
// the store's conditional AssignChat decides between concurrent accepts.
// The winner's other offers are revoked (ReasonTaken), Notifier.Assigned
// and QueueChanged follow. It fails with switchboard.ErrForbidden when the
// operator holds no live offer for a queued chat, ErrAlreadyTaken when the
// chat left the queue (another operator has it, it was missed or ended),
// ErrNotFound when there is no such chat, and ErrConflict while an accept
// of the same offer is under way. Accepting a chat the operator already
// has returns it.
func (r *Router) Accept(ctx context.Context, opID, chatID string) (switchboard.Chat, error) {
	if !r.enter() {
		return switchboard.Chat{}, ErrClosed
	}
	defer r.wg.Done()
	r.mu.Lock()
	if o := r.liveTransferOffer(opID, chatID); o != nil {
		return r.acceptTransfer(ctx, o)
	}
	q := r.chats[chatID]
	if q == nil {
		r.mu.Unlock()
		return r.acceptUnqueued(ctx, opID, chatID)
	}
	o := q.offers[opID]
	if o == nil && q.gone {
		r.mu.Unlock()
		return switchboard.Chat{}, fmt.Errorf("router: accept chat %s: %w", chatID, switchboard.ErrAlreadyTaken)
	}
	if o == nil {
		r.mu.Unlock()
		return switchboard.Chat{}, fmt.Errorf("router: accept chat %s: no live offer to operator %s: %w", chatID, opID, switchboard.ErrForbidden)
	}
	if o.accepting {
		r.mu.Unlock()
		return switchboard.Chat{}, fmt.Errorf("router: accept chat %s: an accept is under way: %w", chatID, switchboard.ErrConflict)
	}
	o.accepting = true
	stop(o.timer)
	r.mu.Unlock()

	cctx, cancel := commitContext(ctx)
	ch, err := r.store.AssignChat(cctx, chatID, opID, r.clock.Now())
	cancel()
	if err != nil {
		r.acceptFailed(q, o, err)
		return switchboard.Chat{}, fmt.Errorf("router: accept chat %s: %w", chatID, err)
	}

	r.mu.Lock()
	if r.chats[chatID] != q {
		// It ended while we were assigning it: nothing left to do.
		r.mu.Unlock()
		return ch, nil
	}
	op := r.ops[opID]
	others := len(q.offers) > 1
	r.metrics.OfferOutcome(o.dept, "accepted")
	r.metrics.Assigned(ch.DepartmentID, r.clock.Now().Sub(q.queuedAt))
	r.dropOfferLocked(o, "")
	r.removeEntryLocked(q, ReasonTaken)
	op.chats[chatID] = &owned{chat: ch}
	r.owners[chatID] = opID
	op.idleSince = r.clock.Now()
	rec := op.rec
	r.notify(func() { r.notifier.Assigned(ch, rec) })
	r.queueChangedLocked(ch.DepartmentID, q.dept.OperatorIDs)
	offline := op.status == switchboard.StatusOffline
	r.mu.Unlock()
	r.flush()
	if offline {
		// It went offline while accepting: the chat cannot stay with it.
		r.requeueAll(r.ctx, op)
	}
	if others || offline {
		r.dispatch(r.ctx)
	}
	return ch, nil
}

// acceptUnqueued answers an accept of a chat that is not in the router's
// queues.
func (r *Router) acceptUnqueued(ctx context.Context, opID, chatID string) (switchboard.Chat, error) {
	ch, err := r.store.Chat(ctx, chatID)
	switch {
	case err != nil:
		return switchboard.Chat{}, fmt.Errorf("router: accept chat %s: %w", chatID, err)
	case ch.Status == switchboard.ChatOngoing && ch.OperatorID == opID:
		return ch, nil
	case ch.Status == switchboard.ChatQueued:
		return switchboard.Chat{}, fmt.Errorf("router: accept chat %s: not offered to operator %s: %w", chatID, opID, switchboard.ErrForbidden)
	default:
		return switchboard.Chat{}, fmt.Errorf("router: accept chat %s: %w", chatID, switchboard.ErrAlreadyTaken)
	}
}

// acceptFailed cleans up after an AssignChat that failed with err. When the
// chat left the queue, the offer is revoked (ReasonTaken) and the chat gets
// no more offers (whoever took it, or the wait timer, removes it). After
// another error the offer stays live for what is left of its ring time.
func (r *Router) acceptFailed(q *entry, o *offer, err error) {
	r.mu.Lock()
	o.accepting = false
	live := r.chats[o.chatID] == q && q.offers[o.opID] == o
	moved := false
	switch {
	case !live:
	case errors.Is(err, switchboard.ErrAlreadyTaken), errors.Is(err, switchboard.ErrNotFound):
		q.gone = true
		if !q.missing { // else the miss revokes it, with its own reason
			r.dropOfferLocked(o, ReasonTaken)
			moved = true
		}
	default:
		if left := o.expiresAt.Sub(r.clock.Now()); left > 0 {
			o.timer = r.clock.AfterFunc(left, func() { r.offerExpired(o) })
		} else {
			r.dropOfferLocked(o, ReasonTimeout)
			moved = true
		}
	}
	r.mu.Unlock()
	r.flush()
	if moved {
		r.dispatch(r.ctx)
	}
}

// Decline refuses an operator's offer: the chat is offered to the next
// operator at once, and never again to this one. Declining without a live
// offer (it just expired, say) does nothing; an unknown chat is
// switchboard.ErrNotFound, and ErrConflict while the operator is
// accepting the same offer.
func (r *Router) Decline(ctx context.Context, opID, chatID string) error {
	if !r.enter() {
		return ErrClosed
	}
	defer r.wg.Done()
	r.mu.Lock()
	if o := r.liveTransferOffer(opID, chatID); o != nil {
		return r.declineTransfer(o)
	}
	q := r.chats[chatID]
	if q == nil {
		r.mu.Unlock()
		if _, err := r.store.Chat(ctx, chatID); err != nil {
			return fmt.Errorf("router: decline chat %s: %w", chatID, err)
		}
		return nil
	}
	o := q.offers[opID]
	if o == nil {
		r.mu.Unlock()
		return nil
	}
	if o.accepting {
		r.mu.Unlock()
		return fmt.Errorf("router: decline chat %s: an accept is under way: %w", chatID, switchboard.ErrConflict)
	}
	q.declined[opID] = true
	r.metrics.OfferOutcome(o.dept, "declined")
	r.dropOfferLocked(o, "")
	r.mu.Unlock()
	r.dispatch(r.ctx)
	return nil
}

// Ended tells the router that a chat ended (the caller completed it in the
// store): it leaves the queue (its offers are revoked with ReasonEnded and
// QueueChanged follows) or frees its operator's capacity, which may bring
// that operator a queued chat. Unknown chats are ignored.
func (r *Router) Ended(chat switchboard.Chat) {
	if !r.enter() {
		return
	}
	defer r.wg.Done()
	r.mu.Lock()
	freed := false
	r.announceLocked(chat.ID, time.Time{}) // its operator may be on another node
	if q := r.chats[chat.ID]; q != nil {
		freed = len(q.offers) > 0
		r.removeEntryLocked(q, ReasonEnded)
		r.queueChangedLocked(q.chat.DepartmentID, q.dept.OperatorIDs)
	}
	if x := r.xfers[chat.ID]; x != nil {
		r.dropTransferLocked(x, ReasonEnded)
	}
	if opID, ok := r.owners[chat.ID]; ok {
		op := r.ops[opID]
		if w := op.chats[chat.ID]; w != nil {
			w.ended = true
		}
		r.forgetOwnedLocked(op, chat.ID)
		freed = true
	}
	r.mu.Unlock()
	r.flush()
	if freed {
		r.dispatch(r.ctx)
	}
}
