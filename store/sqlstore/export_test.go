package sqlstore

import "sync"

// HoldAppends makes the writer wait, before it takes its next batch, until
// release is called: appends made meanwhile queue up and then make one
// batch (up to MaxBatch).
func (db *DB) HoldAppends() (release func()) {
	gate := make(chan struct{})
	wait := func() { <-gate }
	db.w.hold.Store(&wait)
	var once sync.Once
	return func() {
		once.Do(func() {
			db.w.hold.Store(nil)
			close(gate)
		})
	}
}

// QueuedAppends returns the number of appends waiting for a batch.
func (db *DB) QueuedAppends() int {
	db.w.mu.Lock()
	defer db.w.mu.Unlock()
	return len(db.w.queue)
}

// SetSearchBounds sets the staged search's walk (chats) and index lookup
// (messages) bounds of this DB, so that small data sets take every stage.
func (db *DB) SetSearchBounds(walk, maxHits int) { db.searchBounds = [2]int{walk, maxHits} }
