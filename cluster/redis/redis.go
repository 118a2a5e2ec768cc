// Package redis implements the cluster interfaces on one Redis server
// (github.com/redis/go-redis/v9), for several nodes sharing it. Changes
// that touch several keys are Lua scripts (scripts.go), so they are atomic;
// times are the Redis server's. Every key and channel is under
// Config.Prefix.
//
// The bus is node-addressed: each node subscribes to one channel of its
// own and a chat's subscribers are nodes listed in a set; Publish is one
// script that PUBLISHes to the channel of each node joined to the chat.
// See ARCHITECTURE.md for why.
package redis

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/switchboard-chat/switchboard/cluster"
	"github.com/switchboard-chat/switchboard/cluster/internal/local"
)

// Defaults of Config.
const (
	DefaultPrefix    = "switchboard:"
	DefaultTTL       = 15 * time.Second
	DefaultOpTimeout = 2 * time.Second
)

// Config configures New. Zero values take the defaults in brackets.
type Config struct {
	// Client is the Redis connection pool. Required. NewClient makes one
	// with bounded timeouts.
	Client *redis.Client
	// Node is this node's id, unique in the cluster (a restarted process
	// should take a new one). Required.
	Node   string
	Prefix string        // [DefaultPrefix] of every key and channel
	TTL    time.Duration // [DefaultTTL] a node's life after its last heartbeat
	// Interval is how often the node heartbeats and sweeps [TTL/3];
	// negative: never (tests call Heartbeat and Sweep).
	Interval time.Duration
	// OpTimeout bounds every operation [DefaultOpTimeout], so an outage
	// is an error, not a hang.
	OpTimeout time.Duration
	// Retry is the pause between attempts to reach Redis again after the
	// bus lost it [250ms].
	Retry time.Duration
	Log   *slog.Logger // [discard]
}

// NewClient returns a client for url (redis://…) with timeouts that suit
// the cluster: an unreachable server is an error within about a second.
func NewClient(url string) (*redis.Client, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis: parse url: %w", err)
	}
	opts.DialTimeout = cmp.Or(opts.DialTimeout, time.Second)
	opts.ReadTimeout = cmp.Or(opts.ReadTimeout, time.Second)
	opts.WriteTimeout = cmp.Or(opts.WriteTimeout, time.Second)
	opts.MaxRetries = -1 // the caller decides; a retry inside would double the wait
	return redis.NewClient(opts), nil
}

// Node is one node of a cluster sharing a Redis server.
type Node struct {
	cfg    Config
	c      *redis.Client
	p      string // prefix
	log    *slog.Logger
	subs   local.Subs
	queue  *local.Queue
	ps     *redis.PubSub
	beaten atomic.Bool // a heartbeat succeeded: a later one finding the node dead resyncs
	busUp  atomic.Bool // the bus's subscription is live
	resync chan struct{}
	// joinMu serializes bus joins and leaves, so a leave of a chat's last
	// subscription cannot undo the join of a new first one.
	joinMu sync.Mutex

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

var _ cluster.Node = (*Node)(nil)

// New starts a node: it subscribes to its channels and starts its
// background work (receiving, and unless Interval is negative, heartbeats
// and sweeps). It does not need Redis to be up: the node joins when Redis
// answers (Ping says whether it does).
func New(cfg Config) (*Node, error) {
	if cfg.Client == nil || cfg.Node == "" {
		return nil, errors.New("redis: Config.Client and Config.Node are required")
	}
	if strings.ContainsAny(cfg.Node, ",\n") {
		return nil, fmt.Errorf("redis: node id %q has a comma or newline", cfg.Node)
	}
	cfg.Prefix = cmp.Or(cfg.Prefix, DefaultPrefix)
	cfg.TTL = cmp.Or(cfg.TTL, DefaultTTL)
	cfg.Interval = cmp.Or(cfg.Interval, cfg.TTL/3)
	cfg.OpTimeout = cmp.Or(cfg.OpTimeout, DefaultOpTimeout)
	cfg.Retry = cmp.Or(cfg.Retry, 250*time.Millisecond)
	cfg.Log = cmp.Or(cfg.Log, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	n := &Node{
		cfg: cfg, c: cfg.Client, p: cfg.Prefix,
		log:    cfg.Log.With("component", "cluster", "node", cfg.Node),
		queue:  local.NewQueue(),
		resync: make(chan struct{}, 1),
		ctx:    ctx, cancel: cancel,
	}
	// Wait for Redis to confirm the subscriptions, so that what is
	// published once New returns reaches this node. When Redis is down the
	// receive loop connects (and later reconnects) by itself.
	n.ps = n.c.Subscribe(context.Background())
	up := n.subscribeNow(ctx)
	n.busUp.Store(up)
	n.wg.Go(func() { n.receive(!up) })
	n.wg.Go(n.maintain)
	// Best effort: when Redis is down the maintenance loop retries.
	hctx, hcancel := context.WithTimeout(ctx, cfg.OpTimeout)
	defer hcancel()
	if err := n.Heartbeat(hctx); err != nil {
		n.log.Warn("first heartbeat", "err", err)
		n.kick()
	}
	return n, nil
}

func (n *Node) ID() string { return n.cfg.Node }

func (n *Node) nodeChannel(node string) string { return n.p + "ch:node:" + node }

// Close stops the node's background work; its entries stay until their
// TTL passes.
func (n *Node) Close() error {
	n.once.Do(func() {
		n.cancel()
		_ = n.ps.Close()
		n.wg.Wait()
		n.queue.Close()
	})
	return nil
}

// kick asks the maintenance loop to resync.
func (n *Node) kick() {
	select {
	case n.resync <- struct{}{}:
	default:
	}
}

// maintain heartbeats and sweeps every Interval, and resyncs when the bus
// came back (or a first heartbeat failed), retrying until it succeeds.
func (n *Node) maintain() {
	var tick <-chan time.Time
	if n.cfg.Interval > 0 {
		t := time.NewTicker(n.cfg.Interval)
		defer t.Stop()
		tick = t.C
	}
	pending := false
	failing := false // log an outage once, not every beat
	var retry <-chan time.Time
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-tick:
			ctx, cancel := context.WithTimeout(n.ctx, n.cfg.OpTimeout)
			err := n.Heartbeat(ctx)
			if err == nil {
				err = n.Sweep(ctx)
			}
			cancel()
			switch {
			case err != nil && !failing && n.ctx.Err() == nil:
				n.log.Warn("heartbeat or sweep failed", "err", err)
				failing = true
			case err == nil && failing:
				n.log.Info("heartbeats back")
				failing = false
			}
			continue
		case <-n.resync:
			pending = true
		case <-retry:
		}
		if !pending {
			continue
		}
		ctx, cancel := context.WithTimeout(n.ctx, n.cfg.OpTimeout)
		err := n.resyncNow(ctx)
		cancel()
		if err != nil {
			if n.ctx.Err() == nil {
				n.log.Warn("resync", "err", err)
			}
			retry = time.After(n.cfg.Retry)
			continue
		}
		pending, retry = false, nil
	}
}

// resyncNow puts the node's liveness and bus memberships back and tells
// the event handlers to resync.
func (n *Node) resyncNow(ctx context.Context) error {
	if _, err := n.heartbeat(ctx); err != nil {
		return err
	}
	if err := n.rejoin(ctx); err != nil {
		return err
	}
	n.beaten.Store(true)
	n.queue.Push(func() { n.subs.Event(cluster.Event{Kind: cluster.EventResync}) })
	return nil
}

// rejoin puts back the node's bus memberships.
func (n *Node) rejoin(ctx context.Context) error {
	chats := n.subs.Chats()
	if len(chats) == 0 {
		return nil
	}
	_, err := n.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, chat := range chats {
			n.join(ctx, p, chat)
		}
		return nil
	})
	return n.wrap(ctx, "rejoin chats", err)
}

func (n *Node) join(ctx context.Context, p redis.Pipeliner, chat string) {
	p.SAdd(ctx, n.p+"chat:"+chat+":nodes", n.cfg.Node)
	p.SAdd(ctx, n.p+"node:"+n.cfg.Node+":chats", chat)
}

// subscribeNow subscribes the node's channels and waits for both
// confirmations; it reports whether they came.
func (n *Node) subscribeNow(ctx context.Context) bool {
	ctx, cancel := n.op(ctx)
	defer cancel()
	if err := n.ps.Subscribe(ctx, n.nodeChannel(n.cfg.Node), n.p+"ch:events"); err != nil {
		n.log.Warn("subscribe", "err", err)
		return false
	}
	for range 2 {
		msg, err := n.ps.ReceiveTimeout(ctx, n.cfg.OpTimeout)
		if err != nil {
			n.log.Warn("subscribe", "err", err)
			return false
		}
		if _, ok := msg.(*redis.Subscription); !ok {
			return false // cannot be: nothing is published to us before this
		}
	}
	return true
}

// receive reads the node's channels until Close. go-redis reconnects and
// resubscribes the PubSub by itself after an error; the first
// subscription confirmation after one means the bus is back, and the node
// resyncs (messages sent meanwhile are lost: the store has them).
// wasDown says the first subscription failed.
func (n *Node) receive(wasDown bool) {
	for {
		msg, err := n.ps.ReceiveTimeout(n.ctx, max(n.cfg.TTL/3, time.Second))
		if n.ctx.Err() != nil {
			return
		}
		if err != nil {
			var nerr net.Error
			if errors.As(err, &nerr) && nerr.Timeout() {
				// Quiet: check that the connection still works. A failed
				// ping makes the PubSub reconnect.
				pctx, cancel := context.WithTimeout(n.ctx, n.cfg.OpTimeout)
				perr := n.ps.Ping(pctx)
				cancel()
				if perr == nil {
					continue
				}
			}
			if n.busUp.Swap(false) || !wasDown {
				n.log.Warn("bus down", "err", err)
			}
			wasDown = true
			select {
			case <-n.ctx.Done():
				return
			case <-time.After(n.cfg.Retry):
			}
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if !n.busUp.Swap(true) && wasDown {
				n.log.Info("bus back")
				n.kick()
			}
			wasDown = false
		case *redis.Message:
			n.dispatch(m)
		}
	}
}

// dispatch hands a bus message or event to the handlers, in order.
func (n *Node) dispatch(m *redis.Message) {
	if m.Channel == n.p+"ch:events" {
		var e cluster.Event
		if err := json.Unmarshal([]byte(m.Payload), &e); err != nil {
			n.log.Error("bad event", "err", err)
			return
		}
		n.queue.Push(func() { n.subs.Event(e) })
		return
	}
	kind, rest := m.Payload[:min(1, len(m.Payload))], m.Payload[min(1, len(m.Payload)):]
	chat, data, ok := strings.Cut(rest, "\n")
	if !ok || (kind != "c" && kind != "n") {
		n.log.Error("bad bus message", "channel", m.Channel)
		return
	}
	msg := cluster.Message{ChatID: chat, Data: []byte(data)}
	n.queue.Push(func() { n.subs.Deliver(msg) })
}

// op bounds one operation.
func (n *Node) op(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, n.cfg.OpTimeout)
}

// wrap names the operation and marks failures to reach Redis as
// cluster.ErrUnavailable. A reply error (a bug in a script, say) is not
// unavailability; neither is the caller's own cancellation.
func (n *Node) wrap(ctx context.Context, what string, err error) error {
	if err == nil {
		return nil
	}
	if n.ctx.Err() != nil {
		return fmt.Errorf("redis: %s: %w", what, cluster.ErrClosed)
	}
	var rerr redis.Error
	if errors.As(err, &rerr) && !strings.HasPrefix(rerr.Error(), "LOADING") {
		return fmt.Errorf("redis: %s: %w", what, err)
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("redis: %s: %w", what, err)
	}
	return fmt.Errorf("redis: %s: %w: %w", what, cluster.ErrUnavailable, err)
}

func (n *Node) run(ctx context.Context, s *redis.Script, args ...any) (any, error) {
	if n.ctx.Err() != nil {
		return nil, cluster.ErrClosed
	}
	return s.Run(ctx, n.c, nil, append([]any{n.p}, args...)...).Result()
}

func ms(d time.Duration) int64 { return max(d.Milliseconds(), 1) }

// Liveness.

// Ping reports whether Redis answers and the bus is subscribed.
func (n *Node) Ping(ctx context.Context) error {
	ctx, cancel := n.op(ctx)
	defer cancel()
	if err := n.c.Ping(ctx).Err(); err != nil {
		return n.wrap(ctx, "ping", err)
	}
	if !n.busUp.Load() {
		return fmt.Errorf("redis: ping: bus not subscribed: %w", cluster.ErrUnavailable)
	}
	return nil
}

func (n *Node) Heartbeat(ctx context.Context) error {
	ctx, cancel := n.op(ctx)
	defer cancel()
	was, err := n.heartbeat(ctx)
	if err != nil {
		return err
	}
	if !was && n.beaten.Load() {
		// Swept as dead, or Redis lost its data: put back what we hold.
		n.log.Warn("node was gone from Redis; resyncing")
		if err := n.rejoin(ctx); err != nil {
			n.kick()
			return err
		}
		n.queue.Push(func() { n.subs.Event(cluster.Event{Kind: cluster.EventResync}) })
	}
	n.beaten.Store(true)
	return nil
}

// heartbeat runs the script and reports whether the node was alive before.
func (n *Node) heartbeat(ctx context.Context) (bool, error) {
	v, err := n.run(ctx, heartbeatScript, n.cfg.Node, ms(n.cfg.TTL))
	if err != nil {
		return false, n.wrap(ctx, "heartbeat", err)
	}
	return v.(int64) == 1, nil
}

func (n *Node) Sweep(ctx context.Context) error {
	ctx, cancel := n.op(ctx)
	defer cancel()
	_, err := n.run(ctx, sweepScript)
	return n.wrap(ctx, "sweep", err)
}

func (n *Node) Leave(ctx context.Context) error {
	ctx, cancel := n.op(ctx)
	defer cancel()
	_, err := n.run(ctx, sweepScript, n.cfg.Node)
	return n.wrap(ctx, "leave", err)
}

// Presence.

func (n *Node) PutOperator(ctx context.Context, p cluster.OperatorPresence) error {
	ctx, cancel := n.op(ctx)
	defer cancel()
	p.Node = n.cfg.Node
	if p.DepartmentIDs == nil {
		p.DepartmentIDs = []string{}
	}
	for _, d := range p.DepartmentIDs {
		if d == "" || strings.Contains(d, ",") {
			return fmt.Errorf("redis: put operator %s: bad department id %q", p.OperatorID, d)
		}
	}
	js, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("redis: put operator %s: %w", p.OperatorID, err)
	}
	_, err = n.run(ctx, putOperatorScript, n.cfg.Node, p.OperatorID, strings.Join(p.DepartmentIDs, ","), js)
	return n.wrap(ctx, "put operator "+p.OperatorID, err)
}

func (n *Node) RemoveOperator(ctx context.Context, operatorID string) (bool, error) {
	ctx, cancel := n.op(ctx)
	defer cancel()
	v, err := n.run(ctx, removeOperatorScript, n.cfg.Node, operatorID)
	if err != nil {
		return false, n.wrap(ctx, "remove operator "+operatorID, err)
	}
	return v.(int64) == 1, nil
}

func (n *Node) Operator(ctx context.Context, operatorID string) (cluster.OperatorPresence, bool, error) {
	ctx, cancel := n.op(ctx)
	defer cancel()
	v, err := n.run(ctx, operatorsScript, "ids", operatorID)
	if err != nil {
		return cluster.OperatorPresence{}, false, n.wrap(ctx, "read operator "+operatorID, err)
	}
	ps, err := decodeAll[cluster.OperatorPresence](v)
	if err != nil || len(ps) == 0 {
		return cluster.OperatorPresence{}, false, err
	}
	return ps[0], true, nil
}

func (n *Node) OperatorsIn(ctx context.Context, departmentID string) ([]cluster.OperatorPresence, error) {
	ctx, cancel := n.op(ctx)
	defer cancel()
	v, err := n.run(ctx, operatorsScript, "dept", departmentID)
	if err != nil {
		return nil, n.wrap(ctx, "list operators of "+departmentID, err)
	}
	ps, err := decodeAll[cluster.OperatorPresence](v)
	slices.SortFunc(ps, func(a, b cluster.OperatorPresence) int { return strings.Compare(a.OperatorID, b.OperatorID) })
	return ps, err
}

// decodeAll decodes a script's list of JSON strings.
func decodeAll[T any](v any) ([]T, error) {
	list, _ := v.([]any)
	out := make([]T, 0, len(list))
	for _, x := range list {
		s, _ := x.(string)
		var t T
		if err := json.Unmarshal([]byte(s), &t); err != nil {
			return nil, fmt.Errorf("redis: decode entry: %w", err)
		}
		out = append(out, t)
	}
	return out, nil
}

// Events registers fn. The events channel is subscribed from New on, so
// there is no Redis call here.
func (n *Node) Events(ctx context.Context, fn func(cluster.Event)) error {
	if n.ctx.Err() != nil {
		return cluster.ErrClosed
	}
	n.subs.AddEvents(ctx, fn)
	return nil
}

// Counters.

func (n *Node) Reserve(ctx context.Context, operatorID, chatID string, capacity int, ttl time.Duration) (bool, error) {
	ctx, cancel := n.op(ctx)
	defer cancel()
	t := int64(0)
	if ttl > 0 {
		t = ms(ttl)
	}
	v, err := n.run(ctx, reserveScript, operatorID, chatID, capacity, t)
	if err != nil {
		return false, n.wrap(ctx, "reserve "+operatorID+"/"+chatID, err)
	}
	return v.(int64) == 1, nil
}

func (n *Node) Unreserve(ctx context.Context, operatorID, chatID string) error {
	ctx, cancel := n.op(ctx)
	defer cancel()
	return n.wrap(ctx, "unreserve "+operatorID+"/"+chatID, n.c.ZRem(ctx, n.p+"load:"+operatorID, chatID).Err())
}

func (n *Node) Load(ctx context.Context, operatorIDs ...string) (map[string]int, error) {
	out := make(map[string]int, len(operatorIDs))
	if len(operatorIDs) == 0 {
		return out, nil
	}
	ctx, cancel := n.op(ctx)
	defer cancel()
	args := make([]any, len(operatorIDs))
	for i, id := range operatorIDs {
		args[i] = id
	}
	v, err := n.run(ctx, loadScript, args...)
	if err != nil {
		return nil, n.wrap(ctx, "load", err)
	}
	for i, x := range v.([]any) {
		out[operatorIDs[i]] = int(x.(int64))
	}
	return out, nil
}

func (n *Node) ResetLoad(ctx context.Context, operatorID string, chatIDs []string) error {
	ctx, cancel := n.op(ctx)
	defer cancel()
	args := []any{operatorID}
	for _, c := range chatIDs {
		args = append(args, c)
	}
	_, err := n.run(ctx, resetLoadScript, args...)
	return n.wrap(ctx, "reset load of "+operatorID, err)
}

// Directory.

func (n *Node) AddConn(ctx context.Context, kind cluster.ConnKind, id, connID string) error {
	ctx, cancel := n.op(ctx)
	defer cancel()
	kid := string(kind) + ":" + id
	if strings.Contains(kid, "\n") {
		return fmt.Errorf("redis: add connection: newline in id %q", id)
	}
	_, err := n.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, n.p+"conn:"+kid, connID, n.cfg.Node)
		p.SAdd(ctx, n.p+"node:"+n.cfg.Node+":conns", kid+"\n"+connID)
		return nil
	})
	return n.wrap(ctx, "add connection "+kid, err)
}

func (n *Node) RemoveConn(ctx context.Context, kind cluster.ConnKind, id, connID string) error {
	ctx, cancel := n.op(ctx)
	defer cancel()
	kid := string(kind) + ":" + id
	_, err := n.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HDel(ctx, n.p+"conn:"+kid, connID)
		p.SRem(ctx, n.p+"node:"+n.cfg.Node+":conns", kid+"\n"+connID)
		return nil
	})
	return n.wrap(ctx, "remove connection "+kid, err)
}

func (n *Node) ConnNodes(ctx context.Context, kind cluster.ConnKind, id string) ([]string, error) {
	ctx, cancel := n.op(ctx)
	defer cancel()
	v, err := n.run(ctx, connNodesScript, string(kind)+":"+id)
	if err != nil {
		return nil, n.wrap(ctx, "connection nodes", err)
	}
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	slices.Sort(out)
	return out, nil
}

// Visitors.

func (n *Node) PutVisitor(ctx context.Context, v cluster.VisitorPresence) error {
	ctx, cancel := n.op(ctx)
	defer cancel()
	v.Node = n.cfg.Node
	js, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("redis: put visitor: %w", err)
	}
	_, err = n.run(ctx, putVisitorScript, n.cfg.Node, v.ConnID, v.DepartmentID, js)
	return n.wrap(ctx, "put visitor "+v.VisitorID, err)
}

func (n *Node) RemoveVisitor(ctx context.Context, connID string) error {
	ctx, cancel := n.op(ctx)
	defer cancel()
	_, err := n.run(ctx, removeVisitorScript, connID)
	return n.wrap(ctx, "remove visitor", err)
}

func (n *Node) OnlineVisitors(ctx context.Context, departmentIDs []string) ([]cluster.VisitorPresence, error) {
	ctx, cancel := n.op(ctx)
	defer cancel()
	args := []any{"all"}
	if departmentIDs != nil {
		args = []any{"depts"}
		for _, d := range slices.Compact(slices.Sorted(slices.Values(departmentIDs))) {
			args = append(args, d)
		}
	}
	v, err := n.run(ctx, visitorsScript, args...)
	if err != nil {
		return nil, n.wrap(ctx, "list visitors", err)
	}
	out, err := decodeAll[cluster.VisitorPresence](v)
	cluster.SortVisitors(out)
	return out, err
}

// Leases.

func (n *Node) Acquire(ctx context.Context, key string, ttl time.Duration) (cluster.Lease, bool, error) {
	ctx, cancel := n.op(ctx)
	defer cancel()
	v, err := n.run(ctx, acquireScript, key, n.cfg.Node, ms(ttl))
	if err != nil {
		return cluster.Lease{}, false, n.wrap(ctx, "acquire lease "+key, err)
	}
	r := v.([]any)
	l := cluster.Lease{Key: key, Node: r[1].(string), Token: r[2].(int64), ExpiresAt: time.UnixMilli(r[3].(int64))}
	return l, r[0].(int64) == 1, nil
}

func (n *Node) Renew(ctx context.Context, l cluster.Lease, ttl time.Duration) (cluster.Lease, error) {
	ctx, cancel := n.op(ctx)
	defer cancel()
	v, err := n.run(ctx, renewScript, l.Key, n.cfg.Node, strconv.FormatInt(l.Token, 10), ms(ttl))
	if err != nil {
		return cluster.Lease{}, n.wrap(ctx, "renew lease "+l.Key, err)
	}
	if v.(int64) < 0 {
		return cluster.Lease{}, fmt.Errorf("redis: renew lease %s: %w", l.Key, cluster.ErrLeaseLost)
	}
	l.Node, l.ExpiresAt = n.cfg.Node, time.UnixMilli(v.(int64))
	return l, nil
}

func (n *Node) Release(ctx context.Context, l cluster.Lease) error {
	ctx, cancel := n.op(ctx)
	defer cancel()
	_, err := n.run(ctx, releaseScript, l.Key, n.cfg.Node, strconv.FormatInt(l.Token, 10))
	return n.wrap(ctx, "release lease "+l.Key, err)
}

// Bus.

// Subscribe registers fn and, for the chat's first subscription on this
// node, joins the node to the chat in Redis before returning, so nothing
// published after Subscribe returns is missed. When Redis cannot be
// reached it returns the error and no subscription.
func (n *Node) Subscribe(ctx context.Context, chatID string, fn func(cluster.Message)) (func(context.Context) error, error) {
	if n.ctx.Err() != nil {
		return nil, cluster.ErrClosed
	}
	if strings.Contains(chatID, "\n") || chatID == "" {
		return nil, fmt.Errorf("redis: subscribe: bad chat id %q", chatID)
	}
	n.joinMu.Lock()
	defer n.joinMu.Unlock()
	id, _ := n.subs.Add(chatID, fn)
	// Joining again when not first is cheap and repairs a membership lost
	// to a sweep that raced with us.
	octx, cancel := n.op(ctx)
	defer cancel()
	_, err := n.c.Pipelined(octx, func(p redis.Pipeliner) error {
		n.join(octx, p, chatID)
		return nil
	})
	if err != nil {
		// Leaving is moot: Redis did not answer the join.
		n.subs.Remove(chatID, id)
		return nil, n.wrap(octx, "subscribe to chat "+chatID, err)
	}
	return func(ctx context.Context) error {
		n.joinMu.Lock()
		defer n.joinMu.Unlock()
		return n.unsubscribe(ctx, chatID, id)
	}, nil
}

// unsubscribe removes a subscription and, for the chat's last one, leaves
// the chat in Redis. A failure to leave is harmless (the node gets and
// drops the chat's messages until its next sweep or rejoin): it is
// returned for the log. n.joinMu is held.
func (n *Node) unsubscribe(ctx context.Context, chatID string, id int) error {
	if !n.subs.Remove(chatID, id) || n.ctx.Err() != nil {
		return nil
	}
	ctx, cancel := n.op(ctx)
	defer cancel()
	_, err := n.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.SRem(ctx, n.p+"chat:"+chatID+":nodes", n.cfg.Node)
		p.SRem(ctx, n.p+"node:"+n.cfg.Node+":chats", chatID)
		return nil
	})
	return n.wrap(ctx, "unsubscribe from chat "+chatID, err)
}

func (n *Node) Publish(ctx context.Context, chatID string, data []byte) error {
	ctx, cancel := n.op(ctx)
	defer cancel()
	_, err := n.run(ctx, publishScript, chatID, data)
	return n.wrap(ctx, "publish to chat "+chatID, err)
}

func (n *Node) SendNode(ctx context.Context, node string, data []byte) error {
	ctx, cancel := n.op(ctx)
	defer cancel()
	var b bytes.Buffer
	b.WriteString("n\n")
	b.Write(data)
	return n.wrap(ctx, "send to node "+node, n.c.Publish(ctx, n.nodeChannel(node), b.Bytes()).Err())
}

func (n *Node) OnNode(fn func(cluster.Message)) { n.subs.OnNode(fn) }
