package session

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/router"
)

// maxNoteLen is the longest transfer note, in UTF-8 bytes.
const maxNoteLen = 1000

// The Server is told of transfers too.
var _ router.TransferNotifier = (*Server)(nil)

// transferChat handles chat.transfer: the ack comes once the offer is out.
func (s *Server) transferChat(ctx context.Context, c *conn, f *inFrame) ([]byte, error) {
	if (f.DepartmentID == "") == (f.OperatorID == "") {
		return nil, badRequest("department_id", "department_id or operator_id: give exactly one")
	}
	if len(f.Note) > maxNoteLen || !utf8.ValidString(f.Note) {
		return nil, badRequest("note", "note: at most %d bytes of UTF-8", maxNoteLen)
	}
	err := s.router.Transfer(ctx, router.TransferRequest{ChatID: f.ChatID, By: *c.operator,
		DepartmentID: f.DepartmentID, OperatorID: f.OperatorID, Note: f.Note})
	if err != nil {
		return nil, err
	}
	return ack(f.Ref, map[string]any{"chat_id": f.ChatID}), nil
}

// transferOrigin is the transfer field of a chat.offer frame.
func transferOrigin(t *router.TransferOrigin) any {
	if t == nil {
		return nil
	}
	return map[string]any{
		"from_operator":   idName{ID: t.FromOperator.ID, Name: t.FromOperator.Name},
		"from_department": idName{ID: t.FromDepartment.ID, Name: t.FromDepartment.Name},
		"note":            t.Note,
	}
}

// Transferred moves the chat's subscriptions from the first operator's
// connections (which get chat.transferred) to the new operator's (which get
// chat.transferred and chat.assigned); the visitor gets chat.assigned only,
// with nothing about departments, and a system message records the hop.
func (s *Server) Transferred(m router.Move) {
	chatID := m.Chat.ID
	to := m.To
	if to.Name == "" {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if op, err := s.store.Operator(ctx, to.ID); err == nil {
			to = op
		}
		cancel()
	}
	frame := encode(map[string]any{
		"type":            "chat.transferred",
		"chat_id":         chatID,
		"from_department": idName{ID: m.Hop.FromDepartmentID, Name: m.FromDepartmentName},
		"to_department":   idName{ID: m.Chat.DepartmentID, Name: m.Chat.DepartmentName},
		"to_operator":     idName{ID: to.ID, Name: to.Name},
		"from_operator":   idName{ID: m.From.ID, Name: m.From.Name},
		"note":            m.Hop.Note,
	})
	unlock := s.hub.lockChat(chatID)
	if s.hub.cl != nil {
		s.hub.cl.toOperator(envelope{Op: m.From.ID, Chat: chatID, Frame: frame, Unsub: true})
		s.hub.cl.toOperator(envelope{Op: to.ID, Chat: chatID, Frame: frame, Sub: true, Take: true, Seq: m.Chat.LastSeq})
	} else {
		for _, c := range s.hub.operatorConns(m.From.ID) {
			c.send(frame)
			s.hub.unsubscribe(c, chatID)
		}
		for _, c := range s.hub.operatorConns(to.ID) {
			s.monitors.forget(c, chatID) // a watcher that takes the chat over is a participant now
			s.hub.subscribe(c, chatID, true)
			c.send(frame)
		}
	}
	s.hub.publish(chatID, assignedFrame(chatID, to.ID, to.Name), nil)
	unlock()
	body := fmt.Sprintf("The chat was transferred to %s", to.Name)
	if m.Hop.Note == router.TakeOverNote {
		body = fmt.Sprintf("%s took over the chat", to.Name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.systemMessage(ctx, chatID, "transferred", body)
}

// TransferFailed sends chat.transfer_failed to the operators concerned.
func (s *Server) TransferFailed(chatID string, operatorIDs []string, reason string) {
	frame := encode(map[string]any{"type": "chat.transfer_failed", "chat_id": chatID, "reason": reason})
	for _, id := range operatorIDs {
		s.toOperator(id, frame)
	}
}

// isSupervisor reports whether the connection's operator may supervise.
func isSupervisor(c *conn) bool {
	return c.operator != nil && c.operator.Role.AtLeast(switchboard.RoleSupervisor)
}
