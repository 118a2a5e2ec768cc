package router

import (
	"context"
	"errors"

	"github.com/switchboard-chat/switchboard"
)

// FallbackNote is the note of the hop recorded when a chat moves to its
// department's fallback.
const FallbackNote = "fallback"

// Fallback departments: a department may name another one
// (Department.FallbackDepartmentID) that takes its chats when nobody of its
// pool is online at the start, or when the wait timeout passes. The chat
// moves there in the store (MoveQueuedChat, a hop with FallbackNote) and is
// queued and offered there with that department's wait timeout; a chat
// that fell back does not fall back again (the fallback's own fallback is
// not followed), so it turns missed when the fallback has nobody online or
// its wait timeout passes too. Only a live, enabled fallback with someone
// online is used. Visitors are not told: the move sends them nothing.

// staffedFallback returns d's fallback department when it has one that is
// live, enabled, not d itself, and has an operator of its pool online.
func (r *Router) staffedFallback(ctx context.Context, d switchboard.Department) (switchboard.Department, bool) {
	id := d.FallbackDepartmentID
	if id == "" || id == d.ID {
		return switchboard.Department{}, false
	}
	fd, err := r.store.Department(ctx, id)
	if err != nil {
		if !errors.Is(err, switchboard.ErrNotFound) && ctx.Err() == nil {
			r.log.Error("read fallback department", "department_id", d.ID, "fallback_department_id", id, "err", err)
		}
		return switchboard.Department{}, false
	}
	if !fd.Enabled {
		return switchboard.Department{}, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return fd, r.staffedLocked(fd)
}

// moveToFallback moves a queued chat to the fallback department fd in the
// store and returns it as moved.
func (r *Router) moveToFallback(ctx context.Context, ch switchboard.Chat, fd switchboard.Department) (switchboard.Chat, error) {
	cctx, cancel := commitContext(ctx)
	defer cancel()
	moved, _, err := r.store.MoveQueuedChat(cctx, ch.ID, fd.ID, FallbackNote)
	return moved, err
}

// fallBack hands a queued chat whose wait timeout passed to its
// department's fallback, when it has one with someone online. q.missing is
// set (no new offers) and q has no live offers. It reports whether the
// chat was moved (it is then queued in the fallback, or it ended
// meanwhile); false leaves q as it was, for the caller to miss it.
func (r *Router) fallBack(q *entry) bool {
	fd, ok := r.staffedFallback(r.ctx, q.dept)
	if !ok {
		return false
	}
	ch, err := r.moveToFallback(r.ctx, q.chat, fd)
	if err != nil {
		if !errors.Is(err, switchboard.ErrConflict) && !errors.Is(err, switchboard.ErrNotFound) && r.ctx.Err() == nil {
			r.log.Error("move chat to fallback department", "chat_id", q.chat.ID, "fallback_department_id", fd.ID, "err", err)
		}
		return false
	}
	last := r.lastOperator(r.ctx, ch)
	r.mu.Lock()
	if r.chats[ch.ID] != q { // ended meanwhile
		r.mu.Unlock()
		return true
	}
	q.missing = false
	r.removeEntryLocked(q, ReasonTimeout)
	r.queueChangedLocked(q.chat.DepartmentID, q.dept.OperatorIDs)
	now := r.clock.Now()
	nq := r.enqueueLocked(ch, q.visitor, fd, now.Add(seconds(fd.WaitTimeoutS, switchboard.DefaultWaitTimeout)), false, now)
	nq.fellBack, nq.preferred = true, last
	r.queueChangedLocked(fd.ID, fd.OperatorIDs)
	r.routeLocked(nq, fd, now)
	r.mu.Unlock()
	r.flush()
	return true
}
