package api

import (
	"net/http"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store"
)

// mailView is an outbox row on the wire: the envelope, the state and the
// last error, without the bodies and the attachment's content.
type mailView struct {
	ID             string                 `json:"id"`
	Kind           switchboard.MailKind   `json:"kind"`
	ChatID         string                 `json:"chat_id"`
	DepartmentID   string                 `json:"department_id"`
	MessageID      string                 `json:"message_id"`
	From           string                 `json:"from"` // "" means the server's --mail-from
	To             []string               `json:"to"`
	CC             []string               `json:"cc"`
	Subject        string                 `json:"subject"`
	AttachmentName string                 `json:"attachment_name"`
	Status         switchboard.MailStatus `json:"status"`
	Attempts       int                    `json:"attempts"`
	NextAttemptAt  string                 `json:"next_attempt_at"`
	LastError      string                 `json:"last_error"`
	CreatedAt      string                 `json:"created_at"`
	SentAt         *string                `json:"sent_at"`
}

func viewMail(m switchboard.Mail) mailView {
	v := mailView{ID: m.ID, Kind: m.Kind, ChatID: m.ChatID, DepartmentID: m.DepartmentID, MessageID: m.MessageID,
		From: m.From, To: m.To, CC: m.CC, Subject: m.Subject, AttachmentName: m.Attachment, Status: m.Status,
		Attempts: m.Attempts, NextAttemptAt: wireNow(m.NextAttemptAt), LastError: m.LastError,
		CreatedAt: wireNow(m.CreatedAt), SentAt: wireTime(m.SentAt)}
	if v.To == nil {
		v.To = []string{}
	}
	if v.CC == nil {
		v.CC = []string{}
	}
	return v
}

// handleListOutbox serves GET /api/outbox?status=&kind=&cursor=&limit=
// (admins): the outbox, newest first, with attempts and last errors, so
// that mail that failed for good is seen.
func (s *Server) handleListOutbox(w http.ResponseWriter, r *http.Request, c *caller) {
	p, err := pageFromQuery(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	f := store.MailFilter{Status: switchboard.MailStatus(q.Get("status")), Kind: switchboard.MailKind(q.Get("kind"))}
	items, next, err := s.store.ListMails(r.Context(), f, p)
	if err != nil {
		s.fail(w, r, badQuery(err))
		return
	}
	views := make([]mailView, len(items))
	for i, m := range items {
		views[i] = viewMail(m)
	}
	writeJSON(w, http.StatusOK, newList(views, next))
}

// handleRetryMail serves POST /api/outbox/{id}/retry (admins): a failed
// mail goes back to pending, due now (a fixed address or SMTP setting
// lets it through), and the mail worker is woken.
func (s *Server) handleRetryMail(w http.ResponseWriter, r *http.Request, c *caller) {
	m, err := s.store.RetryMail(r.Context(), r.PathValue("id"), s.now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("mail retried", "mail_id", m.ID, "by", c.ID)
	s.wakeMailer()
	writeJSON(w, http.StatusOK, viewMail(m))
}

// wakeMailer tells the mail worker that mail is due now.
func (s *Server) wakeMailer() {
	if s.mailQueued != nil {
		s.mailQueued()
	}
}
