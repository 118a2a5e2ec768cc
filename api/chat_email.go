package api

import (
	"errors"
	"net/http"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/history"
	"github.com/switchboard-chat/switchboard/mailer/templates"
)

// chatEmailInput is the body of POST /api/chats/{id}/email.
type chatEmailInput struct {
	Subject string `json:"subject"`
	Body    string `json:"body"`
	// IncludeTranscript is false (or absent), true (attached),
	// "attachment" or "inline".
	IncludeTranscript any `json:"include_transcript"`
}

// transcriptMode reads include_transcript.
func (in chatEmailInput) transcriptMode() (templates.TranscriptMode, error) {
	switch v := in.IncludeTranscript.(type) {
	case nil:
		return templates.NoTranscript, nil
	case bool:
		if v {
			return templates.TranscriptAttached, nil
		}
		return templates.NoTranscript, nil
	case string:
		switch m := templates.TranscriptMode(v); m {
		case templates.TranscriptAttached, templates.TranscriptInline:
			return m, nil
		}
	}
	return "", errorf(http.StatusUnprocessableEntity, "bad_request", "include_transcript",
		`include_transcript: must be false, true, "attachment" or "inline"`)
}

// handleChatEmail serves POST /api/chats/{id}/email: an operator's email to
// the chat's visitor — "send email" from an ongoing chat, "reply by email"
// (and the missed-chat follow-up) from a completed or missed one — with
// the chat's transcript attached or inline when asked. It is queued in the
// outbox (202) from the department's from-address with its CC addresses
// copied, and audited as "chat.email". Access is the detail view's:
// operators only for their departments' chats (404 otherwise).
func (s *Server) handleChatEmail(w http.ResponseWriter, r *http.Request, c *caller) {
	ctx := r.Context()
	ch, err := s.visibleChat(r, c)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var in chatEmailInput
	if err := decodeBody(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	mode, err := in.transcriptMode()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	vm := templates.VisitorMail{Subject: in.Subject, Body: in.Body, Operator: c.Name, Mode: mode}
	if err := vm.Check(); err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := s.store.Visitor(ctx, ch.VisitorID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if v.Email == "" {
		s.fail(w, r, &switchboard.ConflictError{Field: "visitor.email", Message: "the visitor left no email address"})
		return
	}
	if _, err := switchboard.ParseAddress(v.Email); err != nil {
		s.fail(w, r, &switchboard.ConflictError{Field: "visitor.email", Message: "the visitor's email address is not valid: " + err.Error()})
		return
	}
	d, err := s.store.Department(ctx, ch.DepartmentID)
	if errors.Is(err, switchboard.ErrNotFound) {
		// A deleted department: its name stays on the chat; the mail goes
		// from the server's address without CC.
		d, err = switchboard.Department{ID: ch.DepartmentID, Name: ch.DepartmentName}, nil
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if mode != templates.NoTranscript {
		msgs, err := s.allMessages(ctx, ch.ID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		vm.Transcript = history.Transcript{Chat: ch, VisitorName: v.Name, VisitorEmail: v.Email, Messages: msgs}
		if ch.OperatorID != "" {
			if o, err := s.store.Operator(ctx, ch.OperatorID); err == nil {
				vm.Transcript.OperatorName = o.Name
			}
		}
	}
	m, err := s.mail.Visitor(d, ch, v, vm)
	if err == nil {
		err = s.store.EnqueueVisitorMail(ctx, &m, c.ID, s.now())
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("email to visitor queued", "chat_id", ch.ID, "mail_id", m.ID, "by", c.ID, "transcript", string(mode))
	s.wakeMailer()
	writeJSON(w, http.StatusAccepted, viewMail(m))
}
