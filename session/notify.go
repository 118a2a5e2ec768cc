package session

import (
	"context"
	"fmt"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/router"
)

// The Server is the router's Notifier: it turns the router's decisions
// into frames on this node's connections.
var _ router.Notifier = (*Server)(nil)

// Offer sends chat.offer to every connection of the operator.
func (s *Server) Offer(operatorID string, o router.Offer) {
	s.hub.toOperator(operatorID, encode(map[string]any{
		"type":       "chat.offer",
		"chat_id":    o.Chat.ID,
		"department": idName{ID: o.Department.ID, Name: o.Department.Name},
		"visitor": map[string]string{"id": o.Visitor.ID, "name": o.Visitor.Name, "email": o.Visitor.Email,
			"ip": o.Visitor.IP, "page_url": o.Visitor.PageURL},
		"question":   o.Chat.Question,
		"expires_at": wireTime(o.ExpiresAt),
		"transfer":   transferOrigin(o.Transfer),
	}))
}

// RevokeOffer sends chat.offer_revoked.
func (s *Server) RevokeOffer(operatorID, chatID, reason string) {
	s.hub.toOperator(operatorID, encode(map[string]any{"type": "chat.offer_revoked", "chat_id": chatID, "reason": reason}))
}

// Assigned subscribes the operator's connections to the chat, tells the
// chat's participants who answers, and records it in the transcript.
func (s *Server) Assigned(chat switchboard.Chat, op switchboard.Operator) {
	// Under the chat lock, so a visitor's resume (which also reports the
	// assignment) and this publication cannot interleave.
	unlock := s.hub.lockChat(chat.ID)
	if s.hub.cl != nil {
		s.hub.cl.toOperator(envelope{Op: op.ID, Chat: chat.ID, Sub: true, Seq: chat.LastSeq})
	} else {
		for _, c := range s.hub.operatorConns(op.ID) {
			s.hub.subscribe(c, chat.ID, true)
		}
	}
	s.hub.publish(chat.ID, assignedFrame(chat.ID, op.ID, op.Name), nil)
	unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.systemMessage(ctx, chat.ID, "joined", fmt.Sprintf("%s joined the chat", op.Name))
}

// Missed tells the visitor nobody answered; it can still leave a message.
func (s *Server) Missed(chat switchboard.Chat) {
	s.hub.publish(chat.ID, encode(map[string]any{"type": "chat.missed", "chat_id": chat.ID}), nil)
}

// Requeued takes the chat from the operator who went offline and tells the
// visitor it waits for someone else.
func (s *Server) Requeued(chat switchboard.Chat, from switchboard.Operator) {
	frame := encode(map[string]any{"type": "chat.requeued", "chat_id": chat.ID})
	if s.hub.cl != nil {
		s.hub.cl.toOperator(envelope{Op: from.ID, Chat: chat.ID, Frame: frame, Unsub: true})
	} else {
		for _, c := range s.hub.operatorConns(from.ID) {
			c.send(frame)
			s.hub.unsubscribe(c, chat.ID)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.systemMessage(ctx, chat.ID, "requeued", fmt.Sprintf("%s left; waiting for another operator", from.Name))
}

// QueueChanged sends the department's waiting count to its operators.
func (s *Server) QueueChanged(departmentID string, waiting int, operatorIDs []string) {
	frame := encode(map[string]any{"type": "queue", "department_id": departmentID, "waiting": waiting})
	for _, id := range operatorIDs {
		for _, c := range s.hub.operatorConns(id) {
			c.sendLatest("queue:"+departmentID, frame)
		}
	}
	s.queuePositions(departmentID)
}

func assignedFrame(chatID, opID, opName string) []byte {
	return encode(map[string]any{"type": "chat.assigned", "chat_id": chatID, "operator": idName{ID: opID, Name: opName}})
}
