package session

import (
	"context"
	"fmt"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/clientip"
)

// errBlocked refuses chat.start from an address blocked after it connected.
var errBlocked = &protoError{Code: "blocked", Message: "your address is blocked"}

// visitorBlock serves visitor.block {chat_id, reason?, expires_at?}: the
// chat's operator (or a supervisor or admin) blocks the chat's visitor IP
// for the chat's department. The block is stored (with its notification
// mail), the chat ends, and the visitor's sockets from that IP on this node
// are closed with 1008.
func (s *Server) visitorBlock(ctx context.Context, c *conn, f *inFrame) ([]byte, error) {
	op := c.operator
	if perr := f.requireChat(); perr != nil {
		return nil, perr
	}
	reason, perr := optText("reason", f.Reason, 1000, false)
	if perr != nil {
		return nil, perr
	}
	var expires *time.Time
	if f.ExpiresAt != nil && *f.ExpiresAt != "" {
		t, err := time.Parse(time.RFC3339Nano, *f.ExpiresAt)
		if err != nil {
			return nil, badRequest("expires_at", "expires_at: must be an RFC 3339 time")
		}
		expires = &t
	}
	chat, err := s.store.Chat(ctx, f.ChatID)
	if err != nil {
		return nil, err
	}
	if chat.OperatorID != op.ID && !op.Role.AtLeast(switchboard.RoleSupervisor) {
		return nil, &protoError{Code: "forbidden", Field: "chat_id", Message: "you can only block the visitor of a chat assigned to you"}
	}
	if chat.VisitorIP == "" {
		return nil, &protoError{Code: "conflict", Field: "chat_id", Message: "the chat has no visitor address to block"}
	}
	prefix, err := clientip.ParsePrefix(chat.VisitorIP)
	if err != nil {
		return nil, &protoError{Code: "conflict", Field: "chat_id", Message: "the chat's visitor address cannot be blocked"}
	}
	b := switchboard.BlockedIP{IP: chat.VisitorIP, Reason: reason, DepartmentID: chat.DepartmentID,
		ChatID: chat.ID, CreatedBy: op.ID, ExpiresAt: expires}
	if err := s.store.CreateBlock(ctx, &b); err != nil {
		return nil, err
	}
	c.log.Info("visitor blocked", "chat_id", chat.ID, "ip", b.IP, "block_id", b.ID)
	if chat.Status.Open() {
		// The work below must not stop halfway because the operator hung up.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		s.systemMessage(ctx, chat.ID, "blocked", fmt.Sprintf("%s blocked the visitor", op.Name))
		if _, err := s.endChat(ctx, chat.ID, party{Kind: switchboard.FromOperator, ID: op.ID}, op.Name); err != nil {
			c.log.Error("visitor.block: end chat", "chat_id", chat.ID, "err", err)
		}
	}
	s.closeBlocked(prefix, chat.DepartmentID)
	return ack(f.Ref, map[string]any{"chat_id": chat.ID, "ip": b.IP, "block_id": b.ID}), nil
}
