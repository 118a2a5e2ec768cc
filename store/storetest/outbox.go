package storetest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store"
)

// newMail enqueues a valid mail; mod (optional) changes it first.
func newMail(t *testing.T, s store.Store, subject string, mod ...func(*switchboard.Mail)) switchboard.Mail {
	t.Helper()
	m := switchboard.Mail{
		Kind:     switchboard.MailTranscript,
		ChatID:   "chat-1",
		From:     "support@example.com",
		To:       []string{"ann@example.com"},
		Subject:  subject,
		TextBody: "text of " + subject,
	}
	for _, f := range mod {
		f(&m)
	}
	if err := s.EnqueueMail(t.Context(), &m); err != nil {
		t.Fatalf("EnqueueMail(%q): %v", subject, err)
	}
	return m
}

// mailByID returns the listed mail with that id.
func mailByID(t *testing.T, s store.Store, id string) switchboard.Mail {
	t.Helper()
	all := allPages(t, store.MaxLimit, func(p store.Page) ([]switchboard.Mail, string, error) {
		return s.Mails(t.Context(), "", p)
	})
	for _, m := range all {
		if m.ID == id {
			return m
		}
	}
	t.Fatalf("mail %s is not listed", id)
	return switchboard.Mail{}
}

func subjects(ms []switchboard.Mail) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, m.Subject)
	}
	return out
}

var outboxCases = []testCase{
	{"enqueue fills and lists the mail", func(t *testing.T, s store.Store) {
		doc := []byte("%PDF-1.4 transcript")
		m := newMail(t, s, "Transcript — 会話の記録", func(m *switchboard.Mail) {
			m.DepartmentID = "dep-1"
			m.From = " Support@Example.COM "
			m.To = []string{" ann@example.com", "bob@example.org"}
			m.CC = []string{"cc@example.net"}
			m.HTMLBody = "<p>hello</p>"
			m.Attachment = "transcript.pdf"
			m.AttachmentDoc = doc
			m.Status, m.Attempts, m.LastError = switchboard.MailSent, 9, "stale"
		})
		if m.ID == "" || m.Status != switchboard.MailPending || m.Attempts != 0 || m.LastError != "" || m.SentAt != nil {
			t.Errorf("enqueued mail = %+v", m)
		}
		if !strings.HasPrefix(m.MessageID, "<") || !strings.HasSuffix(m.MessageID, "@example.com>") || len(m.MessageID) < 20 {
			t.Errorf("MessageID = %q, want <random@example.com>", m.MessageID)
		}
		equal(t, m.From, "Support@Example.COM", "From (trimmed)")
		equal(t, m.To, []string{"ann@example.com", "bob@example.org"}, "To (trimmed)")
		wantStoredTime(t, m.CreatedAt, "CreatedAt")
		equal(t, m.NextAttemptAt, m.CreatedAt, "NextAttemptAt")

		got := mailByID(t, s, m.ID)
		want := m
		want.AttachmentDoc = nil // lists leave the content out
		equal(t, got, want, "listed mail")

		other := newMail(t, s, "no cc")
		if other.CC == nil || len(other.CC) != 0 {
			t.Errorf("nil CC enqueued as %#v, want an empty list", other.CC)
		}
		if other.MessageID == m.MessageID {
			t.Errorf("two mails share Message-ID %s", m.MessageID)
		}

		claimed, err := s.ClaimMail(t.Context(), time.Now().Add(time.Second), time.Minute, 10)
		noErr(t, err, "ClaimMail")
		if len(claimed) != 2 {
			t.Fatalf("claimed %d mails, want 2", len(claimed))
		}
		equal(t, claimed[0].AttachmentDoc, doc, "claimed attachment")
		equal(t, claimed[0].HTMLBody, "<p>hello</p>", "claimed HTML body")
		equal(t, claimed[0].MessageID, m.MessageID, "claimed Message-ID")
		if claimed[1].AttachmentDoc != nil {
			t.Errorf("mail without attachment claimed with %q", claimed[1].AttachmentDoc)
		}
	}},

	{"enqueue refuses bad input", func(t *testing.T, s store.Store) {
		cases := []struct {
			field string
			mod   func(*switchboard.Mail)
		}{
			{"kind", func(m *switchboard.Mail) { m.Kind = "spam" }},
			{"from", func(m *switchboard.Mail) { m.From = "" }},
			{"from", func(m *switchboard.Mail) { m.From = "a@example.com\r\nBcc: x@evil.test" }},
			{"from", func(m *switchboard.Mail) { m.From = "Support <support@example.com>" }},
			{"to", func(m *switchboard.Mail) { m.To = nil }},
			{"to", func(m *switchboard.Mail) { m.To = []string{"ann@example.com", "not an address"} }},
			{"to", func(m *switchboard.Mail) { m.To = []string{"ann@example.com\nBcc: x@evil.test"} }},
			{"to", func(m *switchboard.Mail) { m.To = []string{"ann@example.com, x@evil.test"} }},
			{"cc", func(m *switchboard.Mail) { m.CC = []string{"x@evil.test\r\nBcc: y@evil.test"} }},
			{"subject", func(m *switchboard.Mail) { m.Subject = "hi\r\nBcc: x@evil.test" }},
			{"subject", func(m *switchboard.Mail) { m.Subject = "hi\nthere" }},
			{"subject", func(m *switchboard.Mail) { m.Subject = "hi\rthere" }},
			{"subject", func(m *switchboard.Mail) { m.Subject = strings.Repeat("x", 1000) }},
			{"attachment_name", func(m *switchboard.Mail) { m.Attachment = "a\r\n.pdf"; m.AttachmentDoc = []byte("x") }},
			{"attachment_name", func(m *switchboard.Mail) { m.Attachment = "a.pdf" }},
			{"attachment_name", func(m *switchboard.Mail) { m.AttachmentDoc = []byte("x") }},
			{"text_body", func(m *switchboard.Mail) { m.TextBody = "" }},
		}
		for i, c := range cases {
			m := switchboard.Mail{Kind: switchboard.MailVisitor, From: "support@example.com",
				To: []string{"ann@example.com"}, Subject: "hi", TextBody: "hello"}
			c.mod(&m)
			wantInvalid(t, s.EnqueueMail(t.Context(), &m), c.field, fmt.Sprintf("case %d", i))
		}
		items, _, err := s.Mails(t.Context(), "", store.Page{})
		noErr(t, err, "Mails")
		equal(t, len(items), 0, "mails stored")
	}},

	{"claim takes due mails oldest first and leases them", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		var all []switchboard.Mail
		for i := range 5 {
			all = append(all, newMail(t, s, fmt.Sprintf("m%d", i)))
			time.Sleep(2 * time.Millisecond) // distinct CreatedAt
		}
		now := time.Now().Add(time.Second)
		got, err := s.ClaimMail(ctx, now, time.Minute, 2)
		noErr(t, err, "ClaimMail")
		equal(t, subjects(got), []string{"m0", "m1"}, "first claim")
		for _, m := range got {
			equal(t, m.NextAttemptAt, now.Add(time.Minute).UTC().Truncate(time.Millisecond), "claimed NextAttemptAt")
		}
		got, err = s.ClaimMail(ctx, now, time.Minute, 10)
		noErr(t, err, "ClaimMail")
		equal(t, subjects(got), []string{"m2", "m3", "m4"}, "second claim")
		got, err = s.ClaimMail(ctx, now.Add(30*time.Second), time.Minute, 10)
		noErr(t, err, "ClaimMail")
		if got == nil || len(got) != 0 {
			t.Errorf("claim within the lease = %v, want an empty list", subjects(got))
		}
		// A lease that ran out (the sender died) makes the mail due again.
		got, err = s.ClaimMail(ctx, now.Add(2*time.Minute), time.Minute, 10)
		noErr(t, err, "ClaimMail")
		equal(t, subjects(got), []string{"m0", "m1", "m2", "m3", "m4"}, "claim after the lease")

		// Not due yet: a mail enqueued now is not claimed an hour ago.
		got, err = s.ClaimMail(ctx, time.Now().Add(-time.Hour), time.Minute, 10)
		noErr(t, err, "ClaimMail")
		equal(t, len(got), 0, "mails claimed before they are due")

		_, err = s.ClaimMail(ctx, now, time.Minute, 0)
		wantInvalid(t, err, "limit", "ClaimMail with limit 0")
		_, err = s.ClaimMail(ctx, now, 0, 10)
		wantInvalid(t, err, "lease", "ClaimMail with lease 0")
	}},

	{"sent, retry and failed", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		a := newMail(t, s, "a")
		b := newMail(t, s, "b")
		c := newMail(t, s, "c")
		now := time.Now().Add(time.Second)
		_, err := s.ClaimMail(ctx, now, time.Minute, 10)
		noErr(t, err, "ClaimMail")

		sentAt := switchboard.Now()
		noErr(t, s.MailSent(ctx, a.ID, sentAt), "MailSent")
		next := now.Add(10 * time.Minute).UTC().Truncate(time.Millisecond)
		noErr(t, s.MailRetry(ctx, b.ID, 1, next, "421 try later"), "MailRetry")
		noErr(t, s.MailFailed(ctx, c.ID, "550 no such user"), "MailFailed")

		got := mailByID(t, s, a.ID)
		if got.Status != switchboard.MailSent || got.SentAt == nil || !got.SentAt.Equal(sentAt) || got.Attempts != 1 {
			t.Errorf("sent mail = %+v", got)
		}
		got = mailByID(t, s, b.ID)
		if got.Status != switchboard.MailPending || got.Attempts != 1 || !got.NextAttemptAt.Equal(next) || got.LastError != "421 try later" {
			t.Errorf("retried mail = %+v", got)
		}
		got = mailByID(t, s, c.ID)
		if got.Status != switchboard.MailFailed || got.Attempts != 1 || got.LastError != "550 no such user" || got.SentAt != nil {
			t.Errorf("failed mail = %+v", got)
		}

		// Only the retried mail comes back, and only when due.
		claimed, err := s.ClaimMail(ctx, next.Add(-time.Millisecond), time.Minute, 10)
		noErr(t, err, "ClaimMail")
		equal(t, len(claimed), 0, "mails claimed before the retry is due")
		claimed, err = s.ClaimMail(ctx, next, time.Minute, 10)
		noErr(t, err, "ClaimMail")
		equal(t, subjects(claimed), []string{"b"}, "claimed at the retry time")
		equal(t, claimed[0].LastError, "421 try later", "claimed LastError")
		equal(t, claimed[0].Attempts, 1, "claimed Attempts")

		// Final states stay final.
		noErr(t, s.MailRetry(ctx, a.ID, 5, now, "late"), "MailRetry of a sent mail")
		noErr(t, s.MailFailed(ctx, a.ID, "late"), "MailFailed of a sent mail")
		noErr(t, s.MailSent(ctx, c.ID, now), "MailSent of a failed mail")
		equal(t, mailByID(t, s, a.ID).Status, switchboard.MailSent, "sent mail after late updates")
		equal(t, mailByID(t, s, c.ID).Status, switchboard.MailFailed, "failed mail after late updates")

		wantNotFound(t, s.MailSent(ctx, "nope", now), "MailSent of an unknown mail")
		wantNotFound(t, s.MailRetry(ctx, "nope", 1, now, "x"), "MailRetry of an unknown mail")
		wantNotFound(t, s.MailFailed(ctx, "nope", "x"), "MailFailed of an unknown mail")
	}},

	{"list by status, newest first, paged", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		var want []string
		for i := range 7 {
			m := newMail(t, s, fmt.Sprintf("m%d", i))
			want = append(want, m.Subject)
			if i%3 == 0 {
				_, err := s.ClaimMail(ctx, time.Now().Add(time.Second), time.Minute, 1)
				noErr(t, err, "ClaimMail")
				noErr(t, s.MailFailed(ctx, m.ID, "boom"), "MailFailed")
			}
			time.Sleep(2 * time.Millisecond)
		}
		slices.Reverse(want)
		all := allPages(t, 2, func(p store.Page) ([]switchboard.Mail, string, error) { return s.Mails(ctx, "", p) })
		equal(t, subjects(all), want, "every mail")
		failed := allPages(t, 2, func(p store.Page) ([]switchboard.Mail, string, error) {
			return s.Mails(ctx, switchboard.MailFailed, p)
		})
		equal(t, subjects(failed), []string{"m6", "m3", "m0"}, "failed mails")
		pending := allPages(t, 3, func(p store.Page) ([]switchboard.Mail, string, error) {
			return s.Mails(ctx, switchboard.MailPending, p)
		})
		equal(t, subjects(pending), []string{"m5", "m4", "m2", "m1"}, "pending mails")

		_, _, err := s.Mails(ctx, "lost", store.Page{})
		wantInvalid(t, err, "status", "Mails with an unknown status")
		_, _, err = s.Mails(ctx, "", store.Page{Cursor: "garbage!"})
		wantInvalid(t, err, "cursor", "Mails with a bad cursor")
	}},

	{"cancel a chat's pending mail", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		sent := newMail(t, s, "sent", func(m *switchboard.Mail) { m.ChatID = "c1" })
		_, err := s.ClaimMail(ctx, time.Now().Add(time.Second), time.Minute, 1)
		noErr(t, err, "ClaimMail")
		noErr(t, s.MailSent(ctx, sent.ID, switchboard.Now()), "MailSent")
		pending := newMail(t, s, "pending", func(m *switchboard.Mail) { m.ChatID = "c1" })
		other := newMail(t, s, "other chat", func(m *switchboard.Mail) { m.ChatID = "c2" })

		noErr(t, s.CancelChatMail(ctx, "c1"), "CancelChatMail")
		noErr(t, s.CancelChatMail(ctx, "c-without-mail"), "CancelChatMail of a chat without mail")
		equal(t, mailByID(t, s, sent.ID).Status, switchboard.MailSent, "sent mail")
		equal(t, mailByID(t, s, pending.ID).Status, switchboard.MailCancelled, "pending mail")
		equal(t, mailByID(t, s, other.ID).Status, switchboard.MailPending, "other chat's mail")

		claimed, err := s.ClaimMail(ctx, time.Now().Add(time.Hour), time.Minute, 10)
		noErr(t, err, "ClaimMail")
		equal(t, subjects(claimed), []string{"other chat"}, "claimable after cancel")
		noErr(t, s.MailRetry(ctx, pending.ID, 3, time.Now(), "x"), "MailRetry of a cancelled mail")
		equal(t, mailByID(t, s, pending.ID).Status, switchboard.MailCancelled, "cancelled mail after MailRetry")
	}},

	{"concurrent claimers never share a mail", func(t *testing.T, s store.Store) {
		const n, workers = 60, 4
		for i := range n {
			newMail(t, s, fmt.Sprintf("m%02d", i))
		}
		now := time.Now().Add(time.Second)
		var (
			mu  sync.Mutex
			got = map[string]int{}
			wg  sync.WaitGroup
		)
		for range workers {
			wg.Go(func() {
				for {
					ms, err := s.ClaimMail(t.Context(), now, time.Minute, 3)
					if err != nil {
						t.Errorf("ClaimMail: %v", err)
						return
					}
					if len(ms) == 0 {
						return
					}
					mu.Lock()
					for _, m := range ms {
						got[m.ID]++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(got) != n {
			t.Errorf("%d distinct mails claimed, want %d", len(got), n)
		}
		for id, c := range got {
			if c != 1 {
				t.Errorf("mail %s claimed %d times", id, c)
			}
		}
	}},
}
