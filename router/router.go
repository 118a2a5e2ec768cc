// Package router assigns a single node's chats to operators: operator
// presence (connections, status, a grace period after the last connection
// drops), one queue per department, offers with ring timeouts, wait
// timeouts and missed chats.
//
// The store is the arbiter of every race: accepting is the store's
// conditional AssignChat, so of two operators accepting at once exactly one
// wins. The router's own state lives in memory under one mutex that is never
// held across a store call or a Notifier call. Decisions taken under the
// mutex queue their notifications in an outbox that is delivered in order,
// outside the mutex, by one goroutine at a time, so the Notifier sees the
// router's decisions in the order they were taken (an offer is never
// delivered after its revocation).
package router

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/cluster"
	"github.com/switchboard-chat/switchboard/store"
)

// ErrClosed is returned by the methods of a Router after Close.
var ErrClosed = errors.New("router: closed")

// DefaultGrace is how long an operator whose last connection dropped keeps
// its status and chats when Config.Grace is 0.
const DefaultGrace = 30 * time.Second

// commitTimeout bounds the store calls that change a chat (see commitContext).
const commitTimeout = 30 * time.Second

// commitContext is the context of a store call that changes a chat on a
// caller's behalf: it is not cancelled with the caller's context, so that
// the router always learns whether the change happened and its memory
// stays in step with the store.
func commitContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
}

// retryDelay is how long the router waits before it tries again to miss a
// chat whose MissChat failed.
const retryDelay = 5 * time.Second

// Revocation reasons of Notifier.RevokeOffer, as in the protocol's
// chat.offer_revoked frame.
const (
	ReasonTaken   = "taken"   // another operator accepted the chat, or it left the queue
	ReasonTimeout = "timeout" // the ring or wait timeout passed, or the operator went away
	ReasonEnded   = "ended"   // the chat ended while queued
)

// Notifier receives the router's decisions; the session hub implements it.
// Calls are made without the router's lock held, may come from timer
// goroutines, and must not block for long. They are made one at a time, in
// the order the router took its decisions. A Notifier may call the Router's
// methods, but not Close.
type Notifier interface {
	// Offer tells an operator it may accept the chat until o.ExpiresAt.
	Offer(operatorID string, o Offer)
	// RevokeOffer withdraws an offer; reason is ReasonTaken, ReasonTimeout or ReasonEnded.
	RevokeOffer(operatorID, chatID, reason string)
	// Assigned follows the store's commit of an accepted chat.
	Assigned(chat switchboard.Chat, op switchboard.Operator)
	// Missed follows the store's commit of a missed chat (nobody online at
	// the start, or nobody answered within the wait timeout).
	Missed(chat switchboard.Chat)
	// Requeued says that an operator went offline and its ongoing chat is
	// queued again (it is offered to others next).
	Requeued(chat switchboard.Chat, from switchboard.Operator)
	// QueueChanged gives a department's new waiting count, for the
	// operators of its pool.
	QueueChanged(departmentID string, waiting int, operatorIDs []string)
}

// Offer is a queued chat offered to an operator.
type Offer struct {
	Chat       switchboard.Chat
	Department switchboard.Department
	Visitor    switchboard.Visitor
	ExpiresAt  time.Time
	Transfer   *TransferOrigin // nil, or where a transferred chat comes from
}

// Store is what the router needs of the store: a subset of store.Store.
type Store interface {
	Department(ctx context.Context, id string) (switchboard.Department, error)
	Operator(ctx context.Context, id string) (switchboard.Operator, error)
	Visitor(ctx context.Context, id string) (switchboard.Visitor, error)
	Chat(ctx context.Context, id string) (switchboard.Chat, error)
	CreateChat(ctx context.Context, c store.NewChat) (switchboard.Chat, error)
	AssignChat(ctx context.Context, chatID, operatorID string, at time.Time) (switchboard.Chat, error)
	RequeueChat(ctx context.Context, chatID, operatorID string) (switchboard.Chat, error)
	MissChat(ctx context.Context, chatID string, at time.Time) (switchboard.Chat, error)
	MoveQueuedChat(ctx context.Context, chatID, toDepartmentID, note string) (switchboard.Chat, switchboard.Transfer, error)
	OperatorOpenChats(ctx context.Context, operatorID string) ([]switchboard.Chat, error)
	QueuedChats(ctx context.Context) ([]switchboard.Chat, error)
	LastOperator(ctx context.Context, visitorID, departmentID string) (string, error)
	TransferChat(ctx context.Context, chatID, fromOperatorID string, t switchboard.Transfer) (switchboard.Chat, switchboard.Transfer, error)
}

var _ Store = store.Store(nil)

// Config configures New.
type Config struct {
	// Store holds the chats, departments and operators. Required.
	Store Store
	// Notifier receives the router's decisions. Required.
	Notifier Notifier
	// Log receives the errors the router handles itself (in timers); nil
	// discards them.
	Log *slog.Logger
	// Clock gives time and timers; nil means the real clock.
	Clock Clock
	// Grace is how long an operator whose last connection dropped stays in
	// its status before going offline; 0 means DefaultGrace.
	Grace time.Duration
	// Metrics observes offers, queues and outcomes; nil observes nothing.
	Metrics Metrics
	// Cluster shares queues and presence with other nodes (cluster.go);
	// nil routes a single node.
	Cluster Cluster
}

// Router routes the chats of one node. Its methods are safe for concurrent use.
type Router struct {
	store    Store
	notifier Notifier
	log      *slog.Logger
	clock    Clock
	grace    time.Duration
	metrics  Metrics

	ctx    context.Context // cancelled by Close; bounds the work of timers
	cancel context.CancelFunc
	wg     sync.WaitGroup // operations and timer callbacks under way

	mu          sync.Mutex
	closed      bool
	ops         map[string]*operator
	chats       map[string]*entry                   // queued chats by id
	queues      map[string][]*entry                 // queued chats by department, front first
	owners      map[string]string                   // ongoing chat id → operator id
	xfers       map[string]*xfer                    // transfers under way by chat id (transfer.go)
	cl          Cluster                             // nil on a single node (cluster.go)
	remote      map[string]cluster.OperatorPresence // other nodes' operators, from presence events
	syncing     bool                                // applying another node's change: not announced again
	front, back int64                               // ranks of the queues' ends
	outbox      []func()                            // notifications not delivered yet, in order
	delivering  bool                                // a goroutine is delivering the outbox
}

// operator is the presence of one operator.
type operator struct {
	id        string
	rec       switchboard.Operator
	loaded    bool               // chats came from the store; memory is authoritative since
	status    switchboard.Status // "" is offline
	chosen    switchboard.Status // the last SetStatus, "" if none
	conns     int
	grace     Timer
	graceGen  int
	idleSince time.Time // when it came online or was last assigned a chat
	chats     map[string]*owned
	offers    map[string]*offer // by chat id
}

// owned is an ongoing chat of an operator.
type owned struct {
	chat      switchboard.Chat
	requeuing bool // RequeueChat under way
	ended     bool // Ended arrived while requeuing
}

// entry is a queued chat.
type entry struct {
	chat     switchboard.Chat
	visitor  switchboard.Visitor
	dept     switchboard.Department // as last read from the store
	rank     int64                  // queue order across departments: lower is older
	queuedAt time.Time              // when it entered this queue (metrics)
	wait     Timer
	waitGen  int
	missing  bool              // MissChat under way: no new offers
	gone     bool              // the store says it left the queue: no new offers
	offers   map[string]*offer // by operator id
	tried    map[string]bool   // auto routing: operators offered in this round
	declined map[string]bool
	// preferred is the operator who last served the visitor in this
	// department (auto routing offers it the chat first, once), or "".
	preferred string
	// fellBack says the chat moved here from its department's fallback
	// (fallback.go): it does not fall back again.
	fellBack bool
}

// offer is a live offer of a chat to an operator.
type offer struct {
	chatID, opID string
	expiresAt    time.Time
	timer        Timer
	accepting    bool  // AssignChat under way: the ring timer is stopped
	xfer         *xfer // the transfer offered, for a transfer offer (of an ongoing chat)

	dept string // the department counted in metrics
}

// New returns a router. It fails when Store or Notifier is missing. Call
// Start before routing chats, and Close to stop its timers.
func New(cfg Config) (*Router, error) {
	if cfg.Store == nil {
		return nil, errors.New("router: Config.Store is required")
	}
	if cfg.Notifier == nil {
		return nil, errors.New("router: Config.Notifier is required")
	}
	if cfg.Grace < 0 {
		return nil, fmt.Errorf("router: Config.Grace is negative (%v)", cfg.Grace)
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	var clock Clock = realClock{}
	if cfg.Clock != nil {
		clock = cfg.Clock
	}
	var metrics Metrics = nopMetrics{}
	if cfg.Metrics != nil {
		metrics = cfg.Metrics
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Router{
		store:    cfg.Store,
		notifier: cfg.Notifier,
		log:      log.With("component", "router"),
		clock:    clock,
		grace:    cmp.Or(cfg.Grace, DefaultGrace),
		metrics:  metrics,
		ctx:      ctx,
		cancel:   cancel,
		ops:      map[string]*operator{},
		chats:    map[string]*entry{},
		queues:   map[string][]*entry{},
		owners:   map[string]string{},
		cl:       cfg.Cluster,
		remote:   map[string]cluster.OperatorPresence{},
	}, nil
}

// Start rebuilds the queues from the store's queued chats: each gets a wait
// timer for what is left of its department's wait timeout since it started;
// chats older than that are missed at once. Chats already queued in the
// router are left alone, so Start may be called again.
func (r *Router) Start(ctx context.Context) error {
	if !r.enter() {
		return ErrClosed
	}
	defer r.wg.Done()
	if r.cl != nil {
		if err := r.startCluster(ctx); err != nil {
			return fmt.Errorf("router: start: %w", err)
		}
	}
	queued, err := r.store.QueuedChats(ctx)
	if err != nil {
		return fmt.Errorf("router: start: %w", err)
	}
	// In a cluster other nodes may hold these chats with deadlines this
	// node cannot know (a requeued chat waits from its requeue): a full
	// wait from now, and the node whose timer fires first misses it.
	if err := r.adopt(ctx, queued, r.cl == nil); err != nil {
		return fmt.Errorf("router: start: %w", err)
	}
	r.dispatch(r.ctx)
	return nil
}

// Enqueue routes a chat that the store holds as queued but the router does
// not know: a reopened chat. Its wait timeout runs from now. A chat that
// is already queued in the router is left alone.
func (r *Router) Enqueue(ctx context.Context, chat switchboard.Chat) error {
	if !r.enter() {
		return ErrClosed
	}
	defer r.wg.Done()
	if chat.Status != switchboard.ChatQueued {
		return fmt.Errorf("router: enqueue chat %s: %w", chat.ID,
			switchboard.Invalid("status", "is %q, not %q", chat.Status, switchboard.ChatQueued))
	}
	if err := r.adopt(ctx, []switchboard.Chat{chat}, false); err != nil {
		return fmt.Errorf("router: enqueue chat %s: %w", chat.ID, err)
	}
	r.dispatch(r.ctx)
	return nil
}

// Reopened hands the router a chat that was just reopened in the store. A
// queued one is routed like a new chat (Enqueue). One reopened straight to
// an operator (ongoing, "to me") becomes that operator's chat, as if it had
// accepted it: it counts against its max_chats, and Notifier.Assigned tells
// its connections and the visitor. An operator the router does not know
// yet is loaded from the store; one that is offline keeps the chat until it
// connects (its console reopened it, so it normally is connected).
func (r *Router) Reopened(ctx context.Context, chat switchboard.Chat) error {
	switch {
	case chat.Status == switchboard.ChatQueued:
		return r.Enqueue(ctx, chat)
	case chat.Status != switchboard.ChatOngoing || chat.OperatorID == "":
		return fmt.Errorf("router: reopened chat %s: %w", chat.ID,
			switchboard.Invalid("status", "is %q; a reopened chat is queued, or ongoing with an operator", chat.Status))
	}
	if !r.enter() {
		return ErrClosed
	}
	defer r.wg.Done()
	op, err := r.load(ctx, chat.OperatorID, false)
	if err != nil {
		return fmt.Errorf("router: reopened chat %s: operator %s: %w", chat.ID, chat.OperatorID, err)
	}
	// r.mu is held. load may have read the chat with the operator's open
	// chats already; either way it is owned once.
	if _, ok := r.owners[chat.ID]; !ok {
		op.chats[chat.ID] = &owned{chat: chat}
		r.owners[chat.ID] = op.id
	}
	rec := op.rec
	r.notify(func() { r.notifier.Assigned(chat, rec) })
	r.mu.Unlock()
	r.flush()
	return nil
}

// adopt queues chats that the store holds as queued. fromStart says whether
// the wait timeout runs from their StartedAt (else from now). Chats past
// their wait timeout are missed. It stops at the first store error; the
// chats queued so far stay queued.
func (r *Router) adopt(ctx context.Context, chats []switchboard.Chat, fromStart bool) error {
	depts := map[string]switchboard.Department{}
	var touched []string
	defer func() {
		r.mu.Lock()
		for _, id := range touched {
			r.queueChangedLocked(id, depts[id].OperatorIDs)
		}
		r.mu.Unlock()
		r.flush()
	}()
	for _, ch := range chats {
		r.mu.Lock()
		known := r.chats[ch.ID] != nil
		r.mu.Unlock()
		if known {
			continue
		}
		d, ok := depts[ch.DepartmentID]
		if !ok {
			var err error
			if d, err = r.department(ctx, ch.DepartmentID); err != nil {
				return err
			}
			depts[ch.DepartmentID] = d
			touched = append(touched, ch.DepartmentID)
		}
		now := r.clock.Now()
		wait := seconds(d.WaitTimeoutS, switchboard.DefaultWaitTimeout)
		deadline := now.Add(wait)
		if fromStart {
			deadline = ch.StartedAt.Add(wait)
		}
		if !deadline.After(now) {
			missed, err := r.store.MissChat(ctx, ch.ID, now)
			switch {
			case errors.Is(err, switchboard.ErrConflict): // not queued any more
			case err != nil:
				return fmt.Errorf("miss chat %s: %w", ch.ID, err)
			default:
				r.mu.Lock()
				r.metrics.Missed(missed.DepartmentID)
				r.notify(func() { r.notifier.Missed(missed) })
				r.mu.Unlock()
			}
			continue
		}
		v := r.visitor(ctx, ch)
		last := r.lastOperator(ctx, ch)
		r.mu.Lock()
		if r.chats[ch.ID] == nil {
			r.enqueueLocked(ch, v, d, deadline, false, now).preferred = last
		}
		r.mu.Unlock()
	}
	return nil
}

// Close stops every timer and waits for the operations and timer callbacks
// under way; no Notifier call is made after it returns. Methods called
// after Close return ErrClosed (or do nothing). Close must not be called
// from a Notifier method.
func (r *Router) Close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
	// Nothing starts timers any more: stop those that are left. A callback
	// that fires anyway finds the router closed and does nothing.
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, q := range r.chats {
		stop(q.wait)
		for _, o := range q.offers {
			stop(o.timer)
		}
	}
	for _, op := range r.ops {
		stop(op.grace)
	}
	for _, x := range r.xfers {
		if x.offer != nil {
			stop(x.offer.timer)
		}
	}
	r.outbox = nil
}

// Waiting returns how many chats of the department are queued.
func (r *Router) Waiting(departmentID string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.queues[departmentID])
}

// enter registers an operation or timer callback with Close; it reports
// false (and registers nothing) once the router is closed. A true result
// must be followed by r.wg.Done.
func (r *Router) enter() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.wg.Add(1)
	return true
}

// notify queues a notification; r.mu is held. flush delivers it.
func (r *Router) notify(f func()) { r.outbox = append(r.outbox, f) }

// flush delivers the outbox in order, unless another goroutine is already
// delivering it (it then delivers what was just queued too).
func (r *Router) flush() {
	r.mu.Lock()
	if r.delivering || len(r.outbox) == 0 {
		r.mu.Unlock()
		return
	}
	r.delivering = true
	locked := true
	defer func() {
		// Also on a panicking Notifier: the next flush must deliver.
		if !locked {
			r.mu.Lock()
		}
		r.delivering = false
		r.mu.Unlock()
	}()
	for len(r.outbox) > 0 {
		batch := r.outbox
		r.outbox = nil
		r.mu.Unlock()
		locked = false
		for _, f := range batch {
			f()
		}
		r.mu.Lock()
		locked = true
	}
}

// department reads a department for routing. A deleted one comes back as
// a department with only its id and default timeouts, whose chats are
// offered to no one and go missed at their wait timeout.
func (r *Router) department(ctx context.Context, id string) (switchboard.Department, error) {
	d, err := r.store.Department(ctx, id)
	if errors.Is(err, switchboard.ErrNotFound) {
		return switchboard.Department{ID: id}, nil
	}
	if err != nil {
		return d, fmt.Errorf("read department %s: %w", id, err)
	}
	return d, nil
}

// visitor reads the visitor of a chat for its offers; when it cannot, the
// offers carry only the chat's own visitor details.
func (r *Router) visitor(ctx context.Context, ch switchboard.Chat) switchboard.Visitor {
	v, err := r.store.Visitor(ctx, ch.VisitorID)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn("read visitor for offers", "chat_id", ch.ID, "visitor_id", ch.VisitorID, "err", err)
		}
		return switchboard.Visitor{ID: ch.VisitorID, IP: ch.VisitorIP, PageURL: ch.PageURL, Locale: ch.Locale}
	}
	return v
}

// lastOperator returns the operator who last served the chat's visitor in
// its department, or "" (also when the store cannot tell: routing then
// goes as usual).
func (r *Router) lastOperator(ctx context.Context, ch switchboard.Chat) string {
	id, err := r.store.LastOperator(ctx, ch.VisitorID, ch.DepartmentID)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn("read the visitor's last operator", "chat_id", ch.ID, "visitor_id", ch.VisitorID, "err", err)
		}
		return ""
	}
	return id
}

// enqueueLocked queues a chat (at the front of its department's queue when
// front, else at the back) with a wait timer until deadline.
func (r *Router) enqueueLocked(ch switchboard.Chat, v switchboard.Visitor, d switchboard.Department, deadline time.Time, front bool, now time.Time) *entry {
	q := &entry{
		chat: ch, visitor: v, dept: d, queuedAt: now,
		offers: map[string]*offer{}, tried: map[string]bool{}, declined: map[string]bool{},
	}
	qs := r.queues[ch.DepartmentID]
	if front {
		r.front--
		q.rank = r.front
	} else {
		r.back++
		q.rank = r.back
	}
	i, _ := slices.BinarySearchFunc(qs, q.rank, func(e *entry, rank int64) int { return cmp.Compare(e.rank, rank) })
	r.queues[ch.DepartmentID] = slices.Insert(qs, i, q)
	r.chats[ch.ID] = q
	r.armWaitLocked(q, deadline.Sub(now))
	r.announceLocked(ch.ID, deadline)
	return q
}

// armWaitLocked (re)starts a queued chat's wait timer.
func (r *Router) armWaitLocked(q *entry, d time.Duration) {
	stop(q.wait)
	q.waitGen++
	gen := q.waitGen
	q.wait = r.clock.AfterFunc(max(d, 0), func() { r.waitExpired(q, gen) })
}

// removeEntryLocked takes a chat out of the queue, stops its timers and
// revokes its offers for reason ("" revokes silently).
func (r *Router) removeEntryLocked(q *entry, reason string) {
	r.metrics.LeftQueue(q.chat.DepartmentID, r.clock.Now().Sub(q.queuedAt))
	stop(q.wait)
	for _, id := range slices.Sorted(maps.Keys(q.offers)) {
		r.dropOfferLocked(q.offers[id], reason)
	}
	delete(r.chats, q.chat.ID)
	r.announceLocked(q.chat.ID, time.Time{})
	qs := r.queues[q.chat.DepartmentID]
	if i := slices.Index(qs, q); i >= 0 {
		qs = slices.Delete(qs, i, i+1)
	}
	if len(qs) == 0 {
		delete(r.queues, q.chat.DepartmentID)
	} else {
		r.queues[q.chat.DepartmentID] = qs
	}
}

// queueChangedLocked queues a QueueChanged for the department.
func (r *Router) queueChangedLocked(departmentID string, pool []string) {
	n := len(r.queues[departmentID])
	r.notify(func() { r.notifier.QueueChanged(departmentID, n, pool) })
}

// dropOfferLocked forgets an offer and, unless reason is "", revokes it.
func (r *Router) dropOfferLocked(o *offer, reason string) {
	stop(o.timer)
	if q := r.chats[o.chatID]; q != nil && q.offers[o.opID] == o {
		delete(q.offers, o.opID)
	}
	if op := r.ops[o.opID]; op != nil && op.offers[o.chatID] == o {
		delete(op.offers, o.chatID)
	}
	if o.xfer != nil {
		defer r.transferOfferDropped(o)
	}
	if reason != "" {
		r.metrics.OfferOutcome(o.dept, reason)
		r.notify(func() { r.notifier.RevokeOffer(o.opID, o.chatID, reason) })
	}
}

// waitExpired misses a chat nobody accepted within its wait timeout.
func (r *Router) waitExpired(q *entry, gen int) {
	if !r.enter() {
		return
	}
	defer r.wg.Done()
	id := q.chat.ID
	if !r.ownsTimers(id) {
		// Another node runs this chat's timeout (or Redis is down): look
		// again later; by then the chat has normally left the queue.
		r.mu.Lock()
		if r.chats[id] == q && q.waitGen == gen && !q.missing {
			r.armWaitLocked(q, retryDelay)
		}
		r.mu.Unlock()
		return
	}
	r.mu.Lock()
	if r.chats[id] != q || q.waitGen != gen || q.missing {
		r.mu.Unlock()
		return
	}
	fallback := q.dept.FallbackDepartmentID != "" && !q.fellBack && !q.gone
	if fallback && accepting(q) {
		// The accept under way settles it; look again later.
		r.armWaitLocked(q, retryDelay)
		r.mu.Unlock()
		return
	}
	q.missing = true
	if fallback {
		// No accept may start while the chat moves: its offers go.
		for _, opID := range slices.Sorted(maps.Keys(q.offers)) {
			r.dropOfferLocked(q.offers[opID], ReasonTimeout)
		}
	}
	r.mu.Unlock()
	if fallback {
		r.flush()
		if r.fallBack(q) {
			r.dispatch(r.ctx)
			return
		}
	}

	ch, err := r.store.MissChat(r.ctx, id, r.clock.Now())

	r.mu.Lock()
	q.missing = false
	if r.chats[id] != q { // ended meanwhile
		r.mu.Unlock()
		return
	}
	if err != nil {
		if (errors.Is(err, switchboard.ErrConflict) || errors.Is(err, switchboard.ErrNotFound)) && !accepting(q) {
			// Not queued in the store any more (or deleted), and no accept
			// of ours will say why: forget it.
			r.removeEntryLocked(q, ReasonTaken)
			r.queueChangedLocked(q.chat.DepartmentID, q.dept.OperatorIDs)
		} else {
			// An accept under way settles it, or the store is down: look
			// again later.
			if !errors.Is(err, switchboard.ErrConflict) && !errors.Is(err, switchboard.ErrNotFound) && r.ctx.Err() == nil {
				r.log.Error("miss chat", "chat_id", id, "err", err)
			}
			r.armWaitLocked(q, retryDelay)
		}
		r.mu.Unlock()
		r.flush()
		r.dispatch(r.ctx)
		return
	}
	r.removeEntryLocked(q, ReasonTimeout)
	r.metrics.Missed(ch.DepartmentID)
	r.notify(func() { r.notifier.Missed(ch) })
	r.queueChangedLocked(q.chat.DepartmentID, q.dept.OperatorIDs)
	r.mu.Unlock()
	r.flush()
	r.dispatch(r.ctx)
}

// seconds converts a department's timeout, falling back to def seconds
// when it is not positive.
func seconds(s, def int) time.Duration {
	if s <= 0 {
		s = def
	}
	return time.Duration(s) * time.Second
}

// stop stops a timer, if any.
func stop(t Timer) {
	if t != nil {
		t.Stop()
	}
}
