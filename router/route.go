package router

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"time"

	"github.com/switchboard-chat/switchboard"
)

// dispatch runs the assignment of every queued chat that may take new
// offers, oldest first across departments: those without a live offer, and
// every chat of a broadcast department. Each department involved is read
// from the store once, so that pool and routing changes apply at once. It
// is what happens whenever an operator may take more than before.
func (r *Router) dispatch(ctx context.Context) {
	r.mu.Lock()
	var ids []string
	if r.anyoneFreeLocked() {
		for id, qs := range r.queues {
			if slices.ContainsFunc(qs, needsRouting) {
				ids = append(ids, id)
			}
		}
	}
	r.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	slices.Sort(ids)
	depts := make(map[string]switchboard.Department, len(ids))
	for _, id := range ids {
		d, err := r.department(ctx, id)
		if err != nil {
			if ctx.Err() == nil {
				r.log.Error("route queued chats", "department_id", id, "err", err)
			}
			continue
		}
		depts[id] = d
	}

	r.mu.Lock()
	var todo []*entry
	for id := range depts {
		for _, q := range r.queues[id] {
			if needsRouting(q) {
				todo = append(todo, q)
			}
		}
	}
	slices.SortFunc(todo, func(a, b *entry) int { return cmp.Compare(a.rank, b.rank) })
	now := r.clock.Now()
	for _, q := range todo {
		r.routeLocked(q, depts[q.chat.DepartmentID], now)
	}
	r.mu.Unlock()
	r.flush()
}

// needsRouting reports whether a queued chat may take new offers now.
func needsRouting(q *entry) bool {
	if q.missing || q.gone {
		return false
	}
	return len(q.offers) == 0 || q.dept.Routing == switchboard.RoutingBroadcast
}

// anyoneFreeLocked reports whether some operator could take an offer.
func (r *Router) anyoneFreeLocked() bool {
	for _, op := range r.ops {
		if available(op) && op.load() < op.maxChats() {
			return true
		}
	}
	return false
}

// routeLocked makes the offers of one queued chat of department d (just
// read from the store): to every eligible operator (broadcast), or to the
// best eligible operator not tried in this round when the chat has no live
// offer (auto); when every eligible operator was tried, a new round starts.
// In auto routing, a returning visitor's chat goes first to the operator
// who last served it (entry.preferred); broadcast offers it to everyone as
// usual, that operator included.
func (r *Router) routeLocked(q *entry, d switchboard.Department, now time.Time) {
	q.dept = d
	if q.missing || q.gone {
		return
	}
	if d.Routing == switchboard.RoutingBroadcast {
		for _, id := range d.OperatorIDs {
			if op := r.ops[id]; eligible(op, q) {
				r.offerLocked(q, op, now)
			}
		}
		return
	}
	if len(q.offers) > 0 {
		return
	}
	// A returning visitor goes first to the operator who last served it,
	// when that operator can take the chat now; once only: after its ring
	// timeout (or a decline) routing goes on as usual.
	if p := q.preferred; p != "" {
		q.preferred = ""
		if op := r.ops[p]; eligible(op, q) && slices.Contains(d.OperatorIDs, p) {
			r.offerLocked(q, op, now)
			return
		}
	}
	best := r.bestLocked(q, d.OperatorIDs, true)
	if best == nil && len(q.tried) > 0 {
		clear(q.tried)
		best = r.bestLocked(q, d.OperatorIDs, false)
	}
	if best != nil {
		r.offerLocked(q, best, now)
	}
}

// bestLocked returns the eligible operator of pool with the least load (its
// ongoing chats and live offers), then idle for the longest, then with the
// smallest id; skipping those tried in this round when untried.
func (r *Router) bestLocked(q *entry, pool []string, untried bool) *operator {
	var best *operator
	for _, id := range pool {
		op := r.ops[id]
		if !eligible(op, q) || (untried && q.tried[id]) {
			continue
		}
		if best == nil || better(op, best) {
			best = op
		}
	}
	return best
}

func better(a, b *operator) bool {
	if la, lb := a.load(), b.load(); la != lb {
		return la < lb
	}
	if !a.idleSince.Equal(b.idleSince) {
		return a.idleSince.Before(b.idleSince)
	}
	return a.id < b.id
}

// available reports whether an operator can be offered chats at all:
// online, connected and enabled.
func available(op *operator) bool {
	return op != nil && op.status == switchboard.StatusOnline && op.conns > 0 && op.rec.Enabled
}

// eligible reports whether the chat may be offered to the operator now.
// Live offers count against max_chats, so an operator is never offered
// more chats than it can accept.
func eligible(op *operator, q *entry) bool {
	return available(op) && op.load() < op.maxChats() && q.offers[op.id] == nil && !q.declined[op.id]
}

func (op *operator) load() int { return len(op.chats) + len(op.offers) }

func (op *operator) maxChats() int {
	if op.rec.MaxChats <= 0 {
		return switchboard.DefaultMaxChats
	}
	return op.rec.MaxChats
}

// offerLocked offers a queued chat to an operator for the department's ring timeout.
func (r *Router) offerLocked(q *entry, op *operator, now time.Time) {
	ring := seconds(q.dept.RingTimeoutS, switchboard.DefaultRingTimeout)
	o := &offer{chatID: q.chat.ID, opID: op.id, expiresAt: now.Add(ring), dept: q.chat.DepartmentID}
	r.metrics.Offered(o.dept)
	o.timer = r.clock.AfterFunc(ring, func() { r.offerExpired(o) })
	q.offers[op.id] = o
	q.tried[op.id] = true
	op.offers[q.chat.ID] = o
	msg := Offer{Chat: q.chat, Department: q.dept, Visitor: q.visitor, ExpiresAt: o.expiresAt}
	r.notify(func() { r.notifier.Offer(o.opID, msg) })
}

// offerExpired revokes an offer at its ring timeout and moves on.
func (r *Router) offerExpired(o *offer) {
	if !r.enter() {
		return
	}
	defer r.wg.Done()
	r.mu.Lock()
	if q := r.chats[o.chatID]; q == nil || q.offers[o.opID] != o || o.accepting {
		r.mu.Unlock()
		return
	}
	r.dropOfferLocked(o, ReasonTimeout)
	r.mu.Unlock()
	r.flush()
	r.dispatch(r.ctx)
}

// revokeOffersLocked revokes every live offer of an operator (it went away,
// offline or lost its connections), except those being accepted. It
// reports whether it revoked any.
func (r *Router) revokeOffersLocked(op *operator, reason string) bool {
	n := 0
	for _, id := range slices.Sorted(maps.Keys(op.offers)) {
		if o := op.offers[id]; !o.accepting {
			r.dropOfferLocked(o, reason)
			n++
		}
	}
	return n > 0
}

// accepting reports whether an accept of the chat is under way.
func accepting(q *entry) bool {
	for _, o := range q.offers {
		if o.accepting {
			return true
		}
	}
	return false
}
