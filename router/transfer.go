package router

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/switchboard-chat/switchboard"
)

// ErrNoOperators is returned by Transfer when nobody eligible is online in
// the target (protocol error no_operators).
var ErrNoOperators = errors.New("no operators")

// Reasons of TransferNotifier.TransferFailed, as in the chat.transfer_failed frame.
const (
	TransferDeclined    = "declined"     // the target operator declined (or every one of the department did)
	TransferTimeout     = "timeout"      // the ring timeout passed, or the target went away
	TransferNoOperators = "no_operators" // nobody eligible was left to offer it to
)

// TakeOverNote is the note of the hop recorded by TakeOver.
const TakeOverNote = "taken over"

// TransferNotifier receives the outcomes of transfers. A Notifier that
// also implements it is told of them (the session Server does); the same
// rules as for Notifier apply.
type TransferNotifier interface {
	// Transferred follows the store's commit of a hop: the chat moved from
	// m.From to m.To.
	Transferred(m Move)
	// TransferFailed tells the chat's operator (and whoever asked for the
	// transfer) that the chat stays where it is; reason is TransferDeclined,
	// TransferTimeout or TransferNoOperators.
	TransferFailed(chatID string, operatorIDs []string, reason string)
}

// TransferOrigin is the transfer part of an offer.
type TransferOrigin struct {
	FromOperator   switchboard.Operator
	FromDepartment switchboard.Department // ID and Name only
	Note           string
}

// Move is a committed hop of a chat.
type Move struct {
	Chat               switchboard.Chat // as moved
	Hop                switchboard.Transfer
	From, To           switchboard.Operator
	FromDepartmentName string
}

// TransferRequest asks for a transfer of an ongoing chat to a department or
// to an operator (exactly one of DepartmentID, OperatorID).
type TransferRequest struct {
	ChatID       string
	By           switchboard.Operator // who asks: the chat's operator, or a supervisor or admin
	DepartmentID string
	OperatorID   string
	Note         string
	// forwarded: another node handed this request over (cluster.go); it
	// is not handed on again.
	forwarded bool
}

// xfer is a transfer under way: at most one per chat.
type xfer struct {
	chat    switchboard.Chat // as it was when asked
	visitor switchboard.Visitor
	by      string
	dept    switchboard.Department // the target department, or the chat's own for an operator target
	toDept  bool                   // the target is dept (else toOp)
	toOp    string
	origin  TransferOrigin
	offer   *offer // the live offer, if any
	tried   map[string]bool
}

// Transfer offers an ongoing chat to a department (its pool's eligible
// operators in turn, each once, the chat's operator and the asker excluded)
// or to one online operator, with the department's ring timeout. The chat
// stays with its operator until the offer is accepted (Accept moves it);
// a decline or timeout with nobody left to try ends the transfer with
// TransferNotifier.TransferFailed. Errors: ErrForbidden when By is neither
// the chat's operator nor a supervisor or admin; ErrConflict when the chat
// is not ongoing or a transfer of it is under way; a ValidationError for a
// bad target; ErrDepartmentDisabled; ErrNoOperators when nobody eligible
// is online in the target.
func (r *Router) Transfer(ctx context.Context, req TransferRequest) error {
	if !r.enter() {
		return ErrClosed
	}
	defer r.wg.Done()
	wrap := func(err error) error { return fmt.Errorf("router: transfer chat %s: %w", req.ChatID, err) }
	if (req.DepartmentID == "") == (req.OperatorID == "") {
		return wrap(switchboard.Invalid("department_id", "give one of department_id and operator_id"))
	}
	ch, err := r.store.Chat(ctx, req.ChatID)
	if err != nil {
		return wrap(err)
	}
	if ch.Status != switchboard.ChatOngoing {
		return wrap(&switchboard.ConflictError{Field: "chat_id", Message: fmt.Sprintf("the chat is %s, not ongoing", ch.Status)})
	}
	if ch.OperatorID != req.By.ID && !req.By.Role.AtLeast(switchboard.RoleSupervisor) {
		return wrap(switchboard.ErrForbidden)
	}
	x := &xfer{chat: ch, by: req.By.ID, tried: map[string]bool{}}
	if req.DepartmentID != "" {
		d, err := r.store.Department(ctx, req.DepartmentID)
		if errors.Is(err, switchboard.ErrNotFound) {
			return wrap(switchboard.Invalid("department_id", "no such department"))
		} else if err != nil {
			return wrap(err)
		}
		if !d.Enabled {
			return wrap(switchboard.ErrDepartmentDisabled)
		}
		x.dept, x.toDept = d, true
	} else {
		o, err := r.store.Operator(ctx, req.OperatorID)
		if errors.Is(err, switchboard.ErrNotFound) {
			return wrap(switchboard.Invalid("operator_id", "no such operator"))
		} else if err != nil {
			return wrap(err)
		}
		switch {
		case !o.Enabled:
			return wrap(switchboard.Invalid("operator_id", "the operator is disabled"))
		case o.ID == req.By.ID:
			return wrap(switchboard.Invalid("operator_id", "cannot transfer to yourself"))
		case o.ID == ch.OperatorID:
			return wrap(switchboard.Invalid("operator_id", "the chat is already this operator's"))
		}
		x.toOp = o.ID
		if x.dept, err = r.department(ctx, ch.DepartmentID); err != nil {
			return wrap(err)
		}
	}
	from, err := r.store.Operator(ctx, ch.OperatorID)
	if err != nil {
		from = switchboard.Operator{ID: ch.OperatorID}
	}
	x.origin = TransferOrigin{
		FromOperator:   switchboard.Operator{ID: from.ID, Name: from.Name},
		FromDepartment: switchboard.Department{ID: ch.DepartmentID, Name: ch.DepartmentName},
		Note:           req.Note,
	}
	x.visitor = r.visitor(ctx, ch)

	r.mu.Lock()
	if r.xfers[ch.ID] != nil {
		r.mu.Unlock()
		return wrap(&switchboard.ConflictError{Field: "chat_id", Message: "a transfer of this chat is under way"})
	}
	target := r.nextTargetLocked(x)
	if target == nil {
		r.mu.Unlock()
		// In a cluster the target may be online on another node: that
		// node runs the transfer (cluster.go).
		if r.cl != nil && !req.forwarded && r.forwardTransfer(ctx, x, req) {
			return nil
		}
		return wrap(ErrNoOperators)
	}
	if r.xfers == nil {
		r.xfers = map[string]*xfer{}
	}
	r.xfers[ch.ID] = x
	r.offerTransferLocked(x, target, r.clock.Now())
	r.mu.Unlock()
	r.flush()
	return nil
}

// nextTargetLocked returns the operator to offer the transfer to next, or nil.
func (r *Router) nextTargetLocked(x *xfer) *operator {
	if !x.toDept {
		if op := r.ops[x.toOp]; !x.tried[x.toOp] && available(op) && op.offers[x.chat.ID] == nil {
			return op
		}
		return nil
	}
	var best *operator
	for _, id := range x.dept.OperatorIDs {
		op := r.ops[id]
		if x.tried[id] || id == x.chat.OperatorID || id == x.by || !available(op) ||
			op.load() >= op.maxChats() || op.offers[x.chat.ID] != nil {
			continue
		}
		if best == nil || better(op, best) {
			best = op
		}
	}
	return best
}

// offerTransferLocked offers the transfer to an operator for the ring timeout.
func (r *Router) offerTransferLocked(x *xfer, op *operator, now time.Time) {
	ring := seconds(x.dept.RingTimeoutS, switchboard.DefaultRingTimeout)
	o := &offer{chatID: x.chat.ID, opID: op.id, expiresAt: now.Add(ring), xfer: x, dept: x.dept.ID}
	r.metrics.Offered(o.dept)
	o.timer = r.clock.AfterFunc(ring, func() { r.transferOfferExpired(o) })
	x.offer = o
	x.tried[op.id] = true
	op.offers[x.chat.ID] = o
	origin := x.origin
	msg := Offer{Chat: x.chat, Department: x.dept, Visitor: x.visitor, ExpiresAt: o.expiresAt, Transfer: &origin}
	r.notify(func() { r.notifier.Offer(o.opID, msg) })
}

// advanceTransferLocked offers the transfer to the next operator, or ends it
// as failed for reason when nobody is left.
func (r *Router) advanceTransferLocked(x *xfer, reason string) {
	if r.xfers[x.chat.ID] != x {
		return
	}
	if next := r.nextTargetLocked(x); next != nil {
		r.offerTransferLocked(x, next, r.clock.Now())
		return
	}
	delete(r.xfers, x.chat.ID)
	r.metrics.Transfer(x.dept.ID, reason)
	tell := []string{x.chat.OperatorID}
	if x.by != x.chat.OperatorID {
		tell = append(tell, x.by)
	}
	if tn, ok := r.notifier.(TransferNotifier); ok {
		id := x.chat.ID
		r.notify(func() { tn.TransferFailed(id, tell, reason) })
	}
}

// dropTransferLocked ends a transfer without telling anyone it failed; its
// offer is revoked for reason.
func (r *Router) dropTransferLocked(x *xfer, reason string) {
	if r.xfers[x.chat.ID] == x {
		delete(r.xfers, x.chat.ID)
	}
	if o := x.offer; o != nil {
		x.offer = nil
		r.dropOfferLocked(o, reason)
	}
}

// transferOfferExpired moves a transfer on at its offer's ring timeout.
func (r *Router) transferOfferExpired(o *offer) {
	if !r.enter() {
		return
	}
	defer r.wg.Done()
	r.mu.Lock()
	x := o.xfer
	if r.xfers[o.chatID] != x || x.offer != o || o.accepting {
		r.mu.Unlock()
		return
	}
	x.offer = nil
	r.dropOfferLocked(o, ReasonTimeout)
	r.advanceTransferLocked(x, TransferTimeout)
	r.mu.Unlock()
	r.flush()
	r.dispatch(r.ctx)
}

// transferOfferDropped is called by dropOfferLocked for a transfer offer
// dropped elsewhere (its operator went away): the transfer moves on.
func (r *Router) transferOfferDropped(o *offer) {
	if x := o.xfer; x != nil && x.offer == o {
		x.offer = nil
		r.advanceTransferLocked(x, TransferTimeout)
	}
}

// liveTransferOffer returns the transfer offer of chatID to opID, if any; r.mu is held.
func (r *Router) liveTransferOffer(opID, chatID string) *offer {
	if x := r.xfers[chatID]; x != nil && x.offer != nil && x.offer.opID == opID {
		return x.offer
	}
	return nil
}

// declineTransfer refuses a transfer offer; r.mu is held and released.
func (r *Router) declineTransfer(o *offer) error {
	if o.accepting {
		r.mu.Unlock()
		return fmt.Errorf("router: decline chat %s: an accept is under way: %w", o.chatID, switchboard.ErrConflict)
	}
	x := o.xfer
	x.offer = nil
	r.metrics.OfferOutcome(o.dept, "declined")
	r.dropOfferLocked(o, "")
	r.advanceTransferLocked(x, TransferDeclined)
	r.mu.Unlock()
	r.flush()
	r.dispatch(r.ctx)
	return nil
}

// acceptTransfer commits a transfer offer's accept; r.mu is held and released.
func (r *Router) acceptTransfer(ctx context.Context, o *offer) (switchboard.Chat, error) {
	x := o.xfer
	if o.accepting {
		r.mu.Unlock()
		return switchboard.Chat{}, fmt.Errorf("router: accept chat %s: an accept is under way: %w", o.chatID, switchboard.ErrConflict)
	}
	o.accepting = true
	stop(o.timer)
	r.mu.Unlock()

	hop := switchboard.Transfer{ToOperatorID: o.opID, Note: x.origin.Note, At: r.clock.Now()}
	if x.toDept {
		hop.ToDepartmentID = x.dept.ID
	}
	cctx, cancel := commitContext(ctx)
	ch, hop, err := r.store.TransferChat(cctx, x.chat.ID, x.chat.OperatorID, hop)
	cancel()

	r.mu.Lock()
	o.accepting = false
	if err != nil {
		if x.offer == o && !errors.Is(err, switchboard.ErrConflict) && !errors.Is(err, switchboard.ErrNotFound) {
			// The store failed: the offer stays live for what is left of it.
			if left := o.expiresAt.Sub(r.clock.Now()); left > 0 {
				o.timer = r.clock.AfterFunc(left, func() { r.transferOfferExpired(o) })
			} else {
				x.offer = nil
				r.dropOfferLocked(o, ReasonTimeout)
				r.advanceTransferLocked(x, TransferTimeout)
			}
		} else {
			// The chat ended or moved meanwhile: the transfer is moot.
			r.dropTransferLocked(x, ReasonTaken)
			err = fmt.Errorf("%w: %w", switchboard.ErrAlreadyTaken, err)
		}
		r.mu.Unlock()
		r.flush()
		return switchboard.Chat{}, fmt.Errorf("router: accept transfer of chat %s: %w", x.chat.ID, err)
	}
	r.metrics.OfferOutcome(o.dept, "accepted")
	if x.offer == o {
		x.offer = nil
		r.dropOfferLocked(o, "")
	}
	if r.xfers[x.chat.ID] == x {
		delete(r.xfers, x.chat.ID)
	}
	r.metrics.Transfer(ch.DepartmentID, "completed")
	r.movedLocked(ch, hop, x.chat.DepartmentName)
	to := r.ops[o.opID]
	offline := to != nil && to.status == switchboard.StatusOffline
	r.mu.Unlock()
	r.flush()
	if offline {
		// It went offline while accepting: the chat cannot stay with it.
		r.requeueAll(r.ctx, to)
	}
	r.dispatch(r.ctx)
	return ch, nil
}

// movedLocked moves a transferred chat between the operators' loads and
// queues the Transferred notification.
func (r *Router) movedLocked(ch switchboard.Chat, hop switchboard.Transfer, fromDeptName string) {
	r.announceLocked(ch.ID, time.Time{}) // the operator it left may be on another node
	from := switchboard.Operator{ID: hop.FromOperatorID}
	if op := r.ops[hop.FromOperatorID]; op != nil {
		from = op.rec
		r.forgetOwnedLocked(op, ch.ID)
	}
	to := switchboard.Operator{ID: hop.ToOperatorID}
	if op := r.ops[hop.ToOperatorID]; op != nil {
		to = op.rec
		op.chats[ch.ID] = &owned{chat: ch}
		r.owners[ch.ID] = op.id
		op.idleSince = r.clock.Now()
	}
	if tn, ok := r.notifier.(TransferNotifier); ok {
		m := Move{Chat: ch, Hop: hop, From: from, To: to, FromDepartmentName: fromDeptName}
		r.notify(func() { tn.Transferred(m) })
	}
}

// TakeOver moves an ongoing chat to a supervisor or admin at once, as a
// transfer to that operator noted TakeOverNote; a transfer of the chat
// under way is dropped (its offer revoked as taken). ErrForbidden for
// other roles, ErrAlreadyTaken when the chat is not ongoing; taking over
// one's own chat returns it.
func (r *Router) TakeOver(ctx context.Context, by switchboard.Operator, chatID string) (switchboard.Chat, error) {
	if !r.enter() {
		return switchboard.Chat{}, ErrClosed
	}
	defer r.wg.Done()
	wrap := func(err error) error { return fmt.Errorf("router: take over chat %s: %w", chatID, err) }
	if !by.Role.AtLeast(switchboard.RoleSupervisor) {
		return switchboard.Chat{}, wrap(switchboard.ErrForbidden)
	}
	ch, err := r.store.Chat(ctx, chatID)
	if err != nil {
		return switchboard.Chat{}, wrap(err)
	}
	if ch.Status != switchboard.ChatOngoing {
		return switchboard.Chat{}, wrap(switchboard.ErrAlreadyTaken)
	}
	if ch.OperatorID == by.ID {
		return ch, nil
	}
	r.mu.Lock()
	if x := r.xfers[chatID]; x != nil {
		if x.offer != nil && x.offer.accepting {
			r.mu.Unlock()
			return switchboard.Chat{}, wrap(&switchboard.ConflictError{Field: "chat_id", Message: "a transfer of this chat is being accepted"})
		}
		r.dropTransferLocked(x, ReasonTaken)
	}
	r.mu.Unlock()
	r.flush()

	cctx, cancel := commitContext(ctx)
	moved, hop, err := r.store.TransferChat(cctx, chatID, ch.OperatorID,
		switchboard.Transfer{ToOperatorID: by.ID, Note: TakeOverNote, At: r.clock.Now()})
	cancel()
	if err != nil {
		if errors.Is(err, switchboard.ErrConflict) {
			err = fmt.Errorf("%w: %w", switchboard.ErrAlreadyTaken, err)
		}
		return switchboard.Chat{}, wrap(err)
	}
	r.mu.Lock()
	r.metrics.Transfer(moved.DepartmentID, "taken_over")
	r.movedLocked(moved, hop, ch.DepartmentName)
	r.mu.Unlock()
	r.flush()
	r.dispatch(r.ctx)
	return moved, nil
}

// Transferring reports the chats with a transfer under way, sorted.
func (r *Router) Transferring() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Sorted(maps.Keys(r.xfers))
}
