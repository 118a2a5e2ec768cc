package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/mailer/templates"
	"github.com/switchboard-chat/switchboard/store"
)

// maxSubject bounds a subject (RFC 5322 caps a header line at 998 bytes;
// encoded words make the subject longer on the wire, and folding handles it).
const maxSubject = 998

// mailColumns are read by scanMail, in this order.
const mailColumns = `id, kind, chat_id, department_id, message_id, from_address, to_addresses,
	cc_addresses, subject, text_body, html_body, attachment_name, attachment, status, attempts,
	next_attempt_at, last_error, created_at, sent_at`

// listMailColumns is mailColumns without the attachment's content.
const listMailColumns = `id, kind, chat_id, department_id, message_id, from_address, to_addresses,
	cc_addresses, subject, text_body, html_body, attachment_name, NULL, status, attempts,
	next_attempt_at, last_error, created_at, sent_at`

func scanMail(rows *sql.Rows) (switchboard.Mail, error) {
	var (
		m             switchboard.Mail
		kind, status  string
		next, created int64
		sent          sql.NullInt64
		attachment    []byte
	)
	err := rows.Scan(&m.ID, &kind, &m.ChatID, &m.DepartmentID, &m.MessageID, &m.From,
		jsonListDest{&m.To}, jsonListDest{&m.CC}, &m.Subject, &m.TextBody, &m.HTMLBody,
		&m.Attachment, &attachment, &status, &m.Attempts, &next, &m.LastError, &created, &sent)
	if err != nil {
		return m, err
	}
	m.Kind, m.Status = switchboard.MailKind(kind), switchboard.MailStatus(status)
	if len(attachment) > 0 {
		m.AttachmentDoc = attachment
	}
	m.NextAttemptAt, m.CreatedAt, m.SentAt = fromMS(next), fromMS(created), fromNullMS(sent)
	return m, nil
}

// checkMail validates and normalizes a mail to enqueue.
func checkMail(m *switchboard.Mail) error {
	switch m.Kind {
	case switchboard.MailTranscript, switchboard.MailBlockedIP, switchboard.MailFeedback,
		switchboard.MailMissed, switchboard.MailVisitor:
	default:
		return switchboard.Invalid("kind", "%q is not a kind of mail", m.Kind)
	}
	// "" is the server's sender, filled when the mail is sent.
	if strings.TrimSpace(m.From) == "" {
		m.From = ""
	} else {
		from, err := switchboard.ParseAddress(m.From)
		if err != nil {
			return switchboard.Invalid("from", "%v", err)
		}
		m.From = from
	}
	lists := []struct {
		field string
		l     *[]string
	}{{"to", &m.To}, {"cc", &m.CC}}
	for _, f := range lists {
		if len(*f.l) > switchboard.MaxAddresses {
			return switchboard.Invalid(f.field, "has more than %d addresses", switchboard.MaxAddresses)
		}
		out := make([]string, 0, len(*f.l))
		for _, a := range *f.l {
			addr, err := switchboard.ParseAddress(a)
			if err != nil {
				return switchboard.Invalid(f.field, "%v", err)
			}
			out = append(out, addr)
		}
		*f.l = out
	}
	if len(m.To) == 0 {
		return switchboard.Invalid("to", "needs at least one address")
	}
	if strings.ContainsAny(m.Subject, "\r\n\x00") {
		return switchboard.Invalid("subject", "must not contain line breaks")
	}
	if len(m.Subject) > maxSubject {
		return switchboard.Invalid("subject", "is longer than %d bytes", maxSubject)
	}
	if strings.ContainsAny(m.Attachment, "\r\n\x00/\\\"") {
		return switchboard.Invalid("attachment_name", "must not contain line breaks, quotes or slashes")
	}
	if (m.Attachment == "") != (len(m.AttachmentDoc) == 0) {
		return switchboard.Invalid("attachment_name", "is required with an attachment, and only with one")
	}
	if m.TextBody == "" && m.HTMLBody == "" {
		return switchboard.Invalid("text_body", "is required when there is no HTML body")
	}
	return nil
}

// newMessageID returns "<random@domain>" for a mail from the address
// from, or, without one, for the domain fallback (the public URL's host).
func newMessageID(from, fallback string) string {
	domain := fallback
	if i := strings.LastIndexByte(from, '@'); i >= 0 {
		domain = from[i+1:]
	}
	domain = strings.ToLower(domain)
	if domain == "" || strings.ContainsAny(domain, "<>@ \t\r\n") {
		domain = "switchboard.invalid"
	}
	return "<" + switchboard.NewID() + "@" + domain + ">"
}

// SetMailComposer sets the composer of the event mails (see
// store.OutboxStore).
func (db *DB) SetMailComposer(c *templates.Composer) {
	if c != nil {
		db.mail.Store(c)
	}
}

// composer returns the composer of the event mails.
func (db *DB) composer() *templates.Composer {
	if c := db.mail.Load(); c != nil {
		return c
	}
	return &templates.Composer{}
}

// EnqueueMail stores a new pending mail (see store.OutboxStore).
func (db *DB) EnqueueMail(ctx context.Context, m *switchboard.Mail) error {
	if err := db.insertMail(ctx, db.writer(), m); err != nil {
		return db.wrap("enqueue mail", err)
	}
	return nil
}

// EnqueueVisitorMail queues an operator's email to a visitor with its
// audit entry (see store.OutboxStore).
func (db *DB) EnqueueVisitorMail(ctx context.Context, m *switchboard.Mail, actorID string, at time.Time) error {
	if m.Kind != switchboard.MailVisitor {
		return switchboard.Invalid("kind", "must be %q", switchboard.MailVisitor)
	}
	c := *m
	err := db.inTx(ctx, func(t *tx) error {
		// The chat's row, shared-locked, keeps a concurrent DeleteChat
		// (which cancels the chat's pending mail) from slipping between.
		var one int
		if err := t.queryRow(ctx, `SELECT 1 FROM chats WHERE id = ?`+t.forShare(), c.ChatID).Scan(&one); err != nil {
			return err
		}
		if err := db.insertMail(ctx, t.conn, &c); err != nil {
			return err
		}
		return t.audit(ctx, at, actorID, "chat.email", "chat", c.ChatID)
	})
	if err != nil {
		return db.wrap("enqueue mail to the visitor of chat "+m.ChatID, err)
	}
	*m = c
	return nil
}

// insertMail checks, fills and inserts m on c, which may be a transaction:
// the operations that cause a mail (a chat's end) queue it in their own
// transaction, so that neither happens without the other. It is the one
// insert of the outbox.
func (db *DB) insertMail(ctx context.Context, c conn, m *switchboard.Mail) error {
	if err := checkMail(m); err != nil {
		return err
	}
	now := switchboard.Now()
	m.ID = switchboard.NewID()
	m.MessageID = newMessageID(m.From, db.composer().Domain())
	m.Status = switchboard.MailPending
	m.Attempts = 0
	m.LastError = ""
	m.CreatedAt, m.NextAttemptAt, m.SentAt = now, now, nil
	var attachment any // NULL without one
	if len(m.AttachmentDoc) > 0 {
		attachment = m.AttachmentDoc
	}
	_, err := c.exec(ctx, `INSERT INTO mail_outbox (`+mailColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.ID, string(m.Kind), m.ChatID, m.DepartmentID, m.MessageID, m.From, jsonList(m.To),
		jsonList(m.CC), m.Subject, m.TextBody, m.HTMLBody, m.Attachment, attachment,
		string(m.Status), 0, ms(now), "", ms(now), nil)
	return err
}

// ClaimMail takes due mails for a sender (see store.OutboxStore).
func (db *DB) ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]switchboard.Mail, error) {
	if limit <= 0 {
		return nil, switchboard.Invalid("limit", "must be positive")
	}
	if lease <= 0 {
		return nil, switchboard.Invalid("lease", "must be positive")
	}
	// On PostgreSQL, rows another claimer has locked are skipped rather than
	// waited for; once it commits, their next_attempt_at is in the future
	// and the re-check of the WHERE clause leaves them out. SQLite runs one
	// write transaction at a time, so there is nothing to skip.
	lock := ""
	if db.d.ForUpdate != "" {
		lock = db.d.ForUpdate + " SKIP LOCKED"
	}
	var items []switchboard.Mail
	err := db.inTx(ctx, func(tx *tx) error {
		rows, err := tx.query(ctx, `UPDATE mail_outbox SET next_attempt_at = ?
			WHERE id IN (
				SELECT id FROM mail_outbox
				WHERE status = 'pending' AND next_attempt_at <= ?
				ORDER BY created_at, id LIMIT ?`+lock+`
			)
			RETURNING `+mailColumns,
			ms(now.Add(lease)), ms(now), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			m, err := scanMail(rows)
			if err != nil {
				return err
			}
			items = append(items, m)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, db.wrap("claim mail", err)
	}
	if items == nil {
		items = []switchboard.Mail{}
	}
	// RETURNING keeps no order.
	slices.SortFunc(items, func(a, b switchboard.Mail) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	return items, nil
}

// updateMail runs a one-row update of mail id; when it changes nothing, it
// tells a missing mail (ErrNotFound) from one in another state (nil).
func (db *DB) updateMail(ctx context.Context, op, id, query string, args ...any) error {
	res, err := db.writer().exec(ctx, query, args...)
	if err != nil {
		return db.wrap(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return db.wrap(op, err)
	}
	if n > 0 {
		return nil
	}
	var one int
	if err := db.reader().queryRow(ctx, `SELECT 1 FROM mail_outbox WHERE id = ?`, id).Scan(&one); err != nil {
		return db.wrap(op, err)
	}
	return nil
}

// MailSent marks a mail sent (see store.OutboxStore).
func (db *DB) MailSent(ctx context.Context, id string, at time.Time) error {
	return db.updateMail(ctx, "mark mail "+id+" sent", id,
		`UPDATE mail_outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1
		WHERE id = ? AND status IN ('pending', 'cancelled')`, ms(at), id)
}

// MailRetry reschedules a pending mail (see store.OutboxStore).
func (db *DB) MailRetry(ctx context.Context, id string, attempts int, next time.Time, lastErr string) error {
	return db.updateMail(ctx, "reschedule mail "+id, id,
		`UPDATE mail_outbox SET attempts = ?, next_attempt_at = ?, last_error = ?
		WHERE id = ? AND status = 'pending'`, attempts, ms(next), lastErr, id)
}

// MailFailed marks a pending mail failed (see store.OutboxStore).
func (db *DB) MailFailed(ctx context.Context, id string, lastErr string) error {
	return db.updateMail(ctx, "mark mail "+id+" failed", id,
		`UPDATE mail_outbox SET status = 'failed', last_error = ?, attempts = attempts + 1
		WHERE id = ? AND status = 'pending'`, lastErr, id)
}

// Mails lists mails, newest first (see store.OutboxStore).
func (db *DB) Mails(ctx context.Context, status switchboard.MailStatus, p store.Page) ([]switchboard.Mail, string, error) {
	return db.ListMails(ctx, store.MailFilter{Status: status}, p)
}

// ListMails lists mails, newest first (see store.OutboxStore).
func (db *DB) ListMails(ctx context.Context, f store.MailFilter, p store.Page) ([]switchboard.Mail, string, error) {
	switch f.Status {
	case "", switchboard.MailPending, switchboard.MailSent, switchboard.MailFailed, switchboard.MailCancelled:
	default:
		return nil, "", switchboard.Invalid("status", "%q is not a mail status", f.Status)
	}
	switch f.Kind {
	case "", switchboard.MailTranscript, switchboard.MailBlockedIP, switchboard.MailFeedback,
		switchboard.MailMissed, switchboard.MailVisitor:
	default:
		return nil, "", switchboard.Invalid("kind", "%q is not a kind of mail", f.Kind)
	}
	pg, err := decodePage(p)
	if err != nil {
		return nil, "", err
	}
	q := `SELECT ` + listMailColumns + ` FROM mail_outbox WHERE TRUE`
	var args []any
	if f.Status != "" {
		q += ` AND status = ?`
		args = append(args, string(f.Status))
	}
	if f.Kind != "" {
		q += ` AND kind = ?`
		args = append(args, string(f.Kind))
	}
	if pg.more {
		q += ` AND (created_at, id) < (?, ?)`
		args = append(args, pg.after.T, pg.after.ID)
	}
	q += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	args = append(args, pg.limit+1)
	items, err := func() ([]switchboard.Mail, error) {
		rows, err := db.reader().query(ctx, q, args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var items []switchboard.Mail
		for rows.Next() {
			m, err := scanMail(rows)
			if err != nil {
				return nil, err
			}
			items = append(items, m)
		}
		return items, rows.Err()
	}()
	if err != nil {
		return nil, "", db.wrap("list mails", err)
	}
	items, next := cut(items, pg.limit, func(m switchboard.Mail) key { return key{ms(m.CreatedAt), m.ID} })
	return items, next, nil
}

// CancelChatMail cancels a chat's pending mails (see store.OutboxStore).
func (db *DB) CancelChatMail(ctx context.Context, chatID string) error {
	if chatID == "" {
		return switchboard.Invalid("chat_id", "is required")
	}
	if _, err := db.writer().exec(ctx, `UPDATE mail_outbox SET status = 'cancelled'
		WHERE chat_id = ? AND status = 'pending'`, chatID); err != nil {
		return db.wrap(fmt.Sprintf("cancel mail of chat %s", chatID), err)
	}
	return nil
}

// RetryMail puts a failed mail back to pending (see store.OutboxStore).
func (db *DB) RetryMail(ctx context.Context, id string, at time.Time) (switchboard.Mail, error) {
	op := "retry mail " + id
	rows, err := db.writer().query(ctx, `UPDATE mail_outbox SET status = 'pending', next_attempt_at = ?
		WHERE id = ? AND status = 'failed' RETURNING `+listMailColumns, ms(at), id)
	if err != nil {
		return switchboard.Mail{}, db.wrap(op, err)
	}
	var out []switchboard.Mail
	for rows.Next() {
		m, err := scanMail(rows)
		if err != nil {
			rows.Close()
			return switchboard.Mail{}, db.wrap(op, err)
		}
		out = append(out, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return switchboard.Mail{}, db.wrap(op, err)
	}
	if len(out) == 1 {
		return out[0], nil
	}
	var status string
	if err := db.reader().queryRow(ctx, `SELECT status FROM mail_outbox WHERE id = ?`, id).Scan(&status); err != nil {
		return switchboard.Mail{}, db.wrap(op, err)
	}
	return switchboard.Mail{}, db.wrap(op, &switchboard.ConflictError{Field: "status",
		Message: fmt.Sprintf("the mail is %s; only a failed mail can be retried", status)})
}
