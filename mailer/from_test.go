package mailer

import (
	"context"
	"testing"

	"github.com/switchboard-chat/switchboard"
)

type recordingSender struct{ got []switchboard.Mail }

func (r *recordingSender) Send(_ context.Context, m switchboard.Mail) error {
	r.got = append(r.got, m)
	return nil
}

func TestWithDefaultFrom(t *testing.T) {
	rec := &recordingSender{}
	s := WithDefaultFrom(rec, "noreply@example.com")
	_ = s.Send(t.Context(), switchboard.Mail{To: []string{"a@example.com"}})
	_ = s.Send(t.Context(), switchboard.Mail{From: "dept@example.com", To: []string{"a@example.com"}})
	if len(rec.got) != 2 || rec.got[0].From != "noreply@example.com" || rec.got[1].From != "dept@example.com" {
		t.Fatalf("sent %+v", rec.got)
	}
}
