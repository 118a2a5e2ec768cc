package storetest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/mailer/templates"
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

	{"a mail without from is the server's sender's", func(t *testing.T, s store.Store) {
		m := newMail(t, s, "no from", func(m *switchboard.Mail) { m.From = "  " })
		equal(t, m.From, "", "From")
		if !strings.HasSuffix(m.MessageID, "@switchboard.invalid>") {
			t.Errorf("MessageID = %q, want the fallback domain without a composer's public URL", m.MessageID)
		}
		c, err := templates.New("https://chat.example.com:8443/")
		noErr(t, err, "templates.New")
		s.SetMailComposer(c)
		m = newMail(t, s, "no from, public URL", func(m *switchboard.Mail) { m.From = "" })
		if !strings.HasSuffix(m.MessageID, "@chat.example.com>") {
			t.Errorf("MessageID = %q, want the public URL's host", m.MessageID)
		}
	}},

	{"event mails follow the department's settings", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		c, err := templates.New("https://chat.example.com")
		noErr(t, err, "templates.New")
		s.SetMailComposer(c)
		all := func(on bool) func(d *switchboard.Department) {
			return func(d *switchboard.Department) {
				d.Email = switchboard.EmailSettings{
					FromAddress: "desk@example.com",
					Transcript:  switchboard.EmailSetting{Enabled: on, To: []string{"t1@example.com", "t2@example.com"}},
					Missed:      switchboard.EmailSetting{Enabled: on, To: []string{"m@example.com"}},
					Feedback:    switchboard.EmailSetting{Enabled: on, To: []string{"f@example.com"}},
					BlockedIP:   switchboard.EmailSetting{Enabled: on, To: []string{"b@example.com"}},
					CC:          switchboard.EmailSetting{Enabled: on, To: []string{"cc@example.com"}},
				}
			}
		}
		on := newDepartment(t, s, "Sales <on>", all(true))
		off := newDepartment(t, s, "Quiet", all(false))
		empty := newDepartment(t, s, "Nobody", func(d *switchboard.Department) {
			d.Email.Transcript.Enabled, d.Email.Missed.Enabled, d.Email.Feedback.Enabled = true, true, true
		})
		op := newOperator(t, s, "olga@example.com", switchboard.RoleOperator)
		for _, d := range []switchboard.Department{on, off, empty} {
			ended := newChat(t, s, d, "what does it cost?", func(nc *store.NewChat) {
				nc.Visitor.Email = "vera@example.com"
				nc.Visitor.Locale = "ja"
			})
			_, err := s.AssignChat(ctx, ended.ID, op.ID, time.Now())
			noErr(t, err, "AssignChat")
			for i, body := range []string{"hello <b>", "it costs 5"} {
				_, _, err := s.AppendMessage(ctx, store.NewMessage{ChatID: ended.ID, ClientMsgID: fmt.Sprint(i),
					FromKind: switchboard.FromVisitor, FromID: ended.VisitorID, FromName: "Vera", Body: body})
				noErr(t, err, "AppendMessage")
			}
			_, err = s.EndChat(ctx, ended.ID, time.Now())
			noErr(t, err, "EndChat")
			noErr(t, s.SaveFeedback(ctx, switchboard.Feedback{ChatID: ended.ID, Rating: 4, Comment: "quick & kind"}), "SaveFeedback")
			missed := newChat(t, s, d, "anyone there?\ncall me", func(nc *store.NewChat) {
				nc.Visitor.Email = "max@example.com"
				nc.Visitor.Name = "Max"
			})
			_, err = s.MissChat(ctx, missed.ID, time.Now())
			noErr(t, err, "MissChat")
			// Missed at once, nobody being online: the same notice.
			missedAtOnce := newChat(t, s, d, "hello?", func(nc *store.NewChat) { nc.Status = switchboard.ChatMissed })
			atOnceMails, err := s.ChatMails(ctx, missedAtOnce.ID)
			noErr(t, err, "ChatMails")
			if want := map[bool]int{true: 1, false: 0}[d.ID == on.ID]; len(atOnceMails) != want ||
				want == 1 && (atOnceMails[0].Kind != switchboard.MailMissed || !strings.Contains(atOnceMails[0].TextBody, "hello?")) {
				t.Errorf("%s: mails of a chat missed at once = %+v, want %d missed notice", d.Name, atOnceMails, want)
			}

			endedMails, err := s.ChatMails(ctx, ended.ID)
			noErr(t, err, "ChatMails")
			missedMails, err := s.ChatMails(ctx, missed.ID)
			noErr(t, err, "ChatMails")
			if d.ID != on.ID {
				if len(endedMails)+len(missedMails) != 0 {
					t.Errorf("%s: mails %v and %v with the settings off or empty", d.Name, subjects(endedMails), subjects(missedMails))
				}
				continue
			}
			if len(endedMails) != 2 || len(missedMails) != 1 {
				t.Fatalf("mails of the ended chat %v, of the missed one %v; want transcript and feedback, and missed",
					subjects(endedMails), subjects(missedMails))
			}
			tr, fb, ms := endedMails[0], endedMails[1], missedMails[0]
			for _, m := range []switchboard.Mail{tr, fb, ms} {
				if m.From != "desk@example.com" || m.DepartmentID != on.ID || m.Status != switchboard.MailPending ||
					len(m.CC) != 0 || m.HTMLBody == "" || !strings.Contains(m.Subject, "Sales <on>") ||
					!strings.Contains(m.TextBody, "https://chat.example.com/#/chats/") {
					t.Errorf("mail %+v", m)
				}
				if strings.Contains(m.HTMLBody, "<on>") || strings.Contains(m.HTMLBody, "<b>") {
					t.Errorf("unescaped user text in %s HTML:\n%s", m.Kind, m.HTMLBody)
				}
			}
			equal(t, tr.Kind, switchboard.MailTranscript, "first mail of the ended chat")
			equal(t, tr.To, []string{"t1@example.com", "t2@example.com"}, "transcript To")
			for _, want := range []string{"hello <b>", "it costs 5", "olga", "vera@example.com", "チャット履歴"} {
				if !strings.Contains(tr.TextBody, want) {
					t.Errorf("transcript lacks %q:\n%s", want, tr.TextBody)
				}
			}
			equal(t, fb.Kind, switchboard.MailFeedback, "second mail of the ended chat")
			equal(t, fb.To, []string{"f@example.com"}, "feedback To")
			if !strings.Contains(fb.TextBody, "quick & kind") || !strings.Contains(fb.TextBody, "4/5") {
				t.Errorf("feedback body:\n%s", fb.TextBody)
			}
			equal(t, ms.Kind, switchboard.MailMissed, "mail of the missed chat")
			equal(t, ms.To, []string{"m@example.com"}, "missed To")
			for _, want := range []string{"anyone there?\ncall me", "Max", "max@example.com", "192.0.2.7", "https://example.com/pricing"} {
				if !strings.Contains(ms.TextBody, want) {
					t.Errorf("missed notice lacks %q:\n%s", want, ms.TextBody)
				}
			}
		}
	}},

	{"an event without a live department queues no mail", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		d := newDepartment(t, s, "Gone", func(d *switchboard.Department) {
			d.Email.Transcript = switchboard.EmailSetting{Enabled: true, To: []string{"t@example.com"}}
		})
		newDepartment(t, s, "Stays")
		ch := newChat(t, s, d, "hi")
		noErr(t, s.DeleteDepartment(ctx, d.ID, ""), "DeleteDepartment")
		_, err := s.EndChat(ctx, ch.ID, time.Now())
		noErr(t, err, "EndChat")
		mails, err := s.ChatMails(ctx, ch.ID)
		noErr(t, err, "ChatMails")
		equal(t, len(mails), 0, "mails of a deleted department's chat")
	}},

	{"list filters by status and kind; a failed mail can be retried", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		// Apart in time: the list's order is by creation.
		a := newMail(t, s, "a")
		time.Sleep(2 * time.Millisecond)
		b := newMail(t, s, "b", func(m *switchboard.Mail) { m.Kind = switchboard.MailMissed })
		time.Sleep(2 * time.Millisecond)
		c := newMail(t, s, "c", func(m *switchboard.Mail) { m.Kind = switchboard.MailMissed })
		noErr(t, s.MailFailed(ctx, b.ID, "550 no such user"), "MailFailed")
		noErr(t, s.MailSent(ctx, c.ID, time.Now()), "MailSent")
		list := func(f store.MailFilter) []string {
			items, _, err := s.ListMails(ctx, f, store.Page{})
			noErr(t, err, "ListMails")
			return subjects(items)
		}
		equal(t, list(store.MailFilter{}), []string{"c", "b", "a"}, "every mail")
		equal(t, list(store.MailFilter{Kind: switchboard.MailMissed}), []string{"c", "b"}, "missed mails")
		equal(t, list(store.MailFilter{Kind: switchboard.MailMissed, Status: switchboard.MailFailed}), []string{"b"}, "failed missed mails")
		equal(t, list(store.MailFilter{Kind: switchboard.MailVisitor}), []string{}, "visitor mails")
		_, _, err := s.ListMails(ctx, store.MailFilter{Kind: "spam"}, store.Page{})
		wantInvalid(t, err, "kind", "unknown kind")
		_, _, err = s.ListMails(ctx, store.MailFilter{Status: "lost"}, store.Page{})
		wantInvalid(t, err, "status", "unknown status")

		at := time.Now().Add(time.Second)
		r, err := s.RetryMail(ctx, b.ID, at)
		noErr(t, err, "RetryMail")
		if r.Status != switchboard.MailPending || r.Attempts != 1 || r.LastError != "550 no such user" || !r.NextAttemptAt.Equal(msTime(at)) {
			t.Errorf("retried mail = %+v", r)
		}
		claimed, err := s.ClaimMail(ctx, at, time.Minute, 10)
		noErr(t, err, "ClaimMail")
		equal(t, subjects(claimed), []string{"a", "b"}, "claimed after the retry")
		_, err = s.RetryMail(ctx, a.ID, at)
		wantConflict(t, err, "status", "retry of a pending mail")
		_, err = s.RetryMail(ctx, "no-such-mail", at)
		wantNotFound(t, err, "retry of an unknown mail")
	}},

	{"a visitor mail is audited with it and needs its chat", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		d := newDepartment(t, s, "Sales")
		ch := newChat(t, s, d, "hi")
		op := newOperator(t, s, "olga@example.com", switchboard.RoleOperator)
		m := switchboard.Mail{Kind: switchboard.MailVisitor, ChatID: ch.ID, To: []string{"vera@example.com"},
			CC: []string{"cc@example.com"}, Subject: "Re: hi", TextBody: "hello"}
		at := time.Now()
		noErr(t, s.EnqueueVisitorMail(ctx, &m, op.ID, at), "EnqueueVisitorMail")
		if m.ID == "" || m.Status != switchboard.MailPending {
			t.Errorf("queued mail = %+v", m)
		}
		log, _, err := s.AuditLog(ctx, store.Page{})
		noErr(t, err, "AuditLog")
		if len(log) != 1 || log[0].Action != "chat.email" || log[0].ActorID != op.ID || log[0].ObjectType != "chat" || log[0].ObjectID != ch.ID {
			t.Errorf("audit log = %+v", log)
		}
		bad := switchboard.Mail{Kind: switchboard.MailVisitor, ChatID: "no-such-chat", To: []string{"vera@example.com"}, Subject: "x", TextBody: "y"}
		wantNotFound(t, s.EnqueueVisitorMail(ctx, &bad, op.ID, at), "mail to the visitor of an unknown chat")
		bad = switchboard.Mail{Kind: switchboard.MailVisitor, ChatID: ch.ID, To: []string{"vera@example.com"}, Subject: "x\r\nBcc: e@evil.test", TextBody: "y"}
		wantInvalid(t, s.EnqueueVisitorMail(ctx, &bad, op.ID, at), "subject", "CR/LF in the subject")
		bad = switchboard.Mail{Kind: switchboard.MailMissed, ChatID: ch.ID, To: []string{"vera@example.com"}, Subject: "x", TextBody: "y"}
		wantInvalid(t, s.EnqueueVisitorMail(ctx, &bad, op.ID, at), "kind", "another kind")
		mails, err := s.ChatMails(ctx, ch.ID)
		noErr(t, err, "ChatMails")
		equal(t, len(mails), 1, "mails queued")
		log, _, err = s.AuditLog(ctx, store.Page{})
		noErr(t, err, "AuditLog")
		equal(t, len(log), 1, "audit entries")
	}},
}
