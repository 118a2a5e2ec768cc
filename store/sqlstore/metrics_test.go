package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
)

type errorRecorder struct {
	mu    sync.Mutex
	kinds []string
	txs   int
}

func (r *errorRecorder) StoreTransaction(time.Duration) { r.mu.Lock(); r.txs++; r.mu.Unlock() }
func (r *errorRecorder) StoreError(kind string) {
	r.mu.Lock()
	r.kinds = append(r.kinds, kind)
	r.mu.Unlock()
}
func (r *errorRecorder) AppendBatch(int) {}

// TestWrapCountsStoreFailuresOnly: wrap counts the store's own failures by
// kind, and not what the caller caused (not found, bad input, conflicts,
// a cancelled request).
func TestWrapCountsStoreFailuresOnly(t *testing.T) {
	down := errors.New("connection refused")
	db := &DB{d: &Dialect{IsUnavailable: func(err error) bool { return errors.Is(err, down) }}}
	rec := &errorRecorder{}
	db.SetMetrics(rec)
	for _, err := range []error{
		sql.ErrNoRows,
		switchboard.ErrNotFound,
		switchboard.Invalid("name", "is required"),
		&switchboard.ConflictError{Field: "name", Message: "taken"},
		fmt.Errorf("assign: %w", switchboard.ErrAlreadyTaken),
		context.Canceled,
	} {
		_ = db.wrap("op", err)
	}
	if len(rec.kinds) != 0 {
		t.Fatalf("the caller's errors were counted: %v", rec.kinds)
	}
	_ = db.wrap("op", fmt.Errorf("query: %w", down))
	_ = db.wrap("op", context.DeadlineExceeded)
	_ = db.wrap("op", errors.New("syntax error at or near"))
	_ = db.wrap("op", fmt.Errorf("batch: %w", switchboard.ErrUnavailable))
	if want := []string{"unavailable", "timeout", "other", "unavailable"}; !slices.Equal(rec.kinds, want) {
		t.Fatalf("counted %v, want %v", rec.kinds, want)
	}
	// Without metrics set, nothing panics.
	_ = (&DB{d: &Dialect{}}).wrap("op", errors.New("x"))
}
