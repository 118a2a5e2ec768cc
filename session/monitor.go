package session

import (
	"context"
	"maps"
	"slices"
	"sync"

	"github.com/switchboard-chat/switchboard"
)

// monitors are the chats watched by supervisors (chat.monitor) on this
// node. A watcher is subscribed to the chat's frames in the hub as not
// taking part (false), so it never passes the participant fast path of
// message.send or typing; its watches are kept here.
type monitors struct {
	mu     sync.Mutex
	byConn map[*conn]map[string]bool
	count  map[string]int // chat id → watchers
}

// watch records that c watches chatID; it reports false if it already did.
func (m *monitors) watch(c *conn, chatID string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.byConn == nil {
		m.byConn, m.count = map[*conn]map[string]bool{}, map[string]int{}
	}
	set := m.byConn[c]
	if set == nil {
		set = map[string]bool{}
		m.byConn[c] = set
	}
	if set[chatID] {
		return false
	}
	set[chatID] = true
	m.count[chatID]++
	return true
}

// forget ends c's watch of chatID; it reports whether there was one.
func (m *monitors) forget(c *conn, chatID string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	set := m.byConn[c]
	if !set[chatID] {
		return false
	}
	delete(set, chatID)
	if len(set) == 0 {
		delete(m.byConn, c)
	}
	if m.count[chatID]--; m.count[chatID] <= 0 {
		delete(m.count, chatID)
	}
	return true
}

// forgetConn ends every watch of a closed connection.
func (m *monitors) forgetConn(c *conn) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id := range m.byConn[c] {
		if m.count[id]--; m.count[id] <= 0 {
			delete(m.count, id)
		}
	}
	delete(m.byConn, c)
}

func (m *monitors) watching(c *conn, chatID string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.byConn[c][chatID]
}

// Monitored returns the ids of the chats some supervisor on this node
// watches now, sorted.
func (s *Server) Monitored() []string {
	s.monitors.mu.Lock()
	defer s.monitors.mu.Unlock()
	return slices.Sorted(maps.Keys(s.monitors.count))
}

// monitorChat handles chat.monitor for supervisors and admins: on=true
// subscribes the connection as a watcher, then sends the ack, the chat's
// backlog and its live frames; the visitor sees nothing. on=false ends it.
func (s *Server) monitorChat(ctx context.Context, c *conn, f *inFrame) ([]byte, error) {
	if !isSupervisor(c) {
		return nil, &protoError{Code: "forbidden", Field: "type", Message: "only supervisors and admins can monitor chats"}
	}
	if f.On == nil {
		return nil, badRequest("on", "on: true or false is required")
	}
	if !*f.On {
		unlock := s.hub.lockChat(f.ChatID)
		if s.monitors.forget(c, f.ChatID) && !c.active(f.ChatID) {
			s.hub.unsubscribe(c, f.ChatID)
		}
		unlock()
		return ack(f.Ref, map[string]any{"chat_id": f.ChatID, "on": false}), nil
	}
	chat, err := s.store.Chat(ctx, f.ChatID)
	if err != nil {
		return nil, err
	}
	// Under the chat lock, as a resume: no message falls between the
	// backlog and the live stream.
	unlock := s.hub.lockChat(chat.ID)
	defer unlock()
	if s.hub.cl != nil {
		s.hub.cl.acquire(chat.ID)
		defer s.hub.cl.release(chat.ID)
	}
	if c.active(chat.ID) { // a participant sees everything already
		return ack(f.Ref, map[string]any{"chat_id": chat.ID, "on": true}), nil
	}
	if chat, err = s.store.Chat(ctx, chat.ID); err != nil {
		return nil, err
	}
	var backlog []switchboard.Message
	for after := int64(0); after < chat.LastSeq; {
		page, err := s.store.Messages(ctx, chat.ID, after, resumePage)
		if err != nil {
			return nil, err
		}
		if len(page) == 0 {
			break
		}
		backlog = append(backlog, page...)
		after = page[len(page)-1].Seq
	}
	s.monitors.watch(c, chat.ID)
	ackFrame := ack(f.Ref, map[string]any{"chat_id": chat.ID, "on": true, "status": chat.Status, "last_seq": chat.LastSeq})
	if s.hub.cl != nil {
		s.hub.subscribeAt(c, chat.ID, false, chat.LastSeq)
		s.hub.cl.replay(c, chat.ID, ackFrame, backlog, chat.LastSeq)
		return nil, nil
	}
	s.hub.subscribe(c, chat.ID, false)
	c.sendForce(ackFrame)
	for _, m := range backlog {
		c.sendForce(encode(newMessageFrame(m)))
	}
	return nil, nil
}
