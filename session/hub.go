package session

import (
	"sync"
	"sync/atomic"
)

// hub knows this node's connections: which receive a chat's live frames and
// which belong to an operator. It fans frames out to their send queues.
type hub struct {
	mu        sync.RWMutex
	chats     map[string]map[*conn]struct{}
	operators map[string]map[*conn]struct{}

	locksMu sync.Mutex
	locks   map[string]*chatLock
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
func (h *hub) subscribe(c *conn, chatID string, open bool) {
	c.mu.Lock()
	c.chats[chatID] = open
	c.mu.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	set := h.chats[chatID]
	if set == nil {
		set = map[*conn]struct{}{}
		h.chats[chatID] = set
	}
	set[c] = struct{}{}
}

func (h *hub) unsubscribe(c *conn, chatID string) {
	c.mu.Lock()
	delete(c.chats, chatID)
	c.mu.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	if set := h.chats[chatID]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(h.chats, chatID)
		}
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
	defer h.mu.Unlock()
	set := h.operators[c.operator.ID]
	if set == nil {
		set = map[*conn]struct{}{}
		h.operators[c.operator.ID] = set
	}
	set[c] = struct{}{}
}

// remove forgets a closed connection everywhere.
func (h *hub) remove(c *conn) {
	c.mu.Lock()
	chats := make([]string, 0, len(c.chats))
	for id := range c.chats {
		chats = append(chats, id)
	}
	c.mu.Unlock()
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
