package mailer

import (
	"context"

	"github.com/switchboard-chat/switchboard"
)

// WithDefaultFrom returns a Sender that sends mail without a From address
// (a department with no from-address of its own) as from.
func WithDefaultFrom(s Sender, from string) Sender {
	return defaultFrom{s: s, from: from}
}

type defaultFrom struct {
	s    Sender
	from string
}

func (d defaultFrom) Send(ctx context.Context, m switchboard.Mail) error {
	if m.From == "" {
		m.From = d.from
	}
	return d.s.Send(ctx, m)
}
