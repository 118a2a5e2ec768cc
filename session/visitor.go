package session

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strings"

	"github.com/coder/websocket"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store"
)

// Visitor returns the handler of GET /ws/visitor?widget=KEY[&token=T].
func (s *Server) Visitor() http.Handler {
	return http.HandlerFunc(s.serveVisitor)
}

func (s *Server) serveVisitor(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	dept, err := s.store.DepartmentByWidgetKey(ctx, r.URL.Query().Get("widget"))
	if err == nil && (dept.Visibility != switchboard.Public || !dept.Enabled) {
		err = switchboard.ErrNotFound // never hint that a private or disabled department exists
	}
	if errors.Is(err, switchboard.ErrNotFound) {
		httpError(w, http.StatusNotFound, "not_found", "no such widget")
		return
	} else if err != nil {
		s.log.Error("visitor upgrade: load department", "err", err)
		httpError(w, http.StatusServiceUnavailable, "unavailable", "try again")
		return
	}
	// The server's own pages (the widget demo at /demo) may always embed
	// it: they are not a third-party site.
	if !originAllowed(r.Header.Get("Origin"), dept.AllowedOrigins) && !s.consoleOrigin(r.Header.Get("Origin"), r.Host) {
		httpError(w, http.StatusForbidden, "forbidden", "this site may not embed the widget (origin not allowed)")
		return
	}
	addr := s.cfg.IPs.IP(r)
	ip := addr.String()
	if blocked, err := s.store.IPBlocked(ctx, addr, dept.ID, s.now()); err != nil {
		s.log.Error("visitor upgrade: check blocked ip", "err", err)
		httpError(w, http.StatusServiceUnavailable, "unavailable", "try again")
		return
	} else if blocked {
		httpError(w, http.StatusForbidden, "blocked", "your address is blocked")
		return
	}
	if !s.reserveIP(ip) {
		s.cfg.Metrics.RateLimited("sockets_per_ip")
		httpError(w, http.StatusTooManyRequests, "rate_limited", "too many open connections from your address")
		return
	}
	defer s.releaseIP(ip)

	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true}) // Origin checked above
	if err != nil {
		return
	}
	c := s.newConn(context.WithoutCancel(ctx), ws, ip)
	c.deptID = dept.ID
	c.log = s.log.With("visitor_ip", ip, "department_id", dept.ID)

	// A returning visitor keeps its identity; a bad token is refused (4001)
	// so the widget can drop it and start afresh.
	var v switchboard.Visitor
	if tok := r.URL.Query().Get("token"); tok != "" {
		id, err := s.cfg.VisitorTokens.Verify(tok, s.now())
		if err == nil {
			v, err = s.store.Visitor(ctx, id)
			if errors.Is(err, switchboard.ErrNotFound) {
				v, err = switchboard.Visitor{ID: id}, nil // known token, never stored a chat
			}
		}
		if err != nil {
			ws.Close(closeTokenInvalid, "visitor token invalid or expired")
			return
		}
	} else {
		v.ID = switchboard.NewID()
	}
	v.IP = ip
	v.UserAgent = truncate(r.UserAgent(), 512)
	if l := acceptLanguage(r.Header.Get("Accept-Language")); l != "" || v.Locale == "" {
		v.Locale = l
	}
	c.visitor = &v

	open, err := s.store.VisitorOpenChats(ctx, v.ID)
	if err != nil {
		c.log.Error("visitor hello: open chats", "err", err)
		ws.Close(websocket.StatusInternalError, "try again")
		return
	}
	mine := open[:0]
	for _, ch := range open {
		if ch.DepartmentID == dept.ID {
			mine = append(mine, ch)
		}
	}
	hello := encode(map[string]any{
		"type":          "hello",
		"visitor_id":    v.ID,
		"visitor_token": s.cfg.VisitorTokens.Sign(v.ID, s.now()),
		"department":    idName{ID: dept.ID, Name: dept.Name},
		"online":        s.router.DepartmentOnline(dept.ID),
		"chats":         chatRefs(mine),
	})
	s.visitors.add(c, VisitorPresence{VisitorID: v.ID, Name: v.Name, DepartmentID: dept.ID, PageURL: v.PageURL,
		IP: ip, ConnectedAt: switchboard.Now()})
	s.putVisitor(c)
	s.serveConn(c, hello, s.handleVisitorFrame, func() { s.visitors.remove(c); s.removeVisitor(c) })
}

// originAllowed: an empty list allows any origin; else the Origin header
// must equal one entry exactly (scheme, host and port).
func originAllowed(origin string, allowed []string) bool {
	if len(allowed) == 0 {
		return true
	}
	canon, err := switchboard.CanonicalOrigin(origin)
	if err != nil {
		return false
	}
	for _, a := range allowed {
		if a == canon {
			return true
		}
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

func (s *Server) handleVisitorFrame(c *conn, f *inFrame) ([]byte, error) {
	ctx, cancel := c.opCtx()
	defer cancel()
	switch f.Type {
	case "chat.start":
		return s.visitorStart(c, f)
	case "visitor.update":
		return s.visitorUpdate(c, f)
	}
	// Every other frame is about one of the visitor's own chats.
	if perr := f.requireChat(); perr != nil {
		if f.Type != "message.send" && f.Type != "typing" && f.Type != "chat.resume" && f.Type != "chat.end" && f.Type != "feedback" && f.Type != "chat.reopen" {
			return nil, unknownType(f.Type)
		}
		return nil, perr
	}
	// The hot frames of a chat this connection already takes part in need
	// no store read: subscribing proved the chat is the visitor's.
	if c.subscribed(f.ChatID) {
		switch f.Type {
		case "message.send":
			if perr := s.checkMessage(f); perr != nil {
				return nil, perr
			}
			return nil, s.sendMessage(ctx, c, f.Ref, s.visitorMessage(c, f), stillOpen(c, f.ChatID))
		case "typing":
			s.typing(c, f.ChatID, f.On, party{Kind: switchboard.FromVisitor, ID: c.visitor.ID, Name: c.visitor.Name})
			return nil, nil
		}
	}
	chat, err := s.store.Chat(ctx, f.ChatID)
	if err == nil && chat.VisitorID != c.visitor.ID {
		err = switchboard.ErrNotFound // someone else's chat looks like no chat
	}
	switch f.Type {
	case "message.send":
		if perr := s.checkMessage(f); perr != nil {
			return nil, perr
		}
		if err != nil {
			return nil, err
		}
		if chat.Status == switchboard.ChatCompleted {
			return nil, errEnded
		}
		// Missed chats still take the visitor's messages: they are left for follow-up.
		return nil, s.sendMessage(ctx, c, f.Ref, s.visitorMessage(c, f), nil)
	case "typing":
		if err != nil {
			return nil, err
		}
		return nil, &protoError{Code: "conflict", Field: "chat_id", Message: "resume the chat first"}
	case "chat.resume":
		if f.AfterSeq == nil || *f.AfterSeq < 0 {
			return nil, badRequest("after_seq", "after_seq: a number ≥ 0 is required")
		}
		if err != nil {
			return nil, err
		}
		return nil, s.resume(ctx, c, f.Ref, chat, *f.AfterSeq)
	case "chat.end":
		if err != nil {
			return nil, err
		}
		if !chat.Status.Open() {
			return ack(f.Ref, map[string]any{"chat_id": chat.ID}), nil // ending twice is harmless
		}
		if _, err := s.endChat(ctx, chat.ID, party{Kind: switchboard.FromVisitor, ID: c.visitor.ID}, c.visitor.Name); err != nil {
			return nil, err
		}
		return ack(f.Ref, map[string]any{"chat_id": chat.ID}), nil
	case "chat.reopen":
		if err != nil {
			return nil, err
		}
		return s.visitorReopen(ctx, c, f.Ref, chat)
	case "feedback":
		if f.Rating == nil || *f.Rating < 1 || *f.Rating > 5 {
			return nil, badRequest("rating", "rating: a whole number from 1 to 5 is required")
		}
		comment, perr := optText("comment", f.Comment, 2000, false)
		if perr != nil {
			return nil, perr
		}
		if err != nil {
			return nil, err
		}
		if err := s.store.SaveFeedback(ctx, switchboard.Feedback{ChatID: chat.ID, Rating: *f.Rating, Comment: comment, CreatedAt: switchboard.Now()}); err != nil {
			return nil, err
		}
		return ack(f.Ref, map[string]any{"chat_id": chat.ID}), nil
	}
	return nil, unknownType(f.Type)
}

func (s *Server) checkMessage(f *inFrame) *protoError {
	if perr := checkClientMsgID(f.ClientMsgID); perr != nil {
		return perr
	}
	return s.checkBody(f.Body)
}

func (s *Server) visitorMessage(c *conn, f *inFrame) store.NewMessage {
	return store.NewMessage{ChatID: f.ChatID, ClientMsgID: f.ClientMsgID,
		FromKind: switchboard.FromVisitor, FromID: c.visitor.ID, FromName: c.visitor.Name, Body: *f.Body}
}

// typing relays a typing indicator to the chat's other connections.
func (s *Server) typing(c *conn, chatID string, on *bool, from party) {
	s.hub.publish(chatID, encode(map[string]any{"type": "typing", "chat_id": chatID, "from": from, "on": on != nil && *on}), c)
}

// visitorDetails validates name, email and page_url of chat.start and
// visitor.update onto v.
func visitorDetails(v *switchboard.Visitor, f *inFrame) *protoError {
	name, perr := optText("name", f.Name, switchboard.MaxNameLength, true)
	if perr != nil {
		return perr
	}
	email, perr := optText("email", f.Email, 254, true)
	if perr != nil {
		return perr
	}
	if email != "" {
		if _, err := switchboard.ParseAddress(email); err != nil {
			return badRequest("email", "email: %v", err)
		}
	}
	page, perr := optText("page_url", f.PageURL, 2048, true)
	if perr != nil {
		return perr
	}
	if f.Locale != nil {
		switch *f.Locale {
		case "en", "ja":
			v.Locale = *f.Locale
		case "":
		default:
			return badRequest("locale", "locale: must be \"en\" or \"ja\"")
		}
	}
	if f.Name != nil {
		v.Name = name
	}
	if f.Email != nil {
		v.Email = email
	}
	if f.PageURL != nil {
		v.PageURL = page
	}
	return nil
}

func (s *Server) visitorStart(c *conn, f *inFrame) ([]byte, error) {
	ctx, cancel := c.opCtx()
	defer cancel()
	v := *c.visitor
	if perr := visitorDetails(&v, f); perr != nil {
		return nil, perr
	}
	question, perr := optText("question", f.Question, s.cfg.MaxMessageBytes, false)
	if perr != nil {
		return nil, perr
	}
	if len(question) > s.cfg.MaxMessageBytes {
		return nil, &protoError{Code: "too_large", Field: "question", Message: "question: too long"}
	}
	if err := s.admitChat(ctx, c, c.deptID); err != nil {
		return nil, err
	}
	v.LastSeen = switchboard.Now()
	chat, err := s.router.StartChat(ctx, store.NewChat{DepartmentID: c.deptID, Visitor: v, Question: question, PageURL: v.PageURL, Status: switchboard.ChatQueued})
	if err != nil {
		return nil, err
	}
	*c.visitor = v
	s.visitors.update(c, v.Name, v.PageURL)
	s.putVisitor(c)
	// The ack first, then the question (message 1) through resume, then live frames.
	if err := s.resume(ctx, c, f.Ref, chat, 0); err != nil {
		return nil, err
	}
	// resume acked with chat_id, status and last_seq: chat.start's ack fields.
	return nil, nil
}

func (s *Server) visitorUpdate(c *conn, f *inFrame) ([]byte, error) {
	ctx, cancel := c.opCtx()
	defer cancel()
	v := *c.visitor
	if perr := visitorDetails(&v, f); perr != nil {
		return nil, perr
	}
	v.LastSeen = switchboard.Now()
	stored, err := s.store.UpsertVisitor(ctx, v)
	if err != nil {
		return nil, err
	}
	*c.visitor = stored
	s.visitors.update(c, stored.Name, stored.PageURL)
	s.putVisitor(c)
	if f.Ref == "" {
		return nil, nil
	}
	return ack(f.Ref, map[string]any{}), nil
}

// acceptLanguage picks the language of the visitor's browser that we speak:
// "ja" or "en" (the first of them in the header's order, ignoring weights,
// which browsers send in order anyway), "" when neither is named.
func acceptLanguage(h string) string {
	for part := range strings.SplitSeq(h, ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		tag = strings.ToLower(tag)
		switch {
		case tag == "ja" || strings.HasPrefix(tag, "ja-"):
			return "ja"
		case tag == "en" || strings.HasPrefix(tag, "en-"):
			return "en"
		}
	}
	return ""
}

// admitChat checks that the visitor's address may open a chat (a new one,
// or a reopened one) in the department now: under the per-IP chat rate,
// and not blocked there.
func (s *Server) admitChat(ctx context.Context, c *conn, departmentID string) error {
	if ok, wait := s.chatsByIP.Allow(c.ip, s.now()); !ok {
		s.cfg.Metrics.RateLimited("chats_per_ip")
		return &protoError{Code: "rate_limited", Message: "too many new chats from your address", RetryAfterMS: wait.Milliseconds()}
	}
	if addr, err := netip.ParseAddr(c.ip); err == nil {
		blocked, err := s.store.IPBlocked(ctx, addr, departmentID, s.now())
		if err != nil {
			return err
		}
		if blocked {
			return errBlocked
		}
	}
	return nil
}
