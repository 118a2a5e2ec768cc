package mailer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/textproto"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/internal/testenv"
	"github.com/switchboard-chat/switchboard/internal/teststore"
	"github.com/switchboard-chat/switchboard/mailer"
	"github.com/switchboard-chat/switchboard/store"
	"github.com/switchboard-chat/switchboard/store/postgres"
	"github.com/switchboard-chat/switchboard/store/sqlite"
)

// A full mail goes from the outbox through a real SMTP server, and arrives
// with every header, both bodies and the attachment.
func TestDeliversThroughOutbox(t *testing.T) {
	t.Parallel()
	teststore.Each(t, func(t *testing.T, st store.Store) {
		mp := testenv.SMTP(t)
		doc := []byte("会話の記録\nvisitor: こんにちは\n")
		m := enqueue(t, st, "チャットの記録 — Transcript", func(m *switchboard.Mail) {
			m.Kind = switchboard.MailTranscript
			m.From = "support@example.jp"
			m.To = []string{"ann@example.com", "bob@example.org"}
			m.CC = []string{"boss@example.net"}
			m.TextBody = "こんにちは、Ann。\nThe transcript is attached."
			m.HTMLBody = "<p>こんにちは、<b>Ann</b>。</p>"
			m.Attachment = "transcript.txt"
			m.AttachmentDoc = doc
		})
		w, _ := runWorker(t, fastConfig(st, newSMTP(t, mp.SMTPURL)))
		w.Wake()
		got := mp.WaitMessages(t, 1, 10*time.Second)[0]

		if got.From.Address != "support@example.jp" {
			t.Errorf("From = %+v", got.From)
		}
		if len(got.To) != 2 || got.To[0].Address != "ann@example.com" || got.To[1].Address != "bob@example.org" {
			t.Errorf("To = %+v", got.To)
		}
		if len(got.Cc) != 1 || got.Cc[0].Address != "boss@example.net" {
			t.Errorf("Cc = %+v", got.Cc)
		}
		if got.Subject != m.Subject {
			t.Errorf("Subject = %q, want %q", got.Subject, m.Subject)
		}
		if "<"+got.MessageID+">" != m.MessageID {
			t.Errorf("Message-ID = %q, want %q", got.MessageID, m.MessageID)
		}
		if strings.TrimSpace(got.Text) != m.TextBody {
			t.Errorf("Text = %q, want %q", got.Text, m.TextBody)
		}
		if !strings.Contains(got.HTML, m.HTMLBody) {
			t.Errorf("HTML = %q, want it to hold %q", got.HTML, m.HTMLBody)
		}
		if len(got.Attachments) != 1 || got.Attachments[0].FileName != "transcript.txt" ||
			!strings.HasPrefix(got.Attachments[0].ContentType, "text/plain") {
			t.Fatalf("Attachments = %+v", got.Attachments)
		}
		if part := mp.Part(t, got.ID, got.Attachments[0].PartID); !bytes.Equal(part, doc) {
			t.Errorf("attachment = %q, want %q", part, doc)
		}
		raw := string(mp.Raw(t, got.ID))
		if !strings.Contains(raw, "multipart/alternative") {
			t.Errorf("raw message has no multipart/alternative part:\n%s", raw)
		}

		waitFor(t, 5*time.Second, "the mail marked sent", func() bool { return mail(t, st, m.ID).Status == switchboard.MailSent })
		if sent := mail(t, st, m.ID); sent.Attempts != 1 || sent.SentAt == nil || sent.LastError != "" {
			t.Errorf("stored mail = %+v", sent)
		}
	})
}

// ambiguous sends for real, then reports a temporary error the first fails
// times: the server got the mail but the client could not know.
type ambiguous struct {
	next  mailer.Sender
	fails atomic.Int32
	sends atomic.Int32
}

func (s *ambiguous) Send(ctx context.Context, m switchboard.Mail) error {
	s.sends.Add(1)
	if err := s.next.Send(ctx, m); err != nil {
		return err
	}
	if s.fails.Add(-1) >= 0 {
		return errors.New("read tcp: connection reset by peer")
	}
	return nil
}

// A retry after an ambiguous failure sends the same Message-ID again.
func TestRetryKeepsMessageID(t *testing.T) {
	t.Parallel()
	st := teststore.Open(t, "sqlite")
	mp := testenv.SMTP(t)
	s := &ambiguous{next: newSMTP(t, mp.SMTPURL)}
	s.fails.Store(1)
	m := enqueue(t, st, "twice")
	runWorker(t, fastConfig(st, s))
	msgs := mp.WaitMessages(t, 2, 10*time.Second)
	for _, got := range msgs {
		if "<"+got.MessageID+">" != m.MessageID {
			t.Errorf("attempt sent Message-ID %q, want %q", got.MessageID, m.MessageID)
		}
	}
	waitFor(t, 5*time.Second, "the mail marked sent", func() bool { return mail(t, st, m.ID).Status == switchboard.MailSent })
	if got := mail(t, st, m.ID); got.Attempts != 2 {
		t.Errorf("Attempts = %d, want 2", got.Attempts)
	}
}

// With the SMTP server down, mails stay pending and are retried with
// backoff; when the server comes up, they all arrive, once each.
func TestSMTPDownThenUp(t *testing.T) {
	t.Parallel()
	st := teststore.Open(t, "sqlite")
	port := freePort(t) // nobody listens: connections are refused
	sender := newSMTP(t, fmt.Sprintf("smtp://127.0.0.1:%d", port))
	var ids []string
	for i := range 5 {
		ids = append(ids, enqueue(t, st, fmt.Sprintf("chat %d ended", i)).ID)
	}
	runWorker(t, fastConfig(st, sender))

	waitFor(t, 10*time.Second, "three attempts of each mail", func() bool {
		for _, id := range ids {
			if mail(t, st, id).Attempts < 3 {
				return false
			}
		}
		return true
	})
	for _, id := range ids {
		m := mail(t, st, id)
		if m.Status != switchboard.MailPending || !strings.Contains(m.LastError, "refused") {
			t.Fatalf("mail while SMTP is down = %+v, want pending with a refused connection", m)
		}
		if m.NextAttemptAt.Before(m.CreatedAt.Add(100 * time.Millisecond)) {
			t.Errorf("retry at %v, created at %v: no backoff", m.NextAttemptAt, m.CreatedAt)
		}
	}

	mp := startMailpit(t, port)
	msgs := mp.WaitMessages(t, 5, 10*time.Second)
	waitFor(t, 5*time.Second, "every mail marked sent", func() bool {
		for _, id := range ids {
			if mail(t, st, id).Status != switchboard.MailSent {
				return false
			}
		}
		return true
	})
	time.Sleep(200 * time.Millisecond) // room for a duplicate to show up
	msgs = mp.Messages(t)
	if len(msgs) != 5 {
		t.Errorf("%d messages arrived, want 5", len(msgs))
	}
}

// A 5xx reply fails the mail at once, with the server's reply as its error.
func TestPermanentFailure(t *testing.T) {
	t.Parallel()
	st := teststore.Open(t, "sqlite")
	mp := startMailpit(t, 0, "--smtp-allowed-recipients", `^ok@example\.com$`)
	bad := enqueue(t, st, "to nobody", func(m *switchboard.Mail) { m.To = []string{"nobody@example.com"} })
	good := enqueue(t, st, "to ok", func(m *switchboard.Mail) { m.To = []string{"ok@example.com"} })
	runWorker(t, fastConfig(st, newSMTP(t, mp.SMTPURL)))
	waitFor(t, 10*time.Second, "both mails settled", func() bool {
		return mail(t, st, bad.ID).Status != switchboard.MailPending && mail(t, st, good.ID).Status != switchboard.MailPending
	})
	got := mail(t, st, bad.ID)
	if got.Status != switchboard.MailFailed || got.Attempts != 1 || !strings.Contains(got.LastError, "550") {
		t.Errorf("rejected mail = %+v, want failed after 1 attempt with a 550", got)
	}
	failed, _, err := st.Mails(t.Context(), switchboard.MailFailed, store.Page{})
	if err != nil || len(failed) != 1 || failed[0].ID != bad.ID {
		t.Errorf("Mails(failed) = %+v, %v", failed, err)
	}
	if got := mail(t, st, good.ID); got.Status != switchboard.MailSent {
		t.Errorf("accepted mail = %+v", got)
	}
	if msgs := mp.Messages(t); len(msgs) != 1 || msgs[0].Subject != "to ok" {
		t.Errorf("Mailpit holds %d messages, want only %q", len(msgs), "to ok")
	}
}

// failing fails every send temporarily and calls hook first.
type failing struct{ hook func() }

func (s failing) Send(context.Context, switchboard.Mail) error {
	if s.hook != nil {
		s.hook()
	}
	return &textproto.Error{Code: 421, Msg: "4.3.2 try again later"}
}

// A worker stopped mid-batch hands back what it claimed; a new worker on the
// reopened store sends everything still pending.
func TestRestartSendsPending(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "switchboard.db")
	st1, err := sqlite.Open(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st1.Close()
	var ids []string
	for i := range 3 {
		ids = append(ids, enqueue(t, st1, fmt.Sprintf("m%d", i)).ID)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w1, err := mailer.New(fastConfig(st1, failing{hook: cancel})) // stops after its first send
	if err != nil {
		t.Fatal(err)
	}
	w1.Run(ctx)
	var tried, released int
	for _, id := range ids {
		m := mail(t, st1, id)
		switch {
		case m.Status != switchboard.MailPending:
			t.Errorf("mail after the first worker = %+v, want pending", m)
		case m.Attempts == 1 && strings.Contains(m.LastError, "421"):
			tried++
		case m.Attempts == 0 && !m.NextAttemptAt.After(time.Now()):
			released++
		}
	}
	if tried != 1 || released != 2 {
		t.Errorf("after stopping: %d tried, %d handed back; want 1 and 2", tried, released)
	}
	if err := st1.Close(); err != nil {
		t.Fatal(err)
	}

	st2, err := sqlite.Open(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	mp := testenv.SMTP(t)
	runWorker(t, fastConfig(st2, newSMTP(t, mp.SMTPURL)))
	mp.WaitMessages(t, 3, 10*time.Second)
	waitFor(t, 5*time.Second, "every mail marked sent", func() bool {
		for _, id := range ids {
			if mail(t, st2, id).Status != switchboard.MailSent {
				return false
			}
		}
		return true
	})
}

// Two workers on two stores of one PostgreSQL database (two nodes) send
// each mail exactly once.
func TestTwoWorkersSendOnce(t *testing.T) {
	t.Parallel()
	url := testenv.PostgresURL(t)
	open := func() store.Store {
		st, err := postgres.Open(t.Context(), url, nil)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	st1, st2 := open(), open()
	mp := testenv.SMTP(t)
	const n = 30
	for i := range n {
		enqueue(t, st1, fmt.Sprintf("m%02d", i))
	}
	var sent1, sent2 atomic.Int32
	for _, w := range []struct {
		st store.Store
		n  *atomic.Int32
	}{{st1, &sent1}, {st2, &sent2}} {
		c := fastConfig(w.st, counting{newSMTP(t, mp.SMTPURL), w.n})
		c.Interval = 5 * time.Millisecond
		c.Batch = 2
		runWorker(t, c)
	}
	mp.WaitMessages(t, n, 20*time.Second)
	time.Sleep(300 * time.Millisecond) // room for a duplicate to show up
	msgs := mp.Messages(t)
	seen := map[string]bool{}
	for _, m := range msgs {
		if seen[m.MessageID] {
			t.Errorf("Message-ID %s arrived twice", m.MessageID)
		}
		seen[m.MessageID] = true
	}
	if len(msgs) != n || len(seen) != n {
		t.Errorf("%d messages (%d distinct) arrived, want %d", len(msgs), len(seen), n)
	}
	t.Logf("worker 1 sent %d, worker 2 sent %d", sent1.Load(), sent2.Load())
}

type counting struct {
	next mailer.Sender
	n    *atomic.Int32
}

func (c counting) Send(ctx context.Context, m switchboard.Mail) error {
	c.n.Add(1)
	return c.next.Send(ctx, m)
}

// Header injection through the subject or an address is refused when the
// mail is queued, on both backends.
func TestEnqueueRefusesHeaderInjection(t *testing.T) {
	t.Parallel()
	teststore.Each(t, func(t *testing.T, st store.Store) {
		cases := []struct {
			field string
			mod   func(*switchboard.Mail)
		}{
			{"subject", func(m *switchboard.Mail) { m.Subject = "Hello\r\nBcc: victim@example.com" }},
			{"subject", func(m *switchboard.Mail) { m.Subject = "Hello\nBcc: victim@example.com" }},
			{"to", func(m *switchboard.Mail) { m.To = []string{"ann@example.com\r\nBcc: victim@example.com"} }},
			{"cc", func(m *switchboard.Mail) { m.CC = []string{"ann@example.com\nBcc: victim@example.com"} }},
			{"from", func(m *switchboard.Mail) { m.From = "support@example.com\rBcc: victim@example.com" }},
		}
		for _, c := range cases {
			m := switchboard.Mail{Kind: switchboard.MailVisitor, From: "support@example.com",
				To: []string{"ann@example.com"}, Subject: "hi", TextBody: "hello"}
			c.mod(&m)
			err := st.EnqueueMail(t.Context(), &m)
			var ve *switchboard.ValidationError
			if !errors.As(err, &ve) || ve.Field != c.field {
				t.Errorf("EnqueueMail(%+v) = %v, want a ValidationError for %q", m, err, c.field)
			}
		}
		if items, _, err := st.Mails(t.Context(), "", store.Page{}); err != nil || len(items) != 0 {
			t.Errorf("Mails = %d items, %v; want none", len(items), err)
		}
	})
}

// A mail that cannot be built (it skipped the store's checks) is a
// permanent error and sends nothing.
func TestMessageRefusesLineBreaks(t *testing.T) {
	t.Parallel()
	base := switchboard.Mail{ID: "m1", MessageID: "<abc@example.com>", From: "support@example.com",
		To: []string{"ann@example.com"}, Subject: "hi", TextBody: "hello"}
	for _, mod := range []func(*switchboard.Mail){
		func(m *switchboard.Mail) { m.Subject = "hi\r\nBcc: x@example.com" },
		func(m *switchboard.Mail) { m.To = []string{"ann@example.com\r\nBcc: x@example.com"} },
		func(m *switchboard.Mail) { m.CC = []string{"x@example.com\n"} },
		func(m *switchboard.Mail) { m.MessageID = "<a@b>\r\nBcc: x@example.com" },
		func(m *switchboard.Mail) { m.Attachment, m.AttachmentDoc = "a\r\n.txt", []byte("x") },
	} {
		m := base
		mod(&m)
		if _, err := mailer.Message(m); err == nil || mailer.IsTemporary(err) {
			t.Errorf("Message(%+v) = %v, want a permanent error", m, err)
		}
	}
	if _, err := mailer.Message(base); err != nil {
		t.Errorf("Message(valid) = %v", err)
	}
}

func TestIsTemporary(t *testing.T) {
	t.Parallel()
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}
	for _, c := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{&textproto.Error{Code: 421, Msg: "try later"}, true},
		{fmt.Errorf("send: %w", &textproto.Error{Code: 450, Msg: "mailbox busy"}), true},
		{&textproto.Error{Code: 550, Msg: "no such user"}, false},
		{&textproto.Error{Code: 535, Msg: "bad credentials"}, false},
		{fmt.Errorf("dial failed: %w", refused), true},
		{context.DeadlineExceeded, true},
		{errors.New("read: connection reset by peer"), true},
		{mailer.Permanent(errors.New("no")), false},
		{mailer.Permanent(&textproto.Error{Code: 421}), false},
	} {
		if got := mailer.IsTemporary(c.err); got != c.want {
			t.Errorf("IsTemporary(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// A real refused connection is temporary.
func TestRefusedIsTemporary(t *testing.T) {
	t.Parallel()
	s := newSMTP(t, fmt.Sprintf("smtp://127.0.0.1:%d", freePort(t)))
	err := s.Send(t.Context(), switchboard.Mail{ID: "m", MessageID: "<a@example.com>", From: "a@example.com",
		To: []string{"b@example.com"}, Subject: "s", TextBody: "t"})
	if err == nil || !mailer.IsTemporary(err) {
		t.Errorf("Send to a closed port = %v, want a temporary error", err)
	}

	// A session that cannot be set up (here: STARTTLS required, and Mailpit
	// has none) is the configuration's fault, not the mail's: temporary.
	mp := testenv.SMTP(t)
	s = newSMTP(t, mp.SMTPURL+"?starttls=require")
	err = s.Send(t.Context(), switchboard.Mail{ID: "m", MessageID: "<a@example.com>", From: "a@example.com",
		To: []string{"b@example.com"}, Subject: "s", TextBody: "t"})
	if err == nil || !mailer.IsTemporary(err) {
		t.Errorf("Send requiring STARTTLS from a server without it = %v, want a temporary error", err)
	}
}

func TestNewSMTPURL(t *testing.T) {
	t.Parallel()
	for _, u := range []string{
		"smtp://127.0.0.1:1025", "smtp://user:pass@mail.example.com", "smtp://h:25?starttls=require",
		"smtp://h:25?starttls=none", "smtps://user:p%40ss@mail.example.com", "smtp://u:p@h:25?auth=plain-noenc",
	} {
		if _, err := mailer.NewSMTP(u, mailer.SMTPOptions{}); err != nil {
			t.Errorf("NewSMTP(%q) = %v", u, err)
		}
	}
	for _, u := range []string{
		"http://h:25", "smtp://", "smtp://h:0", "smtp://h:99999", "smtp://h:x", "smtp://h?starttls=maybe",
		"smtps://h?starttls=require", "smtp://u:p@h?auth=carrier-pigeon", "::",
	} {
		if _, err := mailer.NewSMTP(u, mailer.SMTPOptions{}); err == nil {
			t.Errorf("NewSMTP(%q) = nil error", u)
		}
	}
}

// A temporary error past MaxAge fails the mail.
func TestMaxAgeFails(t *testing.T) {
	t.Parallel()
	st := teststore.Open(t, "sqlite")
	m := enqueue(t, st, "old")
	c := fastConfig(st, failing{})
	c.Clock = func() time.Time { return time.Now().Add(25 * time.Hour) }
	runWorker(t, c)
	waitFor(t, 5*time.Second, "the mail failed", func() bool { return mail(t, st, m.ID).Status == switchboard.MailFailed })
	if got := mail(t, st, m.ID); !strings.Contains(got.LastError, "gave up") || !strings.Contains(got.LastError, "421") {
		t.Errorf("LastError = %q", got.LastError)
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	w, err := mailer.New(mailer.Config{Store: teststore.Open(t, "sqlite"), Sender: failing{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		attempts int
		want     time.Duration
	}{{1, 30 * time.Second}, {2, time.Minute}, {3, 2 * time.Minute}, {7, 32 * time.Minute}, {8, time.Hour}, {100, time.Hour}} {
		for range 20 {
			if got := w.Backoff(c.attempts); got > c.want || got < c.want*3/4 {
				t.Errorf("Backoff(%d) = %v, want %v less up to 25%%", c.attempts, got, c.want)
			}
		}
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	st := teststore.Open(t, "sqlite")
	for _, c := range []mailer.Config{
		{Sender: failing{}},
		{Store: st},
		{Store: st, Sender: failing{}, Lease: time.Second, SendTimeout: time.Minute},
		{Store: st, Sender: failing{}, BackoffBase: time.Hour, BackoffMax: time.Minute},
		{Store: st, Sender: failing{}, Interval: -1},
	} {
		if _, err := mailer.New(c); err == nil {
			t.Errorf("New(%+v) = nil error", c)
		}
	}
}

func TestLogSender(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	s := mailer.NewLogSender(slog.New(slog.NewTextHandler(&buf, nil)))
	err := s.Send(t.Context(), switchboard.Mail{ID: "m1", MessageID: "<a@example.com>", From: "a@example.com",
		To: []string{"b@example.com"}, Subject: "件名", TextBody: "本文"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"件名", "本文", "b@example.com", "<a@example.com>", "component=mailer"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log %q lacks %q", buf.String(), want)
		}
	}
	if err := mailer.NewLogSender(nil).Send(t.Context(), switchboard.Mail{}); err != nil {
		t.Errorf("Send with a nil logger: %v", err)
	}
}

// slow takes its time and records whether each send began with enough of
// its lease left to finish.
type slow struct {
	delay, timeout time.Duration
	late, sends    atomic.Int32
}

func (s *slow) Send(ctx context.Context, m switchboard.Mail) error {
	s.sends.Add(1)
	if time.Now().Add(s.timeout).After(m.NextAttemptAt) {
		s.late.Add(1)
	}
	time.Sleep(s.delay)
	return nil
}

// A worker never starts a send that its lease may not cover: slow sends
// leave the rest of a batch to be claimed again.
func TestLeaseCoversEverySend(t *testing.T) {
	t.Parallel()
	st := teststore.Open(t, "sqlite")
	var ids []string
	for i := range 4 {
		ids = append(ids, enqueue(t, st, fmt.Sprintf("m%d", i)).ID)
	}
	s := &slow{delay: 120 * time.Millisecond, timeout: 200 * time.Millisecond}
	c := fastConfig(st, s)
	c.Lease, c.SendTimeout = 400*time.Millisecond, s.timeout
	runWorker(t, c)
	waitFor(t, 10*time.Second, "every mail sent", func() bool {
		for _, id := range ids {
			if mail(t, st, id).Status != switchboard.MailSent {
				return false
			}
		}
		return true
	})
	if s.late.Load() != 0 || s.sends.Load() != 4 {
		t.Errorf("%d sends, %d of them with too little lease left; want 4 and 0", s.sends.Load(), s.late.Load())
	}
}
