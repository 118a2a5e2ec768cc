package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/switchboard-chat/switchboard"
)

// Metrics observes the store (metrics.Set implements it). Its methods are
// called on every write transaction: they must be quick.
type Metrics interface {
	// StoreTransaction observes a write transaction's duration, committed
	// or not.
	StoreTransaction(d time.Duration)
	// StoreError counts a failure that is not the caller's doing, by kind:
	// "unavailable" (the database cannot be reached or is overloaded),
	// "timeout" (a deadline passed), "other".
	StoreError(kind string)
	// AppendBatch observes how many messages one group commit carried.
	AppendBatch(size int)
}

type nopMetrics struct{}

func (nopMetrics) StoreTransaction(time.Duration) {}
func (nopMetrics) StoreError(string)              {}
func (nopMetrics) AppendBatch(int)                {}

// metricsBox holds a Metrics in an atomic.Value (which needs one concrete type).
type metricsBox struct{ m Metrics }

// SetMetrics makes the store report to m (nil stops reporting). The store
// is opened before the server that owns the metrics, hence a setter rather
// than a Config field.
func (db *DB) SetMetrics(m Metrics) {
	if m == nil {
		m = nopMetrics{}
	}
	db.metrics.Store(metricsBox{m})
}

// obs returns the store's Metrics.
func (db *DB) obs() Metrics {
	if b, ok := db.metrics.Load().(metricsBox); ok {
		return b.m
	}
	return nopMetrics{}
}

// timeTx starts timing a transaction; the function it returns observes it.
func (db *DB) timeTx() func() {
	start := time.Now()
	return func() { db.obs().StoreTransaction(time.Since(start)) }
}

// countError counts err, as wrap is about to return it, when it is the
// store's failure rather than the caller's (not found, invalid input, a
// conflict or a cancelled request are not counted).
func (db *DB) countError(err error) {
	var ve *switchboard.ValidationError
	var ce *switchboard.ConflictError
	switch {
	case err == nil, errors.Is(err, sql.ErrNoRows), errors.Is(err, switchboard.ErrNotFound),
		errors.As(err, &ve), errors.As(err, &ce), errors.Is(err, context.Canceled),
		errors.Is(err, switchboard.ErrConflict), errors.Is(err, switchboard.ErrAlreadyTaken):
		return
	case errors.Is(err, context.DeadlineExceeded):
		db.obs().StoreError("timeout")
	case errors.Is(err, switchboard.ErrUnavailable), db.d.IsUnavailable != nil && db.d.IsUnavailable(err):
		db.obs().StoreError("unavailable")
	default:
		db.obs().StoreError("other")
	}
}

// PendingMail counts the outbox's pending mails by kind (for the
// switchboard_mail_pending gauge). It reads the (status, next_attempt_at)
// index only.
func (db *DB) PendingMail(ctx context.Context) (map[string]int, error) {
	rows, err := db.reader().query(ctx, `SELECT kind, COUNT(*) FROM mail_outbox WHERE status = 'pending' GROUP BY kind`)
	if err != nil {
		return nil, db.wrap("count pending mail", err)
	}
	defer rows.Close()
	counts := map[string]int{}
	for rows.Next() {
		var kind string
		var n int
		if err := rows.Scan(&kind, &n); err != nil {
			return nil, db.wrap("count pending mail", err)
		}
		counts[kind] = n
	}
	if err := rows.Err(); err != nil {
		return nil, db.wrap("count pending mail", err)
	}
	return counts, nil
}
