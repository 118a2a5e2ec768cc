package store

import (
	"context"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/mailer/templates"
)

// OutboxStore is the durable mail outbox: emails wait here until the mailer
// sends them. Every Store implements it.
//
// A mail is pending until it is sent, failed or cancelled. Senders (one per
// node) claim due mails with ClaimMail, which moves them a lease into the
// future so that no other sender takes them meanwhile, then report the
// outcome with MailSent, MailRetry or MailFailed. A sender that dies
// mid-send loses its lease and the mail is claimed again after it: delivery
// is at least once, always with the same Message-ID.
type OutboxStore interface {
	// EnqueueMail stores a new pending mail, due now. It fills ID,
	// MessageID ("<random@domain>", the domain of From, else of the mail
	// composer's public URL), Status (pending), Attempts (0), CreatedAt and
	// NextAttemptAt, clears LastError and SentAt, and turns nil To and CC
	// into empty lists. From "" means the server's sender (the worker's
	// mailer.WithDefaultFrom fills it when sending). Every address must
	// pass switchboard.ParseAddress (stored trimmed); To must not be empty;
	// Subject and Attachment must hold no CR, LF or NUL; Kind must be known.
	// Bad input is a *switchboard.ValidationError naming the field ("from",
	// "to", "cc", "subject", "kind", "attachment_name", "text_body").
	EnqueueMail(ctx context.Context, m *switchboard.Mail) error
	// ClaimMail returns up to limit pending mails due at now (NextAttemptAt
	// not after now), oldest (by CreatedAt) first, and moves each one's
	// NextAttemptAt to now+lease in the same transaction (the returned
	// mails carry the new value). Concurrent claimers, on this store or on
	// another store of the same database, never get the same mail before its
	// lease runs out. limit and lease must be positive (else a
	// ValidationError for "limit" or "lease"); no due mail is an empty,
	// non-nil list. The outcome calls below do not check the lease: a
	// sender must finish within it, or the mail may go out twice.
	ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]switchboard.Mail, error)
	// MailSent marks a pending (or cancelled: it went out anyway) mail sent
	// at at and counts the attempt. A mail already sent or failed stays as
	// it is. ErrNotFound when there is no such mail.
	MailSent(ctx context.Context, id string, at time.Time) error
	// MailRetry keeps a pending mail pending, with attempts attempts so far,
	// due at next, and lastErr as its LastError. A mail no longer pending
	// stays as it is. ErrNotFound when there is no such mail.
	MailRetry(ctx context.Context, id string, attempts int, next time.Time, lastErr string) error
	// MailFailed marks a pending mail failed for good with lastErr, and
	// counts the attempt. A mail no longer pending stays as it is.
	// ErrNotFound when there is no such mail.
	MailFailed(ctx context.Context, id string, lastErr string) error
	// Mails lists mails of the given status ("" for every status), newest
	// (by CreatedAt) first, for admins. AttachmentDoc is left nil (the list
	// names the attachment only). An unknown status is a ValidationError for
	// "status".
	Mails(ctx context.Context, status switchboard.MailStatus, p Page) (items []switchboard.Mail, next string, err error)
	// CancelChatMail cancels every pending mail of a chat (when the chat is
	// deleted). Sent and failed mails stay; no mail is not an error.
	CancelChatMail(ctx context.Context, chatID string) error

	// ListMails lists the mails that match f, newest (by CreatedAt) first,
	// for admins, like Mails. An unknown status or kind is a
	// ValidationError for "status" or "kind".
	ListMails(ctx context.Context, f MailFilter, p Page) (items []switchboard.Mail, next string, err error)
	// RetryMail puts a failed mail back to pending, due at at, keeping its
	// attempts and last error, and returns it (without AttachmentDoc). A
	// mail that is not failed is a ConflictError for "status"; an unknown
	// one ErrNotFound.
	RetryMail(ctx context.Context, id string, at time.Time) (switchboard.Mail, error)
	// EnqueueVisitorMail queues an operator's email to a visitor (kind
	// visitor, checked and filled as by EnqueueMail) and, in the same
	// transaction, writes the audit entry "chat.email" (actorID, the
	// chat, at; no content). The chat m.ChatID must exist (else
	// ErrNotFound), so that no mail outlives a chat deleted meanwhile.
	EnqueueVisitorMail(ctx context.Context, m *switchboard.Mail, actorID string, at time.Time) error

	// SetMailComposer sets what writes the event mails the store queues in
	// the transactions of their events: the transcript when a chat ends
	// (EndChat), the missed-chat notice (MissChat), the feedback
	// (SaveFeedback) and the blocked-IP notice (CreateBlock), each to the
	// chat's department's addresses for it, when that setting is on and
	// lists addresses. A store starts with a composer without a public URL
	// (emails without links); the server sets one with its --public-url
	// before it serves. nil is ignored.
	SetMailComposer(c *templates.Composer)
}

// MailFilter selects mails for ListMails; "" matches every status or kind.
type MailFilter struct {
	Status switchboard.MailStatus
	Kind   switchboard.MailKind
}
