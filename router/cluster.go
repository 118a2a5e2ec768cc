package router

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/cluster"
)

// Cluster mode (Config.Cluster set). The design, in short (ARCHITECTURE.md
// has the why):
//
//   - Each node routes to the operators connected to it, with the same
//     in-memory state as a single node (offers, ring timers, capacity).
//   - Every node holds every queued chat: a node that changes a chat's
//     place in a queue (queued, taken, missed, ended, moved) broadcasts its
//     id on the bus topic queueTopic, and the others re-read it from the
//     store. So a chat started on A is offered by B and C to their
//     operators; the store's conditional AssignChat lets one accept win.
//   - Exactly one node runs a queued chat's wait timeout: the one that
//     holds the lease "chat:<id>" when it fires (the others look again
//     later, by when the chat has normally left the queue).
//   - Whether a department is staffed (a chat queues rather than being
//     missed) counts the operators of other nodes too: each node puts its
//     operators' presence in cluster.Presence and mirrors the others' from
//     its events.
//   - An operator whose node died (its presence expired) has its ongoing
//     chats requeued by the survivors after the grace period, unless it
//     came back on another node; RequeueChat is conditional, so one node
//     does it. A resync (Redis came back) or a dead node makes every node
//     re-read the queued chats from the store.

// queueTopic is the bus "chat" on which nodes announce queue changes
// (chat ids have no colon, so it never names a chat).
const queueTopic = "router:queue"

// chatLeaseTTL is how long a node holds a queued chat's timers once it
// took them: longer than a miss or a fallback move takes.
const chatLeaseTTL = 30 * time.Second

// Cluster is what the router needs of the cluster; cluster.Node is one.
type Cluster interface {
	ID() string
	PutOperator(ctx context.Context, p cluster.OperatorPresence) error
	RemoveOperator(ctx context.Context, operatorID string) (bool, error)
	Operator(ctx context.Context, operatorID string) (cluster.OperatorPresence, bool, error)
	Events(ctx context.Context, fn func(cluster.Event)) error
	Acquire(ctx context.Context, key string, ttl time.Duration) (cluster.Lease, bool, error)
	Subscribe(ctx context.Context, chatID string, fn func(cluster.Message)) (func(context.Context) error, error)
	Publish(ctx context.Context, chatID string, data []byte) error
}

var _ Cluster = cluster.Node(nil)

// queueNote is a broadcast queue change, or (Transfer set) a transfer
// handed to node To.
type queueNote struct {
	Node     string           `json:"n"`
	ChatID   string           `json:"c"`
	Deadline int64            `json:"d,omitempty"` // Unix ms: the wait deadline of a queued chat
	To       string           `json:"to,omitempty"`
	Transfer *TransferRequest `json:"x,omitempty"`
}

// startCluster subscribes to the queue topic and presence events.
func (r *Router) startCluster(ctx context.Context) error {
	if _, err := r.cl.Subscribe(ctx, queueTopic, r.onQueueNote); err != nil {
		// Redis down at start: the resync after it returns re-reads the queues.
		r.log.Warn("subscribe to queue changes; re-read when Redis returns", "err", err)
	}
	go func() { _ = r.cl.Events(r.ctx, r.onEvent) }()
	return nil
}

// announceLocked broadcasts that a chat's place in the queues changed,
// unless the change came from another node's announcement. r.mu is held.
func (r *Router) announceLocked(chatID string, deadline time.Time) {
	if r.cl == nil || r.syncing {
		return
	}
	n := queueNote{Node: r.cl.ID(), ChatID: chatID}
	if !deadline.IsZero() {
		n.Deadline = deadline.UnixMilli()
	}
	data, _ := json.Marshal(n)
	r.notify(func() {
		ctx, cancel := context.WithTimeout(r.ctx, 2*time.Second)
		defer cancel()
		if err := r.cl.Publish(ctx, queueTopic, data); err != nil && r.ctx.Err() == nil {
			// The others re-read the queues when Redis returns (resync).
			r.log.Warn("announce a queue change", "chat_id", chatID, "err", err)
		}
	})
}

func (r *Router) onQueueNote(m cluster.Message) {
	var n queueNote
	if err := json.Unmarshal(m.Data, &n); err != nil || n.Node == r.cl.ID() || n.ChatID == "" {
		return
	}
	if n.Transfer != nil {
		if n.To == r.cl.ID() {
			go r.runForwardedTransfer(*n.Transfer)
		}
		return
	}
	var deadline time.Time
	if n.Deadline > 0 {
		deadline = time.UnixMilli(n.Deadline)
	}
	// Store reads: not on the bus's goroutine.
	go r.syncChat(n.ChatID, deadline)
}

// syncChat brings this node's view of a chat in line with the store after
// another node changed it: a chat queued there is queued here (until
// deadline, or a full wait from now), one that left the queue leaves it
// here (its offers revoked), and an ongoing chat that is no longer its
// local operator's frees that operator.
func (r *Router) syncChat(chatID string, deadline time.Time) {
	if !r.enter() {
		return
	}
	defer r.wg.Done()
	ctx, cancel := context.WithTimeout(r.ctx, 15*time.Second)
	defer cancel()
	ch, err := r.store.Chat(ctx, chatID)
	if errors.Is(err, switchboard.ErrNotFound) {
		ch = switchboard.Chat{ID: chatID, Status: switchboard.ChatCompleted}
	} else if err != nil {
		if r.ctx.Err() == nil {
			r.log.Error("read a chat another node changed", "chat_id", chatID, "err", err)
		}
		return
	}
	queued := ch.Status == switchboard.ChatQueued
	var d switchboard.Department
	var v switchboard.Visitor
	var last string
	r.mu.Lock()
	known := r.chats[chatID]
	r.mu.Unlock()
	if queued && (known == nil || known.chat.DepartmentID != ch.DepartmentID) {
		if d, err = r.department(ctx, ch.DepartmentID); err != nil {
			r.log.Error("read a queued chat's department", "chat_id", chatID, "err", err)
			return
		}
		v = r.visitor(ctx, ch)
		last = r.lastOperator(ctx, ch)
	}

	r.mu.Lock()
	r.syncing = true
	freed := false
	if q := r.chats[chatID]; q != nil && (!queued || q.chat.DepartmentID != ch.DepartmentID) && !accepting(q) && !q.missing {
		reason := ReasonTaken
		if ch.Status == switchboard.ChatCompleted {
			reason = ReasonEnded
		}
		freed = len(q.offers) > 0
		r.removeEntryLocked(q, reason)
		r.queueChangedLocked(q.chat.DepartmentID, q.dept.OperatorIDs)
	}
	if queued && r.chats[chatID] == nil && d.ID != "" {
		now := r.clock.Now()
		if deadline.IsZero() || !deadline.After(now) {
			deadline = now.Add(seconds(d.WaitTimeoutS, switchboard.DefaultWaitTimeout))
		}
		r.enqueueLocked(ch, v, d, deadline, false, now).preferred = last
		r.queueChangedLocked(d.ID, d.OperatorIDs)
		freed = true
	}
	if owner, ok := r.owners[chatID]; ok && (ch.Status != switchboard.ChatOngoing || ch.OperatorID != owner) {
		if op := r.ops[owner]; op != nil {
			if w := op.chats[chatID]; w == nil || !w.requeuing {
				r.forgetOwnedLocked(op, chatID)
				freed = true
			}
		}
	}
	if x := r.xfers[chatID]; x != nil && ch.Status != switchboard.ChatOngoing {
		r.dropTransferLocked(x, ReasonTaken)
	}
	r.syncing = false
	r.mu.Unlock()
	r.flush()
	if freed {
		r.dispatch(r.ctx)
	}
}

// ownsTimers reports whether this node may run the queued chat's
// timeouts now (it holds, or just took, its lease). On a single node it
// always may.
func (r *Router) ownsTimers(chatID string) bool {
	if r.cl == nil {
		return true
	}
	ctx, cancel := context.WithTimeout(r.ctx, 2*time.Second)
	defer cancel()
	_, ok, err := r.cl.Acquire(ctx, "chat:"+chatID, chatLeaseTTL)
	if err != nil {
		if r.ctx.Err() == nil {
			r.log.Warn("take a queued chat's timers; trying again later", "chat_id", chatID, "err", err)
		}
		return false
	}
	return ok
}

// presenceLocked queues the put of a local operator's presence (or its
// removal when offline) for the other nodes. r.mu is held.
func (r *Router) presenceLocked(op *operator) {
	if r.cl == nil {
		return
	}
	p := cluster.OperatorPresence{OperatorID: op.id, Status: op.status, DepartmentIDs: op.rec.DepartmentIDs,
		MaxChats: op.maxChats(), IdleSince: op.idleSince}
	if !available(op) && op.status == switchboard.StatusOnline {
		p.Status = switchboard.StatusAway // connections lost, in its grace period: takes no offers
	}
	gone := op.status == "" || op.status == switchboard.StatusOffline
	r.notify(func() {
		ctx, cancel := context.WithTimeout(r.ctx, 2*time.Second)
		defer cancel()
		var err error
		if gone {
			_, err = r.cl.RemoveOperator(ctx, p.OperatorID)
		} else {
			err = r.cl.PutOperator(ctx, p)
		}
		if err != nil && r.ctx.Err() == nil {
			r.log.Warn("share operator presence; put back when Redis returns", "operator_id", p.OperatorID, "err", err)
		}
	})
}

// onEvent follows presence events of the cluster.
func (r *Router) onEvent(e cluster.Event) {
	switch e.Kind {
	case cluster.EventOperatorPut:
		r.mu.Lock()
		if e.Operator.Node != r.cl.ID() {
			r.remote[e.Operator.OperatorID] = e.Operator
		} else {
			delete(r.remote, e.Operator.OperatorID)
		}
		r.mu.Unlock()
	case cluster.EventOperatorGone:
		r.mu.Lock()
		if p, ok := r.remote[e.Operator.OperatorID]; ok && (p.Node == e.Operator.Node || e.Operator.Node == "") {
			delete(r.remote, e.Operator.OperatorID)
		}
		r.mu.Unlock()
		if e.Expired {
			id := e.Operator.OperatorID
			// As the grace expiry of an operator whose connections dropped:
			// it may reconnect to another node meanwhile.
			r.clock.AfterFunc(r.grace, func() { r.orphaned(id) })
		}
	case cluster.EventNodeDown, cluster.EventResync:
		go r.reconcile(e.Kind == cluster.EventResync)
	}
}

// orphaned requeues the ongoing chats of an operator whose node died,
// unless it is present again (on any node, this one included).
func (r *Router) orphaned(opID string) {
	if !r.enter() {
		return
	}
	defer r.wg.Done()
	ctx, cancel := context.WithTimeout(r.ctx, 30*time.Second)
	defer cancel()
	r.mu.Lock()
	local := r.ops[opID]
	here := local != nil && local.conns > 0
	r.mu.Unlock()
	if here {
		return
	}
	if _, ok, err := r.cl.Operator(ctx, opID); err != nil || ok {
		if err != nil && r.ctx.Err() == nil {
			r.log.Warn("check a dead node's operator; its chats wait for the next resync", "operator_id", opID, "err", err)
		}
		return
	}
	rec, err := r.store.Operator(ctx, opID)
	if err != nil {
		rec = switchboard.Operator{ID: opID}
	}
	open, err := r.store.OperatorOpenChats(ctx, opID)
	if err != nil {
		r.log.Error("read a dead node's operator's chats", "operator_id", opID, "err", err)
		return
	}
	// A stand-in for the operator, offline, holding its chats: requeueAll
	// does the rest as for a local grace expiry (RequeueChat is
	// conditional, so of the survivors one requeues each chat).
	op := &operator{id: opID, rec: rec, status: switchboard.StatusOffline, loaded: true,
		chats: map[string]*owned{}, offers: map[string]*offer{}}
	r.mu.Lock()
	if r.ops[opID] == nil || r.ops[opID].conns == 0 {
		for _, ch := range open {
			if ch.Status != switchboard.ChatOngoing {
				continue
			}
			if owner, ok := r.owners[ch.ID]; ok {
				if o := r.ops[owner]; o != nil {
					delete(o.chats, ch.ID)
				}
			}
			op.chats[ch.ID] = &owned{chat: ch}
			r.owners[ch.ID] = opID
		}
	}
	r.mu.Unlock()
	r.requeueAll(r.ctx, op)
	r.dispatch(r.ctx)
}

// reconcile re-reads the queued chats from the store after a node died
// or Redis came back (announcements may have been lost): unknown ones are
// queued here, known ones that left the queue are dropped. After a
// resync it also puts back this node's operators' presence.
func (r *Router) reconcile(resync bool) {
	if !r.enter() {
		return
	}
	defer r.wg.Done()
	ctx, cancel := context.WithTimeout(r.ctx, time.Minute)
	defer cancel()
	if resync {
		if _, err := r.cl.Subscribe(ctx, queueTopic, r.onQueueNote); err != nil {
			r.log.Warn("subscribe to queue changes", "err", err)
		}
		r.mu.Lock()
		for _, op := range r.ops {
			if op.conns > 0 || op.grace != nil {
				r.presenceLocked(op)
			}
		}
		clear(r.remote) // refilled from events and, when asked, from Presence
		r.mu.Unlock()
		r.flush()
	}
	queued, err := r.store.QueuedChats(ctx)
	if err != nil {
		r.log.Error("re-read the queued chats", "err", err)
		return
	}
	inStore := map[string]bool{}
	for _, ch := range queued {
		inStore[ch.ID] = true
	}
	r.mu.Lock()
	var gone []string
	for id := range r.chats {
		if !inStore[id] {
			gone = append(gone, id)
		}
	}
	r.mu.Unlock()
	for _, id := range gone {
		r.syncChat(id, time.Time{})
	}
	if err := r.adopt(ctx, queued, false); err != nil {
		r.log.Error("adopt the queued chats", "err", err)
	}
	r.dispatch(r.ctx)
}

// staffedElsewhere reports whether an operator of the pool is online on
// another node: from the mirror of presence events, else (a node that
// started after them) asking Presence.
func (r *Router) staffedElsewhere(ctx context.Context, pool []string) bool {
	if r.cl == nil {
		return false
	}
	r.mu.Lock()
	for _, id := range pool {
		if p, ok := r.remote[id]; ok && p.Status == switchboard.StatusOnline {
			r.mu.Unlock()
			return true
		}
	}
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	for _, id := range pool {
		p, ok, err := r.cl.Operator(ctx, id)
		if err != nil {
			return false
		}
		if ok && p.Node != r.cl.ID() {
			r.mu.Lock()
			r.remote[id] = p
			r.mu.Unlock()
			if p.Status == switchboard.StatusOnline {
				return true
			}
		}
	}
	return false
}

// forwardTransfer hands a transfer whose target has nobody available on
// this node to a node where the target operator (or one of the target
// department's pool) is online, through the queue topic. It reports
// whether it found such a node; that node offers the transfer to its
// operators, and tells of a failure through TransferFailed, which reaches
// the operators on any node.
func (r *Router) forwardTransfer(ctx context.Context, x *xfer, req TransferRequest) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	candidates := []string{x.toOp}
	if x.toDept {
		candidates = nil
		for _, id := range x.dept.OperatorIDs {
			if id != x.chat.OperatorID && id != x.by {
				candidates = append(candidates, id)
			}
		}
	}
	node := ""
	for _, id := range candidates {
		p, ok, err := r.cl.Operator(ctx, id)
		if err != nil {
			return false
		}
		if ok && p.Node != r.cl.ID() && p.Status == switchboard.StatusOnline {
			node = p.Node
			break
		}
	}
	if node == "" {
		return false
	}
	data, _ := json.Marshal(queueNote{Node: r.cl.ID(), ChatID: x.chat.ID, To: node, Transfer: &req})
	if err := r.cl.Publish(ctx, queueTopic, data); err != nil {
		r.log.Warn("hand a transfer to another node", "chat_id", x.chat.ID, "node", node, "err", err)
		return false
	}
	return true
}

// runForwardedTransfer runs a transfer another node handed over; when it
// cannot start, the chat's operator and the asker are told it failed.
func (r *Router) runForwardedTransfer(req TransferRequest) {
	req.forwarded = true
	ctx, cancel := context.WithTimeout(r.ctx, 15*time.Second)
	defer cancel()
	err := r.Transfer(ctx, req)
	if err == nil || errors.Is(err, ErrClosed) {
		return
	}
	r.log.Warn("a transfer handed over by another node failed to start", "chat_id", req.ChatID, "err", err)
	tn, ok := r.notifier.(TransferNotifier)
	if !ok {
		return
	}
	tell := []string{req.By.ID}
	if ch, err := r.store.Chat(ctx, req.ChatID); err == nil && ch.OperatorID != req.By.ID {
		tell = append(tell, ch.OperatorID)
	}
	r.mu.Lock()
	r.notify(func() { tn.TransferFailed(req.ChatID, tell, TransferNoOperators) })
	r.mu.Unlock()
	r.flush()
}
