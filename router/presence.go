package router

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/switchboard-chat/switchboard"
)

// Connect records that a connection of the operator opened. It reads the
// operator (max_chats, enabled) from the store, and the first time also its
// ongoing chats. It returns the operator's status now: the one it had if it
// is still known (a reconnect within the grace period, another connection
// open, or a status set earlier in this process), else online. Going online
// may bring offers of queued chats. It fails with switchboard.ErrNotFound
// for an unknown operator.
func (r *Router) Connect(ctx context.Context, opID string) (switchboard.Status, error) {
	if !r.enter() {
		return switchboard.StatusOffline, ErrClosed
	}
	defer r.wg.Done()
	op, err := r.load(ctx, opID, true)
	if err != nil {
		return switchboard.StatusOffline, fmt.Errorf("router: connect operator %s: %w", opID, err)
	}
	// r.mu is held.
	if op.grace != nil {
		// Back within the grace period: status and chats are kept.
		stop(op.grace)
		op.grace = nil
		op.graceGen++
	} else if op.conns == 0 {
		r.setStatusLocked(op, cmp.Or(op.chosen, switchboard.StatusOnline))
	}
	op.conns++
	r.presenceLocked(op)
	st := op.status
	r.mu.Unlock()
	r.flush()
	if st == switchboard.StatusOnline {
		r.dispatch(r.ctx)
	}
	return st, nil
}

// Disconnect records that a connection of the operator closed. When it was
// the last one, the operator's live offers are revoked (it cannot answer
// them) and the grace period starts: unless the operator connects again
// before it ends, it then goes offline and its chats are queued again.
// An unknown operator, or one without connections, is ignored.
func (r *Router) Disconnect(opID string) {
	if !r.enter() {
		return
	}
	defer r.wg.Done()
	r.mu.Lock()
	op := r.ops[opID]
	if op == nil || op.conns == 0 {
		r.mu.Unlock()
		return
	}
	op.conns--
	moved := false
	if op.conns == 0 {
		op.graceGen++
		gen := op.graceGen
		op.grace = r.clock.AfterFunc(r.grace, func() { r.graceExpired(op, gen) })
		moved = r.revokeOffersLocked(op, ReasonTimeout)
		r.presenceLocked(op)
	}
	r.mu.Unlock()
	r.flush()
	if moved {
		r.dispatch(r.ctx)
	}
}

// graceExpired takes offline an operator that did not come back in time.
func (r *Router) graceExpired(op *operator, gen int) {
	if !r.enter() {
		return
	}
	defer r.wg.Done()
	r.mu.Lock()
	if op.graceGen != gen || op.conns > 0 {
		r.mu.Unlock()
		return
	}
	op.grace = nil
	r.setStatusLocked(op, switchboard.StatusOffline)
	r.revokeOffersLocked(op, ReasonTimeout)
	r.mu.Unlock()
	r.flush()
	r.requeueAll(r.ctx, op)
	r.dispatch(r.ctx)
}

// SetStatus sets an operator's status: online, away (keeps its chats, takes
// no new offers) or offline (its ongoing chats are queued again, at the
// front, and offered to others). Away and offline revoke its live offers.
// Any other status is a *switchboard.ValidationError for "status"; an
// unknown operator is switchboard.ErrNotFound.
func (r *Router) SetStatus(ctx context.Context, opID string, s switchboard.Status) error {
	switch s {
	case switchboard.StatusOnline, switchboard.StatusAway, switchboard.StatusOffline:
	default:
		return switchboard.Invalid("status", "must be %q, %q or %q",
			switchboard.StatusOnline, switchboard.StatusAway, switchboard.StatusOffline)
	}
	if !r.enter() {
		return ErrClosed
	}
	defer r.wg.Done()
	op, err := r.load(ctx, opID, false)
	if err != nil {
		return fmt.Errorf("router: set status of operator %s: %w", opID, err)
	}
	// r.mu is held.
	op.chosen = s
	r.setStatusLocked(op, s)
	if s != switchboard.StatusOnline {
		r.revokeOffersLocked(op, ReasonTimeout)
	}
	r.mu.Unlock()
	r.flush()
	if s == switchboard.StatusOffline {
		r.requeueAll(r.ctx, op)
	}
	r.dispatch(r.ctx)
	return nil
}

// OperatorUpdated reads the operator again after it changed in the store
// (max_chats, enabled, name): a disabled operator's live offers are
// revoked, and a raised max_chats may bring offers. An operator the router
// does not know is ignored.
func (r *Router) OperatorUpdated(ctx context.Context, opID string) error {
	if !r.enter() {
		return ErrClosed
	}
	defer r.wg.Done()
	rec, err := r.store.Operator(ctx, opID)
	deleted := errors.Is(err, switchboard.ErrNotFound)
	if err != nil && !deleted {
		return fmt.Errorf("router: reload operator %s: %w", opID, err)
	}
	r.mu.Lock()
	op := r.ops[opID]
	if op == nil {
		r.mu.Unlock()
		return nil
	}
	if deleted {
		op.rec.Enabled = false
	} else {
		op.rec = rec
	}
	if !op.rec.Enabled {
		r.revokeOffersLocked(op, ReasonTimeout)
	}
	r.presenceLocked(op)
	r.mu.Unlock()
	r.flush()
	r.dispatch(r.ctx)
	return nil
}

// OperatorStatus returns an operator's status and how many ongoing chats
// it holds. Unknown operators are offline with 0.
func (r *Router) OperatorStatus(opID string) (switchboard.Status, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	op := r.ops[opID]
	if op == nil {
		return switchboard.StatusOffline, 0
	}
	return cmp.Or(op.status, switchboard.StatusOffline), len(op.chats)
}

// DepartmentOnline reports whether an operator of the department's pool is
// available now: online, connected, enabled and below its max_chats; or,
// when none is, one of its fallback department's pool (if that is live and
// enabled: a chat started now would move there). The pools are read from
// the store; when that fails (or the department does not exist) it reports
// false.
func (r *Router) DepartmentOnline(departmentID string) bool {
	ctx, cancel := context.WithTimeout(r.ctx, 10*time.Second)
	defer cancel()
	d, err := r.store.Department(ctx, departmentID)
	if err != nil {
		if !errors.Is(err, switchboard.ErrNotFound) && ctx.Err() == nil {
			r.log.Error("department online", "department_id", departmentID, "err", err)
		}
		return false
	}
	if r.poolAvailable(d.OperatorIDs) || r.staffedElsewhere(ctx, d.OperatorIDs) {
		return true
	}
	if d.FallbackDepartmentID == "" || d.FallbackDepartmentID == d.ID {
		return false
	}
	fd, err := r.store.Department(ctx, d.FallbackDepartmentID)
	if err != nil {
		if !errors.Is(err, switchboard.ErrNotFound) && ctx.Err() == nil {
			r.log.Error("department online: fallback", "department_id", departmentID, "err", err)
		}
		return false
	}
	return fd.Enabled && r.poolAvailable(fd.OperatorIDs)
}

// poolAvailable reports whether an operator of the pool can take a chat now.
func (r *Router) poolAvailable(pool []string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range pool {
		if op := r.ops[id]; available(op) && len(op.chats) < op.maxChats() {
			return true
		}
	}
	return false
}

// staffedLocked reports whether an operator of the pool is online,
// connected and enabled, busy or not: a chat started then is queued.
func (r *Router) staffedLocked(d switchboard.Department) bool {
	for _, id := range d.OperatorIDs {
		if available(r.ops[id]) {
			return true
		}
		if p, ok := r.remote[id]; ok && p.Status == switchboard.StatusOnline {
			return true // on another node (cluster.go)
		}
	}
	return false
}

// load reads an operator from the store (always when refresh, else only if
// the router does not know it yet), and its ongoing chats the first time.
// It returns with r.mu held when it succeeds.
func (r *Router) load(ctx context.Context, opID string, refresh bool) (*operator, error) {
	r.mu.Lock()
	op := r.ops[opID]
	needRec := refresh || op == nil
	needChats := op == nil || !op.loaded
	r.mu.Unlock()

	var rec switchboard.Operator
	var open []switchboard.Chat
	var err error
	if needRec {
		if rec, err = r.store.Operator(ctx, opID); err != nil {
			return nil, err
		}
	}
	if needChats {
		if open, err = r.store.OperatorOpenChats(ctx, opID); err != nil {
			return nil, fmt.Errorf("read ongoing chats: %w", err)
		}
	}

	r.mu.Lock()
	op = r.ops[opID]
	if op == nil {
		op = &operator{id: opID, chats: map[string]*owned{}, offers: map[string]*offer{}}
		r.ops[opID] = op
	}
	if needRec {
		op.rec = rec
	}
	if needChats && !op.loaded {
		for _, ch := range open {
			if _, ok := r.owners[ch.ID]; !ok && ch.Status == switchboard.ChatOngoing {
				op.chats[ch.ID] = &owned{chat: ch}
				r.owners[ch.ID] = opID
			}
		}
		op.loaded = true
	}
	return op, nil
}

// setStatusLocked changes an operator's status; coming online starts its idle time.
func (r *Router) setStatusLocked(op *operator, s switchboard.Status) {
	if s == switchboard.StatusOnline && op.status != switchboard.StatusOnline {
		op.idleSince = r.clock.Now()
	}
	op.status = s
	r.presenceLocked(op)
}

// requeueAll queues again, at the front of their departments' queues, the
// ongoing chats of an operator that went offline. Chats the store refuses
// to requeue as someone else's are forgotten; those it fails to requeue
// otherwise stay with the operator (and are logged). The caller dispatches.
func (r *Router) requeueAll(ctx context.Context, op *operator) {
	r.mu.Lock()
	if op.status != switchboard.StatusOffline {
		r.mu.Unlock()
		return
	}
	var list []*owned
	for _, w := range op.chats {
		if !w.requeuing {
			w.requeuing = true
			list = append(list, w)
		}
	}
	rec := op.rec
	r.mu.Unlock()
	if len(list) == 0 {
		return
	}
	// Each goes to the front: the newest first, so the oldest ends up first.
	slices.SortFunc(list, func(a, b *owned) int {
		return cmp.Or(b.chat.StartedAt.Compare(a.chat.StartedAt), cmp.Compare(b.chat.ID, a.chat.ID))
	})

	depts := map[string]switchboard.Department{}
	var touched []string
	for _, w := range list {
		ch, err := r.store.RequeueChat(ctx, w.chat.ID, op.id)
		if err != nil {
			r.mu.Lock()
			w.requeuing = false
			if errors.Is(err, switchboard.ErrConflict) || errors.Is(err, switchboard.ErrNotFound) {
				r.forgetOwnedLocked(op, w.chat.ID)
			}
			r.mu.Unlock()
			if !errors.Is(err, switchboard.ErrConflict) && ctx.Err() == nil {
				r.log.Error("requeue chat", "chat_id", w.chat.ID, "operator_id", op.id, "err", err)
			}
			continue
		}
		d, ok := depts[ch.DepartmentID]
		if !ok {
			if d, err = r.department(ctx, ch.DepartmentID); err != nil {
				if ctx.Err() == nil {
					r.log.Error("requeue chat", "chat_id", ch.ID, "err", err)
				}
				d = switchboard.Department{ID: ch.DepartmentID}
			}
			depts[ch.DepartmentID] = d
			touched = append(touched, ch.DepartmentID)
		}
		v := r.visitor(ctx, ch)
		last := r.lastOperator(ctx, ch)
		r.mu.Lock()
		r.forgetOwnedLocked(op, ch.ID)
		if x := r.xfers[ch.ID]; x != nil { // moot: the chat is queued again
			r.dropTransferLocked(x, ReasonTaken)
		}
		if !w.ended && r.chats[ch.ID] == nil {
			now := r.clock.Now()
			r.enqueueLocked(ch, v, d, now.Add(seconds(d.WaitTimeoutS, switchboard.DefaultWaitTimeout)), true, now).preferred = last
			r.notify(func() { r.notifier.Requeued(ch, rec) })
		}
		r.mu.Unlock()
	}
	r.mu.Lock()
	for _, id := range touched {
		r.queueChangedLocked(id, depts[id].OperatorIDs)
	}
	r.mu.Unlock()
	r.flush()
}

// forgetOwnedLocked removes an ongoing chat from its operator.
func (r *Router) forgetOwnedLocked(op *operator, chatID string) {
	if _, ok := op.chats[chatID]; ok {
		delete(op.chats, chatID)
		delete(r.owners, chatID)
	}
}
