package session

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/auth"
	"github.com/switchboard-chat/switchboard/store"
)

// Operator returns the handler of GET /ws/operator (session cookie, bearer
// token, or ?ticket= from POST /api/ws-ticket).
func (s *Server) Operator() http.Handler {
	return http.HandlerFunc(s.serveOperator)
}

func (s *Server) serveOperator(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	// Cross-site WebSocket hijacking needs a browser, and browsers always
	// send Origin: when present it must be the console's.
	if o := r.Header.Get("Origin"); o != "" && !s.consoleOrigin(o, r.Host) {
		httpError(w, http.StatusForbidden, "forbidden", "origin not allowed")
		return
	}
	var (
		op       switchboard.Operator
		sessHash string
		err      error
	)
	if t := r.URL.Query().Get("ticket"); t != "" {
		var opID string
		opID, sessHash, err = s.store.ConsumeTicket(ctx, auth.HashToken(t), s.now())
		if err == nil {
			_, op, err = s.store.SessionOperator(ctx, sessHash, s.now())
			if err == nil && op.ID != opID {
				err = switchboard.ErrNotFound
			}
		}
	} else {
		op, sessHash, err = s.cfg.Authenticate(r)
	}
	if err != nil {
		if errors.Is(err, switchboard.ErrNotFound) || errors.Is(err, switchboard.ErrUnauthorized) {
			httpError(w, http.StatusUnauthorized, "unauthorized", "log in first (cookie, bearer token or a fresh ticket)")
		} else {
			s.log.Error("operator upgrade: authenticate", "err", err)
			httpError(w, http.StatusServiceUnavailable, "unavailable", "try again")
		}
		return
	}
	ip := s.cfg.IPs.IP(r).String()
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true}) // Origin checked above
	if err != nil {
		return
	}
	c := s.newConn(context.WithoutCancel(ctx), ws, ip)
	c.operator = &op
	c.sessHash = sessHash
	c.log = s.log.With("operator_id", op.ID)

	s.hub.addOperator(c)
	status, err := s.router.Connect(ctx, op.ID)
	if err != nil {
		s.hub.remove(c)
		c.log.Error("operator connect", "err", err)
		ws.Close(websocket.StatusInternalError, "try again")
		return
	}
	hello, err := s.operatorHello(ctx, op, status)
	if err != nil {
		s.hub.remove(c)
		s.router.Disconnect(op.ID)
		c.log.Error("operator hello", "err", err)
		ws.Close(websocket.StatusInternalError, "try again")
		return
	}
	go s.watchSession(c)
	s.serveConn(c, hello, s.handleOperatorFrame, func() { s.router.Disconnect(op.ID); s.monitors.forgetConn(c) })
}

func (s *Server) operatorMessage(op *switchboard.Operator, f *inFrame) store.NewMessage {
	return store.NewMessage{ChatID: f.ChatID, ClientMsgID: f.ClientMsgID,
		FromKind: switchboard.FromOperator, FromID: op.ID, FromName: op.Name, Body: *f.Body}
}

func (s *Server) consoleOrigin(origin, host string) bool {
	canon, err := switchboard.CanonicalOrigin(origin)
	if err != nil {
		return false
	}
	if canon == s.cfg.ConsoleOrigin {
		return true
	}
	_, h, _ := strings.Cut(canon, "://")
	return strings.EqualFold(h, host)
}

func (s *Server) operatorHello(ctx context.Context, op switchboard.Operator, status switchboard.Status) ([]byte, error) {
	depts := make([]map[string]any, 0, len(op.DepartmentIDs))
	for _, id := range op.DepartmentIDs {
		d, err := s.store.Department(ctx, id)
		if errors.Is(err, switchboard.ErrNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		depts = append(depts, map[string]any{"id": d.ID, "name": d.Name, "visibility": d.Visibility})
	}
	chats, err := s.store.OperatorOpenChats(ctx, op.ID)
	if err != nil {
		return nil, err
	}
	return encode(map[string]any{
		"type":        "hello",
		"operator":    map[string]any{"id": op.ID, "name": op.Name, "role": op.Role},
		"departments": depts,
		"status":      status,
		"chats":       chatRefs(chats),
	}), nil
}

// watchSession closes the socket within SessionCheck of a logout, a
// disabled account or a password change (4401).
func (s *Server) watchSession(c *conn) {
	t := time.NewTicker(s.cfg.SessionCheck)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
		_, op, err := s.store.SessionOperator(ctx, c.sessHash, s.now())
		cancel()
		if errors.Is(err, switchboard.ErrNotFound) || (err == nil && !op.Enabled) {
			c.shutdown(closeSessionExpired, "session ended; log in again")
			return
		}
	}
}

func (s *Server) handleOperatorFrame(c *conn, f *inFrame) ([]byte, error) {
	ctx, cancel := c.opCtx()
	defer cancel()
	op := c.operator
	switch f.Type {
	case "status.set":
		st := switchboard.Status(f.Status)
		if st != switchboard.StatusOnline && st != switchboard.StatusAway && st != switchboard.StatusOffline {
			return nil, badRequest("status", `status: must be "online", "away" or "offline"`)
		}
		if err := s.router.SetStatus(ctx, op.ID, st); err != nil {
			return nil, err
		}
		return ack(f.Ref, map[string]any{"status": st}), nil
	case "visitor.block":
		return s.visitorBlock(ctx, c, f)
	case "chat.accept", "chat.decline", "message.send", "typing", "chat.resume", "chat.end", "chat.transfer", "chat.monitor":
	default:
		return nil, unknownType(f.Type)
	}
	if perr := f.requireChat(); perr != nil {
		return nil, perr
	}
	switch f.Type {
	case "chat.transfer":
		return s.transferChat(ctx, c, f)
	case "chat.monitor":
		return s.monitorChat(ctx, c, f)
	case "chat.accept":
		chat, err := s.router.Accept(ctx, op.ID, f.ChatID)
		if errors.Is(err, switchboard.ErrAlreadyTaken) && isSupervisor(c) { // take-over
			chat, err = s.router.TakeOver(ctx, *op, f.ChatID)
		}
		if err != nil {
			return nil, err
		}
		return ack(f.Ref, map[string]any{"chat_id": chat.ID}), nil
	case "chat.decline":
		if err := s.router.Decline(ctx, op.ID, f.ChatID); err != nil {
			return nil, err
		}
		return ack(f.Ref, map[string]any{"chat_id": f.ChatID}), nil
	}

	me := party{Kind: switchboard.FromOperator, ID: op.ID, Name: op.Name}
	// The hot frames of a chat this connection is assigned need no store
	// read: it was subscribed when the chat was assigned to the operator.
	if c.active(f.ChatID) {
		switch f.Type {
		case "message.send":
			if perr := s.checkMessage(f); perr != nil {
				return nil, perr
			}
			return nil, s.sendMessage(ctx, c, f.Ref, s.operatorMessage(op, f), stillOpen(c, f.ChatID))
		case "typing":
			s.typing(c, f.ChatID, f.On, me)
			return nil, nil
		}
	}
	chat, err := s.store.Chat(ctx, f.ChatID)
	if err != nil {
		return nil, err
	}
	mine := chat.OperatorID == op.ID && chat.Status == switchboard.ChatOngoing
	switch f.Type {
	case "message.send":
		if perr := s.checkMessage(f); perr != nil {
			return nil, perr
		}
		if !mine {
			return nil, &protoError{Code: "forbidden", Field: "chat_id", Message: "you can only write in chats assigned to you"}
		}
		return nil, s.sendMessage(ctx, c, f.Ref, s.operatorMessage(op, f), nil)
	case "typing":
		if !mine {
			return nil, &protoError{Code: "forbidden", Field: "chat_id", Message: "not your chat"}
		}
		s.typing(c, chat.ID, f.On, me)
		return nil, nil
	case "chat.resume":
		if f.AfterSeq == nil || *f.AfterSeq < 0 {
			return nil, badRequest("after_seq", "after_seq: a number ≥ 0 is required")
		}
		if chat.OperatorID != op.ID {
			return nil, &protoError{Code: "forbidden", Field: "chat_id", Message: "not your chat"}
		}
		return nil, s.resume(ctx, c, f.Ref, chat, *f.AfterSeq)
	case "chat.end":
		if !mine {
			return nil, &protoError{Code: "forbidden", Field: "chat_id", Message: "not your chat"}
		}
		if _, err := s.endChat(ctx, chat.ID, party{Kind: switchboard.FromOperator, ID: op.ID}, op.Name); err != nil {
			return nil, err
		}
		return ack(f.Ref, map[string]any{"chat_id": chat.ID}), nil
	}
	return nil, unknownType(f.Type)
}
