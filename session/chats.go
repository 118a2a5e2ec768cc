package session

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store"
)

// resumePage is how many messages a resume reads from the store at a time.
const resumePage = 500

// checkBody validates a message body: not blank, at most MaxMessageBytes
// UTF-8 bytes (exactly the limit is allowed).
func (s *Server) checkBody(body *string) *protoError {
	if body == nil || strings.TrimSpace(*body) == "" {
		return badRequest("body", "body: must not be empty")
	}
	if n := len(*body); n > s.cfg.MaxMessageBytes {
		return &protoError{Code: "too_large", Field: "body",
			Message: fmt.Sprintf("body: %d bytes; at most %d UTF-8 bytes are allowed", n, s.cfg.MaxMessageBytes)}
	}
	if !utf8.ValidString(*body) {
		return badRequest("body", "body: not valid UTF-8")
	}
	return nil
}

func checkClientMsgID(id string) *protoError {
	if id == "" {
		return badRequest("client_msg_id", "client_msg_id: is required (a client-made id, unique per chat)")
	}
	if len(id) > 64 {
		return badRequest("client_msg_id", "client_msg_id: at most 64 characters")
	}
	return nil
}

// sendMessage appends a message, acks it to the sender (only after the
// store committed it), and publishes it to the chat's subscribers. The
// chat lock keeps publication in seq order.
//
// check, when not nil, runs under the chat lock before the append and may
// refuse it (the chat ended).
func (s *Server) sendMessage(ctx context.Context, sender *conn, ref string, m store.NewMessage, check func() error) error {
	// The sender hanging up must not cut an append from its publication: a
	// message the store committed but nobody was sent would surface only on
	// resume, and a retry (a duplicate) is not published again.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	start := time.Now()
	unlock := s.hub.lockChat(m.ChatID)
	defer unlock()
	if check != nil {
		if err := check(); err != nil {
			return err
		}
	}
	msg, dup, err := s.store.AppendMessage(ctx, m)
	if err != nil {
		return err
	}
	// Observed before the frames go out, so a client that saw them can
	// scrape counts that include them.
	if !dup {
		s.cfg.Metrics.MessageRelayed(string(m.FromKind))
	}
	if sender != nil {
		s.cfg.Metrics.MessageAcked(time.Since(start))
		sender.send(ack(ref, map[string]any{"chat_id": msg.ChatID, "seq": msg.Seq, "at": wireTime(msg.At)}))
	}
	if !dup { // a retry was published the first time; resume covers any loss
		s.hub.publishMessage(msg)
	}
	return nil
}

// systemMessage appends a notice that belongs in the transcript ("Alice
// joined the chat") and publishes it like any message.
func (s *Server) systemMessage(ctx context.Context, chatID, key, body string) {
	err := s.sendMessage(ctx, nil, "", store.NewMessage{
		ChatID: chatID, ClientMsgID: "system-" + switchboard.NewID(), FromKind: switchboard.FromSystem,
		FromID: key, FromName: "", Body: body,
	}, nil)
	if err != nil {
		s.log.Error("system message not stored", "chat_id", chatID, "err", err)
	}
}

// resume subscribes c to a chat and sends the ack, then every message after
// afterSeq in order, before any live message: the chat lock holds
// publication back until the backlog is queued.
func (s *Server) resume(ctx context.Context, c *conn, ref string, chat switchboard.Chat, afterSeq int64) error {
	unlock := s.hub.lockChat(chat.ID)
	defer unlock()
	if s.hub.cl != nil {
		// Joined before last_seq is read: every later message reaches us.
		s.hub.cl.acquire(chat.ID)
		defer s.hub.cl.release(chat.ID)
	}
	// Re-read under the lock: last_seq must match what the backlog holds.
	chat, err := s.store.Chat(ctx, chat.ID)
	if err != nil {
		return err
	}
	var backlog []switchboard.Message
	for after := afterSeq; after < chat.LastSeq; {
		page, err := s.store.Messages(ctx, chat.ID, after, resumePage)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			break
		}
		backlog = append(backlog, page...)
		after = page[len(page)-1].Seq
	}
	ackFrame := ack(ref, map[string]any{"chat_id": chat.ID, "status": chat.Status, "last_seq": chat.LastSeq})
	if s.hub.cl != nil {
		// Live messages come from other nodes outside the chat lock:
		// replay orders the backlog with them (cluster.go).
		s.hub.subscribeAt(c, chat.ID, chat.Status != switchboard.ChatCompleted, chat.LastSeq)
		s.hub.cl.replay(c, chat.ID, ackFrame, backlog, chat.LastSeq)
	} else {
		s.hub.subscribe(c, chat.ID, chat.Status != switchboard.ChatCompleted)
		c.sendForce(ackFrame)
		for _, m := range backlog {
			c.sendForce(encode(newMessageFrame(m)))
		}
	}
	s.sendPosition(c, chat)
	// Who answers now: an assignment published before this connection was
	// subscribed (a chat accepted within moments of its start) is not lost.
	if chat.Status == switchboard.ChatOngoing && chat.OperatorID != "" {
		if op, err := s.store.Operator(ctx, chat.OperatorID); err == nil {
			c.sendForce(assignedFrame(chat.ID, op.ID, op.Name))
		}
	}
	return nil
}

// endChat completes a chat: the store first, then a system message, the
// chat.ended frame to everyone in it, and the router.
func (s *Server) endChat(ctx context.Context, chatID string, by party, byName string) (switchboard.Chat, error) {
	unlock := s.hub.lockChat(chatID)
	chat, err := s.store.EndChat(ctx, chatID, switchboard.Now())
	if err == nil {
		s.hub.markEnded(chatID)
	}
	unlock()
	if err != nil {
		return chat, err
	}
	who := byName
	if who == "" {
		who = string(by.Kind)
	}
	s.systemMessage(ctx, chatID, "ended", fmt.Sprintf("%s ended the chat", who))
	s.hub.publishMarked(chatID, encode(map[string]any{"type": "chat.ended", "chat_id": chatID,
		"by": map[string]string{"kind": string(by.Kind), "id": by.ID}, "at": wireTime(*chat.EndedAt)}), "ended")
	s.router.Ended(chat)
	return chat, nil
}

// errEnded refuses a message to a chat that has ended.
var errEnded = &protoError{Code: "conflict", Field: "chat_id", Message: "the chat has ended"}

// stillOpen is sendMessage's check for a connection that takes part in the
// chat: it refuses once the chat ended.
func stillOpen(c *conn, chatID string) func() error {
	return func() error {
		if !c.active(chatID) {
			return errEnded
		}
		return nil
	}
}
