package session

import (
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/cluster"
)

// Cluster mode. Without a cluster node (Config.Cluster nil) none of this
// runs: the hub fans frames out to this node's connections directly, and
// the per-chat lock keeps messages in seq order, as on a single node.
//
// With one, every chat frame is published on the cluster bus as an
// envelope and delivered by each node to its own subscribers; the
// publishing node delivers its copy at once and ignores the bus's echo.
// Messages of one chat published by two nodes may arrive out of seq
// order, and a bus outage loses what was published during it, so each
// connection keeps the last seq it was given per chat (conn.seqs): a
// message at or below it is a duplicate and dropped; one above the next
// waits in the chat's feed, and if the gap is still there after gapWait
// the missing messages are read from the store (where every acked message
// is) before the waiting ones go out. Frames addressed to an operator go to
// every node holding one of its sockets (Directory + SendNode).

// gapWait is how long a message above a connection's next seq waits for
// the missing ones to arrive on the bus before they are read from the
// store: messages of one chat published on two nodes are normally at most
// a few milliseconds apart.
const gapWait = 50 * time.Millisecond

// clusterOpTimeout bounds the Redis calls made on the way of a frame.
const clusterOpTimeout = 2 * time.Second

// envelope is what the session layer sends on the bus.
type envelope struct {
	Kind   string          `json:"k"`           // "chat": a chat's frame; "op": for an operator's sockets; "close": close a visitor socket
	Node   string          `json:"n"`           // the sender node (it ignores its own echo)
	Chat   string          `json:"c,omitempty"` // chat id
	Seq    int64           `json:"s,omitempty"` // a message frame's seq; op.Sub: subscribe from this seq
	Frame  json.RawMessage `json:"f,omitempty"`
	Skip   string          `json:"x,omitempty"` // connection not to deliver to (typing's sender)
	Latest string          `json:"l,omitempty"` // coalescing key: only the newest such frame is written
	Mark   string          `json:"m,omitempty"` // "ended" / "open": what the chat became, for its participants
	Op     string          `json:"o,omitempty"` // operator id of an "op" envelope
	Sub    bool            `json:"sub,omitempty"`
	Unsub  bool            `json:"unsub,omitempty"`
	Take   bool            `json:"take,omitempty"` // a watcher that takes the chat over stops watching
	Conn   string          `json:"conn,omitempty"` // "close": the visitor connection
}

// clusterHub is the hub's cluster side: bus memberships (feeds) and the
// reordering of messages per chat.
type clusterHub struct {
	node cluster.Node
	srv  *Server
	log  *slog.Logger

	mu    sync.Mutex
	feeds map[string]*feed
}

// feed is this node's membership of one chat's bus traffic, with the
// messages that wait for a gap to be filled.
type feed struct {
	chatID  string
	refs    int // local (connection, chat) subscriptions plus joins under way
	joined  chan struct{}
	unsub   func(context.Context) error // nil: not joined (Redis was down); retried on resync
	pending map[int64][]byte            // message frames by seq not yet given to every subscriber
	filling bool
}

func newClusterHub(node cluster.Node, s *Server) *clusterHub {
	return &clusterHub{node: node, srv: s, log: s.log, feeds: map[string]*feed{}}
}

// start listens for node-addressed envelopes and presence resyncs.
func (ch *clusterHub) start(ctx context.Context) {
	ch.node.OnNode(ch.onNode)
	go func() {
		_ = ch.node.Events(ctx, func(e cluster.Event) {
			if e.Kind == cluster.EventResync {
				go ch.resync()
			}
		})
	}()
}

// acquire makes this node a member of the chat's bus traffic (joined
// before it returns, when Redis answers), for one more user; release undoes it.
func (ch *clusterHub) acquire(chatID string) {
	ch.mu.Lock()
	f := ch.feeds[chatID]
	if f != nil {
		f.refs++
		ch.mu.Unlock()
		<-f.joined
		return
	}
	f = &feed{chatID: chatID, refs: 1, joined: make(chan struct{}), pending: map[int64][]byte{}}
	ch.feeds[chatID] = f
	ch.mu.Unlock()
	ch.join(f)
	close(f.joined)
}

// join subscribes the node to a feed's chat on the bus.
func (ch *clusterHub) join(f *feed) {
	ctx, cancel := context.WithTimeout(context.Background(), clusterOpTimeout)
	defer cancel()
	unsub, err := ch.node.Subscribe(ctx, f.chatID, ch.onChat)
	if err != nil {
		ch.log.Warn("join chat on the cluster bus; retried when Redis returns", "chat_id", f.chatID, "err", err)
		return
	}
	ch.mu.Lock()
	f.unsub = unsub
	ch.mu.Unlock()
}

func (ch *clusterHub) release(chatID string) {
	ch.mu.Lock()
	f := ch.feeds[chatID]
	if f == nil {
		ch.mu.Unlock()
		return
	}
	if f.refs--; f.refs > 0 {
		ch.mu.Unlock()
		return
	}
	delete(ch.feeds, chatID)
	unsub := f.unsub
	ch.mu.Unlock()
	if unsub != nil {
		ctx, cancel := context.WithTimeout(context.Background(), clusterOpTimeout)
		defer cancel()
		if err := unsub(ctx); err != nil {
			ch.log.Warn("leave chat on the cluster bus", "chat_id", chatID, "err", err)
		}
	}
}

// publish delivers a chat frame here at once and to the other nodes
// through the bus. seq > 0 marks a message frame.
func (ch *clusterHub) publish(e envelope) {
	e.Kind, e.Node = "chat", ch.node.ID()
	ch.deliver(e)
	data, _ := json.Marshal(e)
	ctx, cancel := context.WithTimeout(context.Background(), clusterOpTimeout)
	defer cancel()
	if err := ch.node.Publish(ctx, e.Chat, data); err != nil {
		// Other nodes' clients get it on resume (messages are in the store).
		ch.log.Warn("publish on the cluster bus", "chat_id", e.Chat, "err", err)
	}
}

// onChat receives a chat's envelope from the bus.
func (ch *clusterHub) onChat(m cluster.Message) {
	var e envelope
	if err := json.Unmarshal(m.Data, &e); err != nil || e.Node == ch.node.ID() {
		return
	}
	ch.deliver(e)
}

// deliver gives a chat envelope to this node's subscribers.
func (ch *clusterHub) deliver(e envelope) {
	h := ch.srv.hub
	switch e.Mark {
	case "ended":
		h.markEnded(e.Chat)
	case "open":
		h.markOpen(e.Chat)
	}
	if e.Seq <= 0 {
		for _, c := range h.chatConns(e.Chat) {
			if e.Skip != "" && c.id == e.Skip {
				continue
			}
			if e.Latest != "" {
				c.sendLatest(e.Latest, e.Frame)
			} else {
				c.send(e.Frame)
			}
		}
		return
	}
	ch.mu.Lock()
	defer ch.mu.Unlock()
	f := ch.feeds[e.Chat]
	if f == nil {
		return // nobody here subscribes any more
	}
	f.pending[e.Seq] = e.Frame
	ch.drainLocked(f)
}

// drainLocked gives each subscriber of the feed's chat the pending
// messages that follow its last seq, in order, forgets those everyone
// has, and schedules a read from the store when someone faces a gap.
func (ch *clusterHub) drainLocked(f *feed) {
	conns := ch.srv.hub.chatConns(f.chatID)
	gap := false
	low := int64(-1)
	for _, c := range conns {
		c.mu.Lock()
		last, ok := c.seqs[f.chatID]
		if !ok { // subscribed without a known position: from what arrives
			last = minKey(f.pending) - 1
		}
		for {
			frame, ok := f.pending[last+1]
			if !ok {
				break
			}
			last++
			c.mu.Unlock()
			c.send(frame)
			c.mu.Lock()
		}
		c.seqs[f.chatID] = last
		c.mu.Unlock()
		if low < 0 || last < low {
			low = last
		}
		for s := range f.pending {
			if s > last {
				gap = true
				break
			}
		}
	}
	for s := range f.pending {
		if low < 0 || s <= low {
			delete(f.pending, s)
		}
	}
	if gap && !f.filling {
		f.filling = true
		time.AfterFunc(gapWait, func() { ch.fill(f, false) })
	}
}

func minKey(m map[int64][]byte) int64 {
	if len(m) == 0 {
		return 0
	}
	return slices.Min(slices.Collect(maps.Keys(m)))
}

// fill reads from the store the messages that subscribers of the feed's
// chat miss (a gap below a waiting message, or, when all, everything after
// the lowest last seq: after an outage) and delivers them.
func (ch *clusterHub) fill(f *feed, all bool) {
	ch.mu.Lock()
	f.filling = false
	if ch.feeds[f.chatID] != f {
		ch.mu.Unlock()
		return
	}
	low := int64(-1)
	for _, c := range ch.srv.hub.chatConns(f.chatID) {
		c.mu.Lock()
		if last, ok := c.seqs[f.chatID]; ok && (low < 0 || last < low) {
			low = last
		}
		c.mu.Unlock()
	}
	high := int64(0)
	for s := range f.pending {
		high = max(high, s)
	}
	ch.mu.Unlock()
	if low < 0 || (!all && high <= low+1) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var got []switchboard.Message
	for after := low; all || after < high; {
		page, err := ch.srv.store.Messages(ctx, f.chatID, after, resumePage)
		if err != nil {
			ch.log.Error("read a chat's missing messages", "chat_id", f.chatID, "err", err)
			ch.mu.Lock()
			if !f.filling {
				f.filling = true
				time.AfterFunc(time.Second, func() { ch.fill(f, all) })
			}
			ch.mu.Unlock()
			return
		}
		got = append(got, page...)
		if len(page) < resumePage {
			break
		}
		after = page[len(page)-1].Seq
	}
	ch.mu.Lock()
	defer ch.mu.Unlock()
	for _, m := range got {
		if _, ok := f.pending[m.Seq]; !ok {
			f.pending[m.Seq] = encode(newMessageFrame(m))
		}
	}
	ch.drainLocked(f)
}

// resync follows a Redis outage: the bus lost what was published during
// it, and a restarted Redis lost the directory and visitor presence. Put
// back what this node holds, join the chats it could not, and read every
// subscribed chat's messages after what each connection has.
func (ch *clusterHub) resync() {
	h := ch.srv.hub
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, c := range h.allOperatorConns() {
		if err := ch.node.AddConn(ctx, cluster.ConnOperator, c.operator.ID, c.id); err != nil {
			ch.log.Warn("resync: put back an operator connection", "err", err)
		}
	}
	for _, c := range ch.srv.visitors.matching(func(*conn, *VisitorPresence) bool { return true }) {
		ch.srv.putVisitor(c)
	}
	ch.mu.Lock()
	var all, unjoined []*feed
	for _, f := range ch.feeds {
		all = append(all, f)
		if f.unsub == nil {
			unjoined = append(unjoined, f)
		}
	}
	ch.mu.Unlock()
	for _, f := range unjoined {
		ch.join(f)
	}
	for _, f := range all {
		ch.fill(f, true)
	}
}

// toOperator sends an "op" envelope to every node holding a socket of the
// operator, this one included.
func (ch *clusterHub) toOperator(e envelope) {
	e.Kind, e.Node = "op", ch.node.ID()
	ch.srv.applyOp(e)
	ctx, cancel := context.WithTimeout(context.Background(), clusterOpTimeout)
	defer cancel()
	nodes, err := ch.node.ConnNodes(ctx, cluster.ConnOperator, e.Op)
	if err != nil {
		ch.log.Warn("find an operator's nodes", "operator_id", e.Op, "err", err)
		return
	}
	var data []byte
	for _, n := range nodes {
		if n == ch.node.ID() {
			continue
		}
		if data == nil {
			data, _ = json.Marshal(e)
		}
		if err := ch.node.SendNode(ctx, n, data); err != nil {
			ch.log.Warn("send to an operator's node", "operator_id", e.Op, "node", n, "err", err)
		}
	}
}

// onNode receives envelopes addressed to this node.
func (ch *clusterHub) onNode(m cluster.Message) {
	var e envelope
	if err := json.Unmarshal(m.Data, &e); err != nil || e.Node == ch.node.ID() {
		return
	}
	switch e.Kind {
	case "op":
		// Subscribing may join the bus (a Redis call): not on the bus's goroutine.
		go ch.srv.applyOp(e)
	case "close":
		for _, c := range ch.srv.visitors.matching(func(c *conn, _ *VisitorPresence) bool { return c.id == e.Conn }) {
			c.shutdown(websocket.StatusPolicyViolation, "blocked")
		}
	}
}

// applyOp carries out an "op" envelope on this node's sockets of the operator.
func (s *Server) applyOp(e envelope) {
	for _, c := range s.hub.operatorConns(e.Op) {
		if e.Take {
			s.monitors.forget(c, e.Chat)
		}
		if e.Sub {
			s.hub.subscribeAt(c, e.Chat, true, e.Seq)
		}
		switch {
		case e.Frame == nil:
		case e.Latest != "":
			c.sendLatest(e.Latest, e.Frame)
		default:
			c.send(e.Frame)
		}
		if e.Unsub {
			s.hub.unsubscribe(c, e.Chat)
		}
	}
}

// toOperator sends a frame to every socket of an operator, on any node.
func (s *Server) toOperator(operatorID string, frame []byte) {
	if s.hub.cl == nil {
		s.hub.toOperator(operatorID, frame)
		return
	}
	s.hub.cl.toOperator(envelope{Op: operatorID, Frame: frame})
}

// putVisitor records a visitor connection in the cluster's visitor presence.
func (s *Server) putVisitor(c *conn) {
	if s.hub.cl == nil {
		return
	}
	s.visitors.mu.Lock()
	p := s.visitors.conns[c]
	var v cluster.VisitorPresence
	if p != nil {
		v = cluster.VisitorPresence{ConnID: c.id, VisitorID: p.VisitorID, Name: p.Name, DepartmentID: p.DepartmentID,
			PageURL: p.PageURL, IP: p.IP, ConnectedAt: p.ConnectedAt}
	}
	s.visitors.mu.Unlock()
	if p == nil {
		return
	}
	v.ChatID = c.openChat()
	ctx, cancel := context.WithTimeout(context.Background(), clusterOpTimeout)
	defer cancel()
	if err := s.hub.cl.node.PutVisitor(ctx, v); err != nil {
		s.log.Warn("put visitor presence", "err", err)
	}
}

// removeVisitor forgets a visitor connection in the cluster.
func (s *Server) removeVisitor(c *conn) {
	if s.hub.cl == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterOpTimeout)
	defer cancel()
	if err := s.hub.cl.node.RemoveVisitor(ctx, c.id); err != nil {
		s.log.Warn("remove visitor presence", "err", err)
	}
}

// clusterVisitors lists the visitors online on every node; ok is false
// when Redis does not answer (the caller lists this node's only).
func (s *Server) clusterVisitors(departmentIDs []string) ([]VisitorPresence, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), clusterOpTimeout)
	defer cancel()
	vs, err := s.hub.cl.node.OnlineVisitors(ctx, departmentIDs)
	if err != nil {
		s.log.Warn("list online visitors of the cluster; listing this node's", "err", err)
		return nil, false
	}
	out := make([]VisitorPresence, 0, len(vs))
	for _, v := range vs {
		out = append(out, VisitorPresence{VisitorID: v.VisitorID, Name: v.Name, DepartmentID: v.DepartmentID,
			PageURL: v.PageURL, ChatID: v.ChatID, IP: v.IP, ConnectedAt: v.ConnectedAt})
	}
	return out, true
}

// closeBlockedElsewhere closes the matching visitor sockets of the other
// nodes; it returns how many it asked them to close.
func (s *Server) closeBlockedElsewhere(prefix netip.Prefix, departmentID string) int {
	ctx, cancel := context.WithTimeout(context.Background(), clusterOpTimeout)
	defer cancel()
	var depts []string
	if departmentID != "" {
		depts = []string{departmentID}
	}
	vs, err := s.hub.cl.node.OnlineVisitors(ctx, depts)
	if err != nil {
		s.log.Warn("close blocked visitors on other nodes", "err", err)
		return 0
	}
	n := 0
	for _, v := range vs {
		a, err := netip.ParseAddr(v.IP)
		if v.Node == s.hub.cl.node.ID() || err != nil || !prefix.Contains(a.Unmap()) {
			continue
		}
		data, _ := json.Marshal(envelope{Kind: "close", Node: s.hub.cl.node.ID(), Conn: v.ConnID})
		if err := s.hub.cl.node.SendNode(ctx, v.Node, data); err != nil {
			s.log.Warn("close a blocked visitor on another node", "node", v.Node, "err", err)
			continue
		}
		n++
	}
	return n
}

// subscribed follows a new subscription: a visitor's presence shows its
// chat, and the connection is given what was published before this node
// joined the chat (the feed drops nothing it has).
func (ch *clusterHub) subscribed(c *conn, chatID string, open bool) {
	if c.visitor != nil && open {
		ch.srv.putVisitor(c)
	}
	time.AfterFunc(gapWait, func() {
		ch.mu.Lock()
		f := ch.feeds[chatID]
		ch.mu.Unlock()
		if f != nil {
			ch.fill(f, true)
		}
	})
}

// addConn records an operator connection in the cluster's directory.
func (ch *clusterHub) addConn(c *conn) {
	ctx, cancel := context.WithTimeout(context.Background(), clusterOpTimeout)
	defer cancel()
	if err := ch.node.AddConn(ctx, cluster.ConnOperator, c.operator.ID, c.id); err != nil {
		ch.log.Warn("record an operator connection in the cluster", "err", err)
	}
}

// removed follows a closed connection: it leaves its chats' feeds and the
// directory.
func (ch *clusterHub) removed(c *conn, chats []string) {
	for _, id := range chats {
		ch.release(id)
	}
	if c.operator != nil {
		ctx, cancel := context.WithTimeout(context.Background(), clusterOpTimeout)
		defer cancel()
		if err := ch.node.RemoveConn(ctx, cluster.ConnOperator, c.operator.ID, c.id); err != nil {
			ch.log.Warn("forget an operator connection in the cluster", "err", err)
		}
	}
}

// replay sends a connection that subscribed to a chat the ack of its
// resume (or monitor) and the backlog up to lastSeq, under the feed's
// lock, and sets its position to lastSeq: no live message of the feed can
// come between them, or be given twice after the ack (one that came
// before it may come again in the backlog, which the client expects: the
// ack starts a new stretch). Later messages follow in order, those it
// missed read from the store.
func (ch *clusterHub) replay(c *conn, chatID string, ackFrame []byte, backlog []switchboard.Message, lastSeq int64) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	c.sendForce(ackFrame)
	for _, m := range backlog {
		c.sendForce(encode(newMessageFrame(m)))
	}
	// The backlog may run past lastSeq: another node's messages are not
	// held back by this node's chat lock between the two reads.
	if n := len(backlog); n > 0 {
		lastSeq = max(lastSeq, backlog[n-1].Seq)
	}
	c.mu.Lock()
	if _, ok := c.chats[chatID]; ok {
		c.seqs[chatID] = lastSeq
	}
	c.mu.Unlock()
	if f := ch.feeds[chatID]; f != nil {
		ch.drainLocked(f)
	}
}
