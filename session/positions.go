package session

import (
	"sync"

	"github.com/switchboard-chat/switchboard"
)

// positioner is the router's read of its queues (router.Router is one).
type positioner interface {
	// Positions returns the department's queued chat ids, front first.
	Positions(departmentID string) []string
}

// positions remembers the queue position last told to each waiting chat,
// so that a visitor is told only when its position changes.
type positions struct {
	mu    sync.Mutex
	chats map[string]map[string]int // department id → chat id → position (1 = next)
}

// queuePositions tells the visitors of the department's waiting chats
// their new positions (a queue frame {chat_id, position}), coalesced per
// chat: a slow visitor gets only its latest position.
func (s *Server) queuePositions(departmentID string) {
	p, ok := s.router.(positioner)
	if !ok {
		return
	}
	ids := p.Positions(departmentID)
	s.positions.mu.Lock()
	if s.positions.chats == nil {
		s.positions.chats = map[string]map[string]int{}
	}
	old := s.positions.chats[departmentID]
	now := make(map[string]int, len(ids))
	type change struct {
		chatID string
		pos    int
	}
	var changed []change
	for i, id := range ids {
		now[id] = i + 1
		if old[id] != i+1 {
			changed = append(changed, change{id, i + 1})
		}
	}
	if len(now) == 0 {
		delete(s.positions.chats, departmentID)
	} else {
		s.positions.chats[departmentID] = now
	}
	s.positions.mu.Unlock()
	for _, ch := range changed {
		frame := queueFrame(ch.chatID, ch.pos)
		for _, c := range s.hub.visitorConns(ch.chatID) {
			c.sendLatest("queue:"+ch.chatID, frame)
		}
	}
}

// sendPosition tells a visitor connection that just joined a queued chat
// its current position (a change published before it joined is not lost).
func (s *Server) sendPosition(c *conn, chat switchboard.Chat) {
	p, ok := s.router.(positioner)
	if !ok || c.visitor == nil || chat.Status != switchboard.ChatQueued {
		return
	}
	for i, id := range p.Positions(chat.DepartmentID) {
		if id == chat.ID {
			c.sendLatest("queue:"+chat.ID, queueFrame(chat.ID, i+1))
			return
		}
	}
}

func queueFrame(chatID string, position int) []byte {
	return encode(map[string]any{"type": "queue", "chat_id": chatID, "position": position})
}

// visitorConns returns the visitor connections subscribed to a chat.
func (h *hub) visitorConns(chatID string) []*conn {
	h.mu.RLock()
	defer h.mu.RUnlock()
	var out []*conn
	for c := range h.chats[chatID] {
		if c.visitor != nil {
			out = append(out, c)
		}
	}
	return out
}
