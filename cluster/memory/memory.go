// Package memory is the in-process implementation of the cluster
// interfaces: the default for a single node, with no dependencies. One
// Backend is the shared state; Backend.Node gives a node's view of it, so
// tests can also run several nodes in one process. Time comes from an
// injectable clock.
package memory

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-chat/switchboard/cluster"
	"github.com/switchboard-chat/switchboard/cluster/internal/local"
)

// DefaultTTL is how long a node stays alive after a heartbeat when
// Config.TTL is 0.
const DefaultTTL = 15 * time.Second

// Config configures New. Zero values take the defaults in brackets.
type Config struct {
	TTL time.Duration // [DefaultTTL] a node's life after its last heartbeat
	// Interval is how often each node heartbeats and sweeps [TTL/3];
	// negative: never (tests call Heartbeat and Sweep).
	Interval time.Duration
	Now      func() time.Time // [time.Now]
	Log      *slog.Logger     // [discard]
}

// Backend is the shared state of in-process nodes.
type Backend struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	nodes    map[string]time.Time // node → alive until
	handles  map[string]*Node     // open node views
	ops      map[string]cluster.OperatorPresence
	load     map[string]map[string]time.Time // operator → chat → expiry (zero: none)
	conns    map[string]map[string]string    // kind:id → conn id → node
	visitors map[string]cluster.VisitorPresence
	leases   map[string]cluster.Lease
	fences   map[string]int64
	members  map[string]map[string]bool // chat → joined nodes
}

// New returns an empty Backend.
func New(cfg Config) *Backend {
	cfg.TTL = cmp.Or(cfg.TTL, DefaultTTL)
	cfg.Interval = cmp.Or(cfg.Interval, cfg.TTL/3)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Log = cmp.Or(cfg.Log, slog.New(slog.DiscardHandler))
	return &Backend{
		cfg: cfg, log: cfg.Log.With("component", "cluster"),
		nodes: map[string]time.Time{}, handles: map[string]*Node{},
		ops: map[string]cluster.OperatorPresence{}, load: map[string]map[string]time.Time{},
		conns: map[string]map[string]string{}, visitors: map[string]cluster.VisitorPresence{},
		leases: map[string]cluster.Lease{}, fences: map[string]int64{},
		members: map[string]map[string]bool{},
	}
}

// Node is one node's view of a Backend.
type Node struct {
	b      *Backend
	id     string
	subs   local.Subs
	queue  *local.Queue
	beaten bool // a heartbeat happened: a later one finding the node dead resyncs (under b.mu)
	stop   chan struct{}
	wg     sync.WaitGroup
	once   sync.Once
}

var _ cluster.Node = (*Node)(nil)

// Node opens the view of node id, alive from now on. An id already open
// is an error.
func (b *Backend) Node(id string) (*Node, error) {
	if id == "" {
		return nil, fmt.Errorf("memory: node id is empty")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.handles[id] != nil {
		return nil, fmt.Errorf("memory: node %q is open already", id)
	}
	n := &Node{b: b, id: id, queue: local.NewQueue(), stop: make(chan struct{}), beaten: true}
	b.handles[id] = n
	b.nodes[id] = b.cfg.Now().Add(b.cfg.TTL)
	if b.cfg.Interval > 0 {
		n.wg.Go(n.loop)
	}
	return n, nil
}

func (n *Node) loop() {
	t := time.NewTicker(n.b.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
			_ = n.Heartbeat(context.Background())
			_ = n.Sweep(context.Background())
		}
	}
}

func (n *Node) ID() string { return n.id }

// Close stops the node's heartbeats and deliveries; its entries stay until
// they expire.
func (n *Node) Close() error {
	n.once.Do(func() {
		close(n.stop)
		n.wg.Wait()
		n.b.mu.Lock()
		if n.b.handles[n.id] == n {
			delete(n.b.handles, n.id)
		}
		n.b.mu.Unlock()
		n.queue.Close()
	})
	return nil
}

func (n *Node) closed() bool {
	select {
	case <-n.stop:
		return true
	default:
		return false
	}
}

// aliveLocked reports whether node lives at now; b.mu is held.
func (b *Backend) aliveLocked(node string, now time.Time) bool {
	until, ok := b.nodes[node]
	return ok && until.After(now)
}

func (n *Node) Ping(ctx context.Context) error {
	if n.closed() {
		return cluster.ErrClosed
	}
	return ctx.Err()
}

func (n *Node) Heartbeat(ctx context.Context) error {
	if n.closed() {
		return cluster.ErrClosed
	}
	b := n.b
	b.mu.Lock()
	now := b.cfg.Now()
	lost := !b.aliveLocked(n.id, now)
	b.nodes[n.id] = now.Add(b.cfg.TTL)
	if lost {
		// Swept as dead (or never seen): our bus memberships are gone.
		for _, chat := range n.subs.Chats() {
			b.joinLocked(chat, n.id)
		}
	}
	if lost && n.beaten {
		n.queue.Push(func() { n.subs.Event(cluster.Event{Kind: cluster.EventResync}) })
	}
	n.beaten = true
	b.mu.Unlock()
	return nil
}

func (n *Node) Sweep(ctx context.Context) error {
	if n.closed() {
		return cluster.ErrClosed
	}
	b := n.b
	b.mu.Lock()
	now := b.cfg.Now()
	var dead []string
	for id, until := range b.nodes {
		if !until.After(now) {
			dead = append(dead, id)
		}
	}
	slices.Sort(dead)
	for _, id := range dead {
		b.removeNodeLocked(id)
	}
	b.mu.Unlock()
	return nil
}

func (n *Node) Leave(ctx context.Context) error {
	if n.closed() {
		return cluster.ErrClosed
	}
	n.b.mu.Lock()
	n.b.removeNodeLocked(n.id)
	n.b.mu.Unlock()
	return nil
}

// removeNodeLocked deletes a node and everything it held, and tells every
// node; b.mu is held.
func (b *Backend) removeNodeLocked(node string) {
	delete(b.nodes, node)
	for _, id := range slices.Sorted(maps.Keys(b.ops)) {
		if p := b.ops[id]; p.Node == node {
			delete(b.ops, id)
			b.eventLocked(cluster.Event{Kind: cluster.EventOperatorGone, Operator: p, Expired: true})
		}
	}
	for key, set := range b.conns {
		for c, nd := range set {
			if nd == node {
				delete(set, c)
			}
		}
		if len(set) == 0 {
			delete(b.conns, key)
		}
	}
	for c, v := range b.visitors {
		if v.Node == node {
			delete(b.visitors, c)
		}
	}
	for chat, set := range b.members {
		delete(set, node)
		if len(set) == 0 {
			delete(b.members, chat)
		}
	}
	b.eventLocked(cluster.Event{Kind: cluster.EventNodeDown, Node: node})
}

// eventLocked queues e on every open node; b.mu is held, so every node
// sees events in one order.
func (b *Backend) eventLocked(e cluster.Event) {
	for _, h := range b.handles {
		h.queue.Push(func() { h.subs.Event(e) })
	}
}

// Presence.

func (n *Node) PutOperator(ctx context.Context, p cluster.OperatorPresence) error {
	if n.closed() {
		return cluster.ErrClosed
	}
	p.Node = n.id
	p.DepartmentIDs = slices.Clone(p.DepartmentIDs)
	n.b.mu.Lock()
	defer n.b.mu.Unlock()
	n.b.ops[p.OperatorID] = p
	n.b.eventLocked(cluster.Event{Kind: cluster.EventOperatorPut, Operator: p})
	return nil
}

func (n *Node) RemoveOperator(ctx context.Context, operatorID string) (bool, error) {
	if n.closed() {
		return false, cluster.ErrClosed
	}
	n.b.mu.Lock()
	defer n.b.mu.Unlock()
	p, ok := n.b.ops[operatorID]
	if !ok || p.Node != n.id {
		return false, nil
	}
	delete(n.b.ops, operatorID)
	n.b.eventLocked(cluster.Event{Kind: cluster.EventOperatorGone, Operator: p})
	return true, nil
}

func (n *Node) Operator(ctx context.Context, operatorID string) (cluster.OperatorPresence, bool, error) {
	if n.closed() {
		return cluster.OperatorPresence{}, false, cluster.ErrClosed
	}
	n.b.mu.Lock()
	defer n.b.mu.Unlock()
	p, ok := n.b.ops[operatorID]
	if !ok || !n.b.aliveLocked(p.Node, n.b.cfg.Now()) {
		return cluster.OperatorPresence{}, false, nil
	}
	p.DepartmentIDs = slices.Clone(p.DepartmentIDs)
	return p, true, nil
}

func (n *Node) OperatorsIn(ctx context.Context, departmentID string) ([]cluster.OperatorPresence, error) {
	if n.closed() {
		return nil, cluster.ErrClosed
	}
	n.b.mu.Lock()
	defer n.b.mu.Unlock()
	now := n.b.cfg.Now()
	var out []cluster.OperatorPresence
	for _, p := range n.b.ops {
		if slices.Contains(p.DepartmentIDs, departmentID) && n.b.aliveLocked(p.Node, now) {
			p.DepartmentIDs = slices.Clone(p.DepartmentIDs)
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b cluster.OperatorPresence) int { return strings.Compare(a.OperatorID, b.OperatorID) })
	return out, nil
}

func (n *Node) Events(ctx context.Context, fn func(cluster.Event)) error {
	if n.closed() {
		return cluster.ErrClosed
	}
	n.subs.AddEvents(ctx, fn)
	return nil
}

// Counters.

func (n *Node) Reserve(ctx context.Context, operatorID, chatID string, capacity int, ttl time.Duration) (bool, error) {
	if n.closed() {
		return false, cluster.ErrClosed
	}
	n.b.mu.Lock()
	defer n.b.mu.Unlock()
	now := n.b.cfg.Now()
	set := n.b.liveLoadLocked(operatorID, now)
	var exp time.Time
	if ttl > 0 {
		exp = now.Add(ttl)
	}
	if _, ok := set[chatID]; !ok && len(set) >= capacity {
		return false, nil
	}
	if set == nil {
		set = map[string]time.Time{}
		n.b.load[operatorID] = set
	}
	set[chatID] = exp
	return true, nil
}

// liveLoadLocked drops an operator's expired slots and returns the rest.
func (b *Backend) liveLoadLocked(operatorID string, now time.Time) map[string]time.Time {
	set := b.load[operatorID]
	for c, exp := range set {
		if !exp.IsZero() && !exp.After(now) {
			delete(set, c)
		}
	}
	return set
}

func (n *Node) Unreserve(ctx context.Context, operatorID, chatID string) error {
	if n.closed() {
		return cluster.ErrClosed
	}
	n.b.mu.Lock()
	defer n.b.mu.Unlock()
	delete(n.b.load[operatorID], chatID)
	return nil
}

func (n *Node) Load(ctx context.Context, operatorIDs ...string) (map[string]int, error) {
	if n.closed() {
		return nil, cluster.ErrClosed
	}
	n.b.mu.Lock()
	defer n.b.mu.Unlock()
	now := n.b.cfg.Now()
	out := make(map[string]int, len(operatorIDs))
	for _, id := range operatorIDs {
		out[id] = len(n.b.liveLoadLocked(id, now))
	}
	return out, nil
}

func (n *Node) ResetLoad(ctx context.Context, operatorID string, chatIDs []string) error {
	if n.closed() {
		return cluster.ErrClosed
	}
	n.b.mu.Lock()
	defer n.b.mu.Unlock()
	set := n.b.liveLoadLocked(operatorID, n.b.cfg.Now())
	if set == nil {
		set = map[string]time.Time{}
		n.b.load[operatorID] = set
	}
	for c, exp := range set {
		if exp.IsZero() {
			delete(set, c)
		}
	}
	for _, c := range chatIDs {
		set[c] = time.Time{}
	}
	return nil
}

// Directory.

func connKey(kind cluster.ConnKind, id string) string { return string(kind) + ":" + id }

func (n *Node) AddConn(ctx context.Context, kind cluster.ConnKind, id, connID string) error {
	if n.closed() {
		return cluster.ErrClosed
	}
	n.b.mu.Lock()
	defer n.b.mu.Unlock()
	k := connKey(kind, id)
	if n.b.conns[k] == nil {
		n.b.conns[k] = map[string]string{}
	}
	n.b.conns[k][connID] = n.id
	return nil
}

func (n *Node) RemoveConn(ctx context.Context, kind cluster.ConnKind, id, connID string) error {
	if n.closed() {
		return cluster.ErrClosed
	}
	n.b.mu.Lock()
	defer n.b.mu.Unlock()
	k := connKey(kind, id)
	delete(n.b.conns[k], connID)
	if len(n.b.conns[k]) == 0 {
		delete(n.b.conns, k)
	}
	return nil
}

func (n *Node) ConnNodes(ctx context.Context, kind cluster.ConnKind, id string) ([]string, error) {
	if n.closed() {
		return nil, cluster.ErrClosed
	}
	n.b.mu.Lock()
	defer n.b.mu.Unlock()
	now := n.b.cfg.Now()
	var out []string
	for _, nd := range n.b.conns[connKey(kind, id)] {
		if n.b.aliveLocked(nd, now) && !slices.Contains(out, nd) {
			out = append(out, nd)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Visitors.

func (n *Node) PutVisitor(ctx context.Context, v cluster.VisitorPresence) error {
	if n.closed() {
		return cluster.ErrClosed
	}
	v.Node = n.id
	n.b.mu.Lock()
	defer n.b.mu.Unlock()
	n.b.visitors[v.ConnID] = v
	return nil
}

func (n *Node) RemoveVisitor(ctx context.Context, connID string) error {
	if n.closed() {
		return cluster.ErrClosed
	}
	n.b.mu.Lock()
	defer n.b.mu.Unlock()
	delete(n.b.visitors, connID)
	return nil
}

func (n *Node) OnlineVisitors(ctx context.Context, departmentIDs []string) ([]cluster.VisitorPresence, error) {
	if n.closed() {
		return nil, cluster.ErrClosed
	}
	n.b.mu.Lock()
	defer n.b.mu.Unlock()
	now := n.b.cfg.Now()
	var out []cluster.VisitorPresence
	for _, v := range n.b.visitors {
		if (departmentIDs == nil || slices.Contains(departmentIDs, v.DepartmentID)) && n.b.aliveLocked(v.Node, now) {
			out = append(out, v)
		}
	}
	cluster.SortVisitors(out)
	return out, nil
}

// Leases.

func (n *Node) Acquire(ctx context.Context, key string, ttl time.Duration) (cluster.Lease, bool, error) {
	if n.closed() {
		return cluster.Lease{}, false, cluster.ErrClosed
	}
	n.b.mu.Lock()
	defer n.b.mu.Unlock()
	now := n.b.cfg.Now()
	l, ok := n.b.leases[key]
	if ok && l.ExpiresAt.After(now) && l.Node != n.id {
		return l, false, nil
	}
	if !ok || !l.ExpiresAt.After(now) {
		n.b.fences[key]++
		l = cluster.Lease{Key: key, Node: n.id, Token: n.b.fences[key]}
	}
	l.ExpiresAt = now.Add(ttl)
	n.b.leases[key] = l
	return l, true, nil
}

func (n *Node) Renew(ctx context.Context, l cluster.Lease, ttl time.Duration) (cluster.Lease, error) {
	if n.closed() {
		return cluster.Lease{}, cluster.ErrClosed
	}
	n.b.mu.Lock()
	defer n.b.mu.Unlock()
	now := n.b.cfg.Now()
	cur, ok := n.b.leases[l.Key]
	if !ok || cur.Node != n.id || cur.Token != l.Token || !cur.ExpiresAt.After(now) {
		return cluster.Lease{}, fmt.Errorf("memory: renew lease %s: %w", l.Key, cluster.ErrLeaseLost)
	}
	cur.ExpiresAt = now.Add(ttl)
	n.b.leases[l.Key] = cur
	return cur, nil
}

func (n *Node) Release(ctx context.Context, l cluster.Lease) error {
	if n.closed() {
		return cluster.ErrClosed
	}
	n.b.mu.Lock()
	defer n.b.mu.Unlock()
	if cur, ok := n.b.leases[l.Key]; ok && cur.Node == n.id && cur.Token == l.Token {
		delete(n.b.leases, l.Key)
	}
	return nil
}

// Bus.

// joinLocked makes node a member of chat; b.mu is held.
func (b *Backend) joinLocked(chat, node string) {
	if b.members[chat] == nil {
		b.members[chat] = map[string]bool{}
	}
	b.members[chat][node] = true
}

func (n *Node) Subscribe(ctx context.Context, chatID string, fn func(cluster.Message)) (func(context.Context) error, error) {
	if n.closed() {
		return nil, cluster.ErrClosed
	}
	n.b.mu.Lock()
	id, _ := n.subs.Add(chatID, fn)
	n.b.joinLocked(chatID, n.id)
	n.b.mu.Unlock()
	return func(context.Context) error {
		n.b.mu.Lock()
		defer n.b.mu.Unlock()
		if n.subs.Remove(chatID, id) {
			if set := n.b.members[chatID]; set != nil {
				delete(set, n.id)
				if len(set) == 0 {
					delete(n.b.members, chatID)
				}
			}
		}
		return nil
	}, nil
}

func (n *Node) Publish(ctx context.Context, chatID string, data []byte) error {
	if n.closed() {
		return cluster.ErrClosed
	}
	m := cluster.Message{ChatID: chatID, Data: slices.Clone(data)}
	n.b.mu.Lock()
	defer n.b.mu.Unlock()
	// Queued under b.mu: every node gets the chat's messages in one order.
	for node := range n.b.members[chatID] {
		if h := n.b.handles[node]; h != nil {
			h.queue.Push(func() { h.subs.Deliver(m) })
		}
	}
	return nil
}

func (n *Node) SendNode(ctx context.Context, node string, data []byte) error {
	if n.closed() {
		return cluster.ErrClosed
	}
	m := cluster.Message{Data: slices.Clone(data)}
	n.b.mu.Lock()
	defer n.b.mu.Unlock()
	if h := n.b.handles[node]; h != nil {
		h.queue.Push(func() { h.subs.Deliver(m) })
	}
	return nil
}

func (n *Node) OnNode(fn func(cluster.Message)) { n.subs.OnNode(fn) }
