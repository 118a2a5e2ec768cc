package session

import (
	"context"
	"errors"
	"fmt"

	"github.com/switchboard-chat/switchboard"
)

// Reopened publishes that a completed or missed chat is open again (the
// store already reopened it) and hands it to the router: a queued chat is
// routed like a new one, a chat reopened to an operator becomes theirs.
// byName says who reopened it, for the transcript. Connections that still
// follow the chat take messages in it again.
func (s *Server) Reopened(ctx context.Context, chat switchboard.Chat, byName string) error {
	unlock := s.hub.lockChat(chat.ID)
	s.hub.markOpen(chat.ID)
	s.hub.publishMarked(chat.ID, encode(map[string]any{"type": "chat.reopened", "chat_id": chat.ID}), "open")
	unlock()
	s.systemMessage(ctx, chat.ID, "reopened", fmt.Sprintf("%s reopened the chat", byName))
	if err := s.router.Reopened(ctx, chat); err != nil {
		return fmt.Errorf("session: route reopened chat %s: %w", chat.ID, err)
	}
	return nil
}

// visitorReopen serves chat.reopen: a visitor who comes back to its own
// completed or missed chat opens it again. It is routed like a new chat
// (and counts as one against the per-IP limit); the ack carries the new
// status, and the connection follows the chat from then on. Reopening an
// open chat just acks it.
func (s *Server) visitorReopen(ctx context.Context, c *conn, ref string, chat switchboard.Chat) ([]byte, error) {
	if chat.Status.Open() {
		return ack(ref, map[string]any{"chat_id": chat.ID, "status": chat.Status}), nil
	}
	d, err := s.store.Department(ctx, chat.DepartmentID)
	if err != nil {
		return nil, err
	}
	if !d.Enabled {
		return nil, switchboard.ErrDepartmentDisabled
	}
	if err := s.admitChat(ctx, c, chat.DepartmentID); err != nil {
		return nil, err
	}
	reopened, err := s.store.ReopenChat(ctx, chat.ID, "", s.now())
	if errors.Is(err, switchboard.ErrConflict) {
		// Reopened by someone else a moment ago: answer with what it is now.
		if reopened, err = s.store.Chat(ctx, chat.ID); err == nil {
			return ack(ref, map[string]any{"chat_id": reopened.ID, "status": reopened.Status}), nil
		}
	}
	if err != nil {
		return nil, err
	}
	c.send(ack(ref, map[string]any{"chat_id": reopened.ID, "status": reopened.Status}))
	// Subscribed (again) before the chat.reopened frame and the notice, so
	// this connection sees both.
	s.hub.subscribeAt(c, reopened.ID, true, reopened.LastSeq)
	name := c.visitor.Name
	if name == "" {
		name = "The visitor"
	}
	if err := s.Reopened(ctx, reopened, name); err != nil {
		// The chat is queued in the store; a router rebuild picks it up.
		s.log.Error("route reopened chat", "chat_id", reopened.ID, "err", err)
	}
	return nil, nil
}
