package mailer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/switchboard-chat/switchboard"
)

// Outbox is what the Worker needs of the store (store.OutboxStore has it).
type Outbox interface {
	ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]switchboard.Mail, error)
	MailSent(ctx context.Context, id string, at time.Time) error
	MailRetry(ctx context.Context, id string, attempts int, next time.Time, lastErr string) error
	MailFailed(ctx context.Context, id string, lastErr string) error
}

// Config configures New. Store and Sender are required; every other zero
// value means its default.
type Config struct {
	Store  Outbox
	Sender Sender
	// Log receives one line per retried or failed mail; nil means discard.
	Log *slog.Logger
	// Metrics counts deliveries by kind and outcome; nil counts nothing.
	Metrics Metrics
	// Clock returns the current time; nil means time.Now. It dates claims,
	// retries and sends (timers still use real time).
	Clock func() time.Time
	// Interval is how often the outbox is polled for due mail; 0 means 1s.
	// Wake sends at once.
	Interval time.Duration
	// Lease is how long a claimed mail stays away from other workers (on
	// other nodes) while it is sent; 0 means 2m. It must exceed SendTimeout:
	// a mail is only sent while SendTimeout fits in what is left of its
	// lease; the rest of a slow batch waits for its lease to end.
	Lease time.Duration
	// SendTimeout bounds one delivery; 0 means 1m.
	SendTimeout time.Duration
	// MaxAge is how long after its creation a mail is retried on temporary
	// errors before it is failed; 0 means 24h.
	MaxAge time.Duration
	// BackoffBase is the delay after the first failed attempt, doubled after
	// each further one up to BackoffMax; 0 means 30s and 1h. Each delay is
	// shortened by a random 0–25 % so that retries spread out.
	BackoffBase, BackoffMax time.Duration
	// Batch is how many mails one claim takes; 0 means 10.
	Batch int
}

// Worker sends the outbox's due mails. Several workers, in one process or
// on several nodes sharing the database, may run at once: each mail is
// claimed by one of them at a time.
type Worker struct {
	c    Config
	log  *slog.Logger
	wake chan struct{}
}

// New returns a Worker, or an error naming the missing or inconsistent
// setting.
func New(c Config) (*Worker, error) {
	if c.Store == nil || c.Sender == nil {
		return nil, errors.New("mailer: Config needs a Store and a Sender")
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	c.Interval = cmp.Or(c.Interval, time.Second)
	c.Lease = cmp.Or(c.Lease, 2*time.Minute)
	c.SendTimeout = cmp.Or(c.SendTimeout, time.Minute)
	c.MaxAge = cmp.Or(c.MaxAge, 24*time.Hour)
	c.BackoffBase = cmp.Or(c.BackoffBase, 30*time.Second)
	c.BackoffMax = cmp.Or(c.BackoffMax, time.Hour)
	c.Batch = cmp.Or(c.Batch, 10)
	switch {
	case c.Interval < 0 || c.Lease < 0 || c.SendTimeout < 0 || c.MaxAge < 0 || c.BackoffBase < 0 || c.BackoffMax < 0 || c.Batch < 0:
		return nil, errors.New("mailer: negative Config value")
	case c.SendTimeout >= c.Lease:
		return nil, fmt.Errorf("mailer: SendTimeout %v must be shorter than Lease %v", c.SendTimeout, c.Lease)
	case c.BackoffMax < c.BackoffBase:
		return nil, fmt.Errorf("mailer: BackoffMax %v is below BackoffBase %v", c.BackoffMax, c.BackoffBase)
	}
	log := c.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Worker{c: c, log: log.With("component", "mailer"), wake: make(chan struct{}, 1)}, nil
}

// Wake makes a running worker look for due mail now rather than at its next
// poll (after a mail was enqueued). It never blocks.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run sends due mail until ctx ends. A send under way when ctx ends is
// finished and recorded first; mails claimed but not yet tried are handed
// back, due at once, for the next worker.
func (w *Worker) Run(ctx context.Context) {
	t := time.NewTicker(w.c.Interval)
	defer t.Stop()
	for {
		w.drain(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.wake:
		}
	}
}

// drain claims and sends due mail until none is left or ctx ends.
func (w *Worker) drain(ctx context.Context) {
	for ctx.Err() == nil {
		mails, err := w.c.Store.ClaimMail(ctx, w.now(), w.c.Lease, w.c.Batch)
		if err != nil {
			if ctx.Err() == nil {
				w.log.Warn("claim mail", "err", err)
			}
			return
		}
		for i, m := range mails {
			if ctx.Err() != nil {
				w.release(ctx, mails[i:])
				return
			}
			if w.now().Add(w.c.SendTimeout).After(m.NextAttemptAt) {
				// Slow sends ate the batch's lease: another worker may take
				// the rest once it ends, so leave them alone rather than
				// risk sending them twice.
				w.log.Warn("lease too short for the rest of the batch", "left", len(mails)-i)
				break
			}
			w.deliver(ctx, m)
		}
		if len(mails) < w.c.Batch {
			return
		}
	}
}

// deliver sends one claimed mail and records the outcome. Neither is cut
// short by ctx: a mail sent but not recorded would go out twice.
func (w *Worker) deliver(ctx context.Context, m switchboard.Mail) {
	ctx = context.WithoutCancel(ctx)
	sendCtx, cancel := context.WithTimeout(ctx, w.c.SendTimeout)
	err := w.c.Sender.Send(sendCtx, m)
	cancel()
	recCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	now := w.now()
	attempts := m.Attempts + 1
	log := w.log.With("mail_id", m.ID, "message_id", m.MessageID, "kind", string(m.Kind), "attempts", attempts)
	var recErr error
	switch {
	case err == nil:
		recErr = w.c.Store.MailSent(recCtx, m.ID, now)
		log.Debug("mail sent")
		w.observe(m.Kind, "sent")
	case !IsTemporary(err):
		recErr = w.c.Store.MailFailed(recCtx, m.ID, lastError(err))
		log.Error("mail failed", "err", err)
		w.observe(m.Kind, "failed")
	case now.Sub(m.CreatedAt) >= w.c.MaxAge:
		recErr = w.c.Store.MailFailed(recCtx, m.ID, lastError(fmt.Errorf("gave up after %d attempts in %v: %w", attempts, w.c.MaxAge, err)))
		log.Error("mail failed: retried too long", "err", err)
		w.observe(m.Kind, "failed")
	default:
		next := now.Add(w.backoff(attempts))
		recErr = w.c.Store.MailRetry(recCtx, m.ID, attempts, next, lastError(err))
		log.Warn("mail will be retried", "err", err, "next_attempt_at", next)
		w.observe(m.Kind, "retry")
	}
	if recErr != nil {
		// The lease runs out and the mail is tried again: at least once.
		log.Error("record mail outcome", "err", recErr, "send_err", err)
	}
}

// release hands claimed mails back, due now, unchanged otherwise. Their
// leases still run (drain checks before each send), so no other worker holds
// them.
func (w *Worker) release(ctx context.Context, mails []switchboard.Mail) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	now := w.now()
	for _, m := range mails {
		if err := w.c.Store.MailRetry(ctx, m.ID, m.Attempts, now, m.LastError); err != nil {
			w.log.Warn("release claimed mail", "mail_id", m.ID, "err", err)
		}
	}
}

// backoff returns the delay after the given number of failed attempts.
func (w *Worker) backoff(attempts int) time.Duration {
	d := w.c.BackoffBase
	for i := 1; i < attempts && d < w.c.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, w.c.BackoffMax)
	return d - time.Duration(rand.Int64N(int64(d/4)+1))
}

func (w *Worker) now() time.Time { return w.c.Clock().UTC() }

// maxLastError bounds the stored error text.
const maxLastError = 1000

func lastError(err error) string {
	s := err.Error()
	if len(s) > maxLastError {
		s = strings.ToValidUTF8(s[:maxLastError], "") + "…"
	}
	return s
}
