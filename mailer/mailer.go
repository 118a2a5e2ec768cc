// Package mailer sends the mails of the durable outbox (store.OutboxStore):
// a Worker claims due mails, hands each to a Sender and records the outcome
// — sent, retried later with exponential backoff, or failed for good. Mail
// goes out at least once; a rare duplicate after an ambiguous failure keeps
// its Message-ID.
//
// SMTP sends over SMTP with github.com/wneessen/go-mail; LogSender writes
// mails to a log instead (the single-node default without an SMTP server).
package mailer

import (
	"context"
	"errors"
	"net/textproto"

	gomail "github.com/wneessen/go-mail"

	"github.com/switchboard-chat/switchboard"
)

// Sender delivers one mail. A nil error means the server accepted it. An
// error is temporary (retry later) unless IsTemporary says otherwise.
type Sender interface {
	Send(ctx context.Context, m switchboard.Mail) error
}

// permanentError marks an error as not worth retrying.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// setupError is an error of setting up the SMTP session (connecting,
// greeting, EHLO, STARTTLS, AUTH), before the mail itself is offered.
type setupError struct{ err error }

func (e *setupError) Error() string { return e.err.Error() }
func (e *setupError) Unwrap() error { return e.err }

// Permanent marks err as permanent: the Worker fails the mail at once
// rather than retry it. Permanent(nil) is nil. Senders other than SMTP use
// it for errors that retrying cannot cure.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

// IsTemporary reports whether sending again later may succeed after err:
// SMTP 4xx replies, dial errors, timeouts, connection resets, any failure
// while SMTP.Send sets up the session (even a 5xx to AUTH: a fixed
// configuration delivers the mail) and anything unrecognized are
// temporary; SMTP 5xx replies to the mail itself (MAIL FROM, RCPT TO,
// DATA), a message the client could not build and errors marked with
// Permanent are not. IsTemporary(nil) is false.
func IsTemporary(err error) bool {
	if err == nil {
		return false
	}
	var pe *permanentError
	var setup *setupError
	switch {
	case errors.As(err, &pe):
		return false
	case errors.As(err, &setup):
		return true
	}
	if code := replyCode(err); code >= 500 {
		return false
	} else if code >= 400 {
		return true
	}
	var se *gomail.SendError
	if errors.As(err, &se) {
		switch se.Reason {
		case gomail.ErrGetSender, gomail.ErrGetRcpts, gomail.ErrNoUnencoded:
			return false
		}
	}
	// Dial errors, timeouts, resets, TLS handshakes and the like: go-mail
	// returns them as plain errors; the server may come back.
	return true
}

// replyCode returns the SMTP reply code err carries, or 0.
func replyCode(err error) int {
	var se *gomail.SendError
	if errors.As(err, &se) {
		if c := se.ErrorCode(); c != 0 {
			return c
		}
	}
	var tp *textproto.Error
	if errors.As(err, &tp) {
		return tp.Code
	}
	return 0
}
