package mailer

import (
	"context"
	"io"
	"log/slog"

	"github.com/switchboard-chat/switchboard"
)

// LogSender is a Sender that writes each mail to a log instead of sending
// it: the single-node default when no SMTP server is configured. It never
// fails.
type LogSender struct {
	log *slog.Logger
}

// NewLogSender returns a LogSender writing to log; nil means discard.
func NewLogSender(log *slog.Logger) *LogSender {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &LogSender{log: log.With("component", "mailer")}
}

// Send logs m at Info level: headers, the text body, the HTML body's and the
// attachment's sizes.
func (s *LogSender) Send(ctx context.Context, m switchboard.Mail) error {
	s.log.InfoContext(ctx, "mail not sent: no SMTP server configured",
		"mail_id", m.ID, "kind", string(m.Kind), "message_id", m.MessageID,
		"from", m.From, "to", m.To, "cc", m.CC, "subject", m.Subject,
		"text_body", m.TextBody, "html_bytes", len(m.HTMLBody),
		"attachment", m.Attachment, "attachment_bytes", len(m.AttachmentDoc))
	return nil
}
