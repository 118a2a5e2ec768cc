package session

import (
	"sync"
	"sync/atomic"

	"github.com/switchboard-chat/switchboard"
)

// hub knows this node's connections: which receive a chat's live frames and
// which belong to an operator. It fans frames out to their send queues.
type hub struct {
	mu        sync.RWMutex
	chats     map[string]map[*conn]struct{}
	operators map[string]map[*conn]struct{}

	locksMu sync.Mutex
	locks   map[string]*chatLock

	cl *clusterHub // cluster mode (cluster.go); nil on a single node
}

// chatLock serializes appends and their publication per chat, so every
// subscriber sees a chat's messages in seq order.
type chatLock struct {
	sync.Mutex
	users int
}

func newHub() *hub {
	return &hub{
		chats:     map[string]map[*conn]struct{}{},
		operators: map[string]map[*conn]struct{}{},
		locks:     map[string]*chatLock{},
	}
}

// lockChat locks a chat and returns its unlock function.
func (h *hub) lockChat(chatID string) (unlock func()) {
	h.locksMu.Lock()
	l := h.locks[chatID]
	if l == nil {
		l = &chatLock{}
		h.locks[chatID] = l
	}
	l.users++
	h.locksMu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		h.locksMu.Lock()
		if l.users--; l.users == 0 {
			delete(h.locks, chatID)
		}
		h.locksMu.Unlock()
	}
}

// subscribe makes c receive the chat's frames; open says whether the chat
// still takes messages.
func (h *hub) subscribe(c *conn, chatID string, open bool) { h.subscribeAt(c, chatID, open, 0) }

// subscribeAt is subscribe for a connection that has the chat's messages
// up to seq lastSeq: in cluster mode it is given those after it, in order.
func (h *hub) subscribeAt(c *conn, chatID string, open bool, lastSeq int64) {
	c.mu.Lock()
	_, had := c.chats[chatID]
	c.chats[chatID] = open
	if h.cl != nil {
		c.seqs[chatID] = max(c.seqs[chatID], lastSeq)
	}
	c.mu.Unlock()
	if h.cl != nil && !had {
		h.cl.acquire(chatID) // joined before any frame is published to c
	}
	h.mu.Lock()
	set := h.chats[chatID]
	if set == nil {
		set = map[*conn]struct{}{}
		h.chats[chatID] = set
	}
	set[c] = struct{}{}
	h.mu.Unlock()
	if h.cl != nil {
		h.cl.subscribed(c, chatID, open)
	}
}

func (h *hub) unsubscribe(c *conn, chatID string) {
	c.mu.Lock()
	_, had := c.chats[chatID]
	delete(c.chats, chatID)
	delete(c.seqs, chatID)
	c.mu.Unlock()
	h.mu.Lock()
	if set := h.chats[chatID]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(h.chats, chatID)
		}
	}
	h.mu.Unlock()
	if h.cl != nil && had {
		h.cl.release(chatID)
	}
}

// markEnded records on every subscriber that the chat ended. Called under
// the chat lock, so no message is appended after the end by a connection
// that still believes the chat open.
func (h *hub) markEnded(chatID string) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for c := range h.chats[chatID] {
		c.mu.Lock()
		if _, ok := c.chats[chatID]; ok {
			c.chats[chatID] = false
		}
		c.mu.Unlock()
	}
}

// markOpen undoes markEnded when a chat is reopened. Called under the chat
// lock.
func (h *hub) markOpen(chatID string) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for c := range h.chats[chatID] {
		c.mu.Lock()
		if _, ok := c.chats[chatID]; ok {
			c.chats[chatID] = true
		}
		c.mu.Unlock()
	}
}

// publish queues a frame on every connection subscribed to the chat, but
// skip (which may be nil).
func (h *hub) publish(chatID string, frame []byte, skip *conn) {
	if h.cl != nil {
		e := envelope{Chat: chatID, Frame: frame}
		if skip != nil {
			e.Skip = skip.id
		}
		h.cl.publish(e)
		return
	}
	h.mu.RLock()
	targets := make([]*conn, 0, len(h.chats[chatID]))
	for c := range h.chats[chatID] {
		if c != skip {
			targets = append(targets, c)
		}
	}
	h.mu.RUnlock()
	for _, c := range targets {
		c.send(frame)
	}
}

func (h *hub) addOperator(c *conn) {
	h.mu.Lock()
	set := h.operators[c.operator.ID]
	if set == nil {
		set = map[*conn]struct{}{}
		h.operators[c.operator.ID] = set
	}
	set[c] = struct{}{}
	h.mu.Unlock()
	if h.cl != nil {
		h.cl.addConn(c)
	}
}

// remove forgets a closed connection everywhere.
func (h *hub) remove(c *conn) {
	c.mu.Lock()
	chats := make([]string, 0, len(c.chats))
	for id := range c.chats {
		chats = append(chats, id)
	}
	c.mu.Unlock()
	if h.cl != nil {
		defer h.cl.removed(c, chats)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range chats {
		if set := h.chats[id]; set != nil {
			delete(set, c)
			if len(set) == 0 {
				delete(h.chats, id)
			}
		}
	}
	if c.operator != nil {
		if set := h.operators[c.operator.ID]; set != nil {
			delete(set, c)
			if len(set) == 0 {
				delete(h.operators, c.operator.ID)
			}
		}
	}
}

// operatorConns returns the open connections of an operator.
func (h *hub) operatorConns(operatorID string) []*conn {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]*conn, 0, len(h.operators[operatorID]))
	for c := range h.operators[operatorID] {
		out = append(out, c)
	}
	return out
}

func (h *hub) toOperator(operatorID string, frame []byte) {
	for _, c := range h.operatorConns(operatorID) {
		c.send(frame)
	}
}

// counters are the session layer's event counts.
type counters struct {
	slowConsumers atomic.Int64
	rateLimits    atomic.Int64
	obs           Metrics // set once by New
}

func (m *counters) slowConsumer() { m.slowConsumers.Add(1); m.obs.SlowConsumer() }
func (m *counters) rateLimited()  { m.rateLimits.Add(1); m.obs.RateLimited("frames") }

// Stats are counts of notable events since the server started.
type Stats struct {
	SlowConsumers int64 // connections closed with 4008
	RateLimited   int64 // frames refused with rate_limited
}

// Stats returns the server's event counts.
func (s *Server) Stats() Stats {
	return Stats{SlowConsumers: s.metrics.slowConsumers.Load(), RateLimited: s.metrics.rateLimits.Load()}
}

// publishMessage publishes a stored message to the chat's subscribers.
func (h *hub) publishMessage(m switchboard.Message) {
	frame := encode(newMessageFrame(m))
	if h.cl != nil {
		h.cl.publish(envelope{Chat: m.ChatID, Seq: m.Seq, Frame: frame})
		return
	}
	h.publish(m.ChatID, frame, nil)
}

// publishMarked publishes a frame that changes whether the chat takes
// messages (mark "ended" or "open"), which every node's subscribers learn;
// this node's were marked by the caller, under the chat lock.
func (h *hub) publishMarked(chatID string, frame []byte, mark string) {
	if h.cl != nil {
		h.cl.publish(envelope{Chat: chatID, Frame: frame, Mark: mark})
		return
	}
	h.publish(chatID, frame, nil)
}

// chatConns returns this node's connections subscribed to a chat.
func (h *hub) chatConns(chatID string) []*conn {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]*conn, 0, len(h.chats[chatID]))
	for c := range h.chats[chatID] {
		out = append(out, c)
	}
	return out
}

// allOperatorConns returns every operator connection of this node.
func (h *hub) allOperatorConns() []*conn {
	h.mu.RLock()
	defer h.mu.RUnlock()
	var out []*conn
	for _, set := range h.operators {
		for c := range set {
			out = append(out, c)
		}
	}
	return out
}
