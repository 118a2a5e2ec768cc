package api

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store"
)

// wireTime formats a time for the wire; nil stays nil.
func wireTime(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := t.UTC().Format(switchboard.TimeFormat)
	return &s
}

func wireNow(t time.Time) string { return t.UTC().Format(switchboard.TimeFormat) }

// chatDetailView is GET /api/chats/{id}.
type chatDetailView struct {
	chatRowView
	Question   string          `json:"question"`
	Locale     string          `json:"locale"`
	ReopenedAt *string         `json:"reopened_at"`
	AnsweredAt *string         `json:"answered_at"`
	Messages   []messageView   `json:"messages"`
	Transfers  []transferView  `json:"transfers"`
	Notes      []noteView      `json:"notes"`
	Visitor    visitorDetail   `json:"visitor"`
	Feedback   *feedbackDetail `json:"feedback"`
}

type messageView struct {
	Seq      int64                  `json:"seq"`
	FromKind switchboard.SenderKind `json:"from_kind"`
	FromID   string                 `json:"from_id"`
	FromName string                 `json:"from_name"`
	Body     string                 `json:"body"`
	At       string                 `json:"at"`
}

type transferView struct {
	ID               string `json:"id"`
	At               string `json:"at"`
	FromDepartmentID string `json:"from_department"`
	ToDepartmentID   string `json:"to_department"`
	FromOperatorID   string `json:"from_operator"`
	ToOperatorID     string `json:"to_operator"`
	Note             string `json:"note"`
}

type noteView struct {
	ID         string `json:"id"`
	ChatID     string `json:"chat_id"`
	OperatorID string `json:"operator_id"`
	Body       string `json:"body"`
	CreatedAt  string `json:"created_at"`
}

type previousChatView struct {
	ID        string                 `json:"id"`
	Status    switchboard.ChatStatus `json:"status"`
	StartedAt string                 `json:"started_at"`
}

type visitorDetail struct {
	ID            string             `json:"id"`
	Name          string             `json:"name"`
	Email         string             `json:"email"`
	IP            string             `json:"ip"`
	PageURL       string             `json:"page_url"`
	UserAgent     string             `json:"user_agent"`
	PreviousChats []previousChatView `json:"previous_chats"`
}

type feedbackDetail struct {
	Rating  int     `json:"rating"`
	Comment *string `json:"comment"`
}

func viewNote(n switchboard.Note) noteView {
	return noteView{ID: n.ID, ChatID: n.ChatID, OperatorID: n.OperatorID, Body: n.Body, CreatedAt: wireNow(n.CreatedAt)}
}

// visibleChat returns the chat when c may see it: supervisors and admins
// every chat; operators their departments' chats and the chats they
// handled (answer or answered, handed over or received by a transfer),
// which the history list shows them too. Any other chat is ErrNotFound,
// so that its existence does not leak.
func (s *Server) visibleChat(r *http.Request, c *caller) (switchboard.Chat, error) {
	ch, err := s.store.Chat(r.Context(), r.PathValue("id"))
	if err != nil {
		return switchboard.Chat{}, err
	}
	if c.Role.AtLeast(switchboard.RoleSupervisor) || slices.Contains(c.DepartmentIDs, ch.DepartmentID) || ch.OperatorID == c.ID {
		return ch, nil
	}
	// A chat the operator handed over, or received, outside its departments.
	hops, err := s.store.Transfers(r.Context(), ch.ID)
	if err != nil {
		return switchboard.Chat{}, err
	}
	for _, h := range hops {
		if h.FromOperatorID == c.ID || h.ToOperatorID == c.ID {
			return ch, nil
		}
	}
	return switchboard.Chat{}, switchboard.ErrNotFound
}

// allMessages returns every message of a chat in seq order, page by page.
func (s *Server) allMessages(ctx context.Context, chatID string) ([]switchboard.Message, error) {
	var all []switchboard.Message
	for after := int64(0); ; {
		msgs, err := s.store.Messages(ctx, chatID, after, store.MaxMessages)
		if err != nil {
			return nil, err
		}
		all = append(all, msgs...)
		if len(msgs) < store.MaxMessages {
			return all, nil
		}
		after = msgs[len(msgs)-1].Seq
	}
}

// chatRow turns a chat into the list's row shape, with the names looked up.
func (s *Server) chatRow(r *http.Request, ch switchboard.Chat, v switchboard.Visitor) chatRowView {
	row := store.ChatRow{ID: ch.ID, Status: ch.Status, DepartmentID: ch.DepartmentID, DepartmentName: ch.DepartmentName,
		VisitorID: ch.VisitorID, VisitorName: v.Name, VisitorEmail: v.Email, OperatorID: ch.OperatorID,
		StartedAt: ch.StartedAt, EndedAt: ch.EndedAt, Reopened: ch.Reopened, Rating: ch.Rating}
	if ch.OperatorID != "" {
		if o, err := s.store.Operator(r.Context(), ch.OperatorID); err == nil {
			row.OperatorName = o.Name
		}
	}
	return viewChatRow(row)
}

// handleGetChat serves GET /api/chats/{id}: the chat with its messages,
// transfers, notes, visitor and feedback.
func (s *Server) handleGetChat(w http.ResponseWriter, r *http.Request, c *caller) {
	ctx := r.Context()
	ch, err := s.visibleChat(r, c)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := s.store.Visitor(ctx, ch.VisitorID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := chatDetailView{chatRowView: s.chatRow(r, ch, v), Question: ch.Question, Locale: ch.Locale,
		ReopenedAt: wireTime(ch.ReopenedAt), AnsweredAt: wireTime(ch.AnsweredAt),
		Messages: []messageView{}, Transfers: []transferView{}, Notes: []noteView{},
		Visitor: visitorDetail{ID: v.ID, Name: v.Name, Email: v.Email, IP: ch.VisitorIP, PageURL: ch.PageURL,
			UserAgent: v.UserAgent, PreviousChats: []previousChatView{}}}
	if out.Visitor.IP == "" {
		out.Visitor.IP = v.IP
	}
	if out.Visitor.PageURL == "" {
		out.Visitor.PageURL = v.PageURL
	}
	msgs, err := s.allMessages(ctx, ch.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, m := range msgs {
		out.Messages = append(out.Messages, messageView{Seq: m.Seq, FromKind: m.FromKind, FromID: m.FromID,
			FromName: m.FromName, Body: m.Body, At: wireNow(m.At)})
	}
	transfers, err := s.store.Transfers(ctx, ch.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, t := range transfers {
		out.Transfers = append(out.Transfers, transferView{ID: t.ID, At: wireNow(t.At), FromDepartmentID: t.FromDepartmentID,
			ToDepartmentID: t.ToDepartmentID, FromOperatorID: t.FromOperatorID, ToOperatorID: t.ToOperatorID, Note: t.Note})
	}
	notes, err := s.store.Notes(ctx, ch.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, n := range notes {
		out.Notes = append(out.Notes, viewNote(n))
	}
	prev, err := s.store.VisitorChats(ctx, v.ID, ch.ID, store.MaxPreviousChats)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, p := range prev {
		out.Visitor.PreviousChats = append(out.Visitor.PreviousChats,
			previousChatView{ID: p.ID, Status: p.Status, StartedAt: wireNow(p.StartedAt)})
	}
	fb, err := s.store.Feedback(ctx, ch.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if fb != nil {
		out.Feedback = &feedbackDetail{Rating: fb.Rating}
		if fb.Comment != "" {
			out.Feedback.Comment = &fb.Comment
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// noteInput is the body of POST /api/chats/{id}/notes.
type noteInput struct {
	Body string `json:"body"`
}

// handleAddNote serves POST /api/chats/{id}/notes.
func (s *Server) handleAddNote(w http.ResponseWriter, r *http.Request, c *caller) {
	ch, err := s.visibleChat(r, c)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var in noteInput
	if err := decodeBody(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	n, err := s.store.AddNote(r.Context(), switchboard.Note{ChatID: ch.ID, OperatorID: c.ID, Body: in.Body, CreatedAt: s.now()})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, viewNote(n))
}

// handleDeleteChat serves DELETE /api/chats/{id} (admins): the chat and
// everything of it go for good; an open chat is a 409.
func (s *Server) handleDeleteChat(w http.ResponseWriter, r *http.Request, c *caller) {
	id := r.PathValue("id")
	if err := s.store.DeleteChat(r.Context(), id, c.ID, s.now()); err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("chat deleted", "chat_id", id, "by", c.ID)
	w.WriteHeader(http.StatusNoContent)
}

// reopenInput is the body of POST /api/chats/{id}/reopen.
type reopenInput struct {
	ToMe bool `json:"to_me"`
}

// handleReopenChat serves POST /api/chats/{id}/reopen: a missed or
// completed chat is queued again (or ongoing with the caller, to_me), and
// a queued one is routed like a new chat.
func (s *Server) handleReopenChat(w http.ResponseWriter, r *http.Request, c *caller) {
	ctx := r.Context()
	ch, err := s.visibleChat(r, c)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var in reopenInput
	if r.ContentLength != 0 {
		body, err := readBody(w, r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if err := decodeInto(body, &in); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	to := ""
	if in.ToMe {
		to = c.ID
	}
	ch, err = s.store.ReopenChat(ctx, ch.ID, to, s.now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("chat reopened", "chat_id", ch.ID, "by", c.ID, "to_me", in.ToMe)
	if s.reopened != nil {
		if err := s.reopened(ctx, ch, c.Operator); err != nil {
			// The chat is reopened in the store; the router picks it up on
			// its next rebuild. Say so in the log, not as a failure.
			s.log.Error("route reopened chat", "chat_id", ch.ID, "err", err)
		}
	}
	v, err := s.store.Visitor(ctx, ch.VisitorID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.chatRow(r, ch, v))
}
