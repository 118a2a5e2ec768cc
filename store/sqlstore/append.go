package sqlstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store"
)

// GroupCommit configures the writer behind AppendMessage. The zero value is
// the default.
type GroupCommit struct {
	// MaxBatch is the most appends one transaction carries; 0 means
	// DefaultMaxBatch.
	MaxBatch int
	// MaxDelay is how long a batch may wait, counted from the arrival of
	// its first append, for more appends to join it while fewer than
	// MaxBatch are queued. 0 means no wait: the writer commits whatever is
	// queued as soon as it is free, so a lone message is not delayed, and
	// appends that arrive during a commit make up the next batch.
	MaxDelay time.Duration
	// Timeout bounds one batch's transaction; its appends then fail with
	// switchboard.ErrUnavailable. 0 means DefaultBatchTimeout.
	Timeout time.Duration
	// Writers is how many batches may commit at once, each in its own
	// transaction on its own connection; 0 means 1. More than one helps
	// only where transactions run in parallel (PostgreSQL, not SQLite's
	// single write connection). Batches that touch the same chat still
	// take turns on its row lock.
	Writers int
}

// Defaults of GroupCommit.
const (
	DefaultMaxBatch     = 256
	DefaultBatchTimeout = 10 * time.Second
)

// maxParams is the most "?" parameters one statement may bind on every
// dialect (SQLite's SQLITE_MAX_VARIABLE_NUMBER; PostgreSQL allows 65535).
const maxParams = 32766

// AppendStats counts the work of the group-commit writer since the store
// was opened.
type AppendStats struct {
	Batches int64 // transactions run, committed or not
	Appends int64 // appends those transactions carried
	Failed  int64 // batches whose transaction failed
}

// errClosed is the error of an append after Close.
var errClosed = fmt.Errorf("store closed: %w", switchboard.ErrUnavailable)

// appendReq is one AppendMessage call waiting for its batch.
type appendReq struct {
	ctx     context.Context // a request whose caller gave up before its batch began is dropped
	m       store.NewMessage
	arrived time.Time // set only when GroupCommit.MaxDelay is not 0

	// Written by the writer before it closes done.
	msg  switchboard.Message
	dup  bool
	err  error
	done chan struct{}
}

// groupWriter queues appends for the writer goroutines (runWriter) that
// commit them.
type groupWriter struct {
	cfg GroupCommit

	mu     sync.Mutex
	queue  []*appendReq
	closed bool

	wake   chan struct{} // capacity 1: "the queue changed"
	exited chan struct{} // closed when the last writer returns

	hold atomic.Pointer[func()] // tests: called before each batch is taken

	batches, appends, failed atomic.Int64
}

func newGroupWriter(cfg GroupCommit) *groupWriter {
	cfg.MaxBatch = cmp.Or(cfg.MaxBatch, DefaultMaxBatch)
	cfg.Timeout = cmp.Or(cfg.Timeout, DefaultBatchTimeout)
	cfg.Writers = max(cfg.Writers, 1)
	return &groupWriter{cfg: cfg, wake: make(chan struct{}, 1), exited: make(chan struct{})}
}

// submit queues r; false after close.
func (w *groupWriter) submit(r *appendReq) bool {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return false
	}
	w.queue = append(w.queue, r)
	w.mu.Unlock()
	w.signal()
	return true
}

func (w *groupWriter) signal() {
	select {
	case w.wake <- struct{}{}:
	default: // a wake-up is pending already
	}
}

// take moves up to n queued requests, oldest first, to the end of batch.
func (w *groupWriter) take(batch []*appendReq, n int) []*appendReq {
	w.mu.Lock()
	n = min(n, len(w.queue))
	batch = append(batch, w.queue[:n]...)
	rest := copy(w.queue, w.queue[n:])
	clear(w.queue[rest:])
	w.queue = w.queue[:rest]
	w.mu.Unlock()
	if rest > 0 && w.cfg.Writers > 1 {
		w.signal() // another writer may take the rest
	}
	return batch
}

// close stops accepting appends and waits until the queued ones are
// committed (or failed).
func (w *groupWriter) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	w.signal()
	<-w.exited
}

// startWriters starts the writer goroutines; exited is closed when the last
// of them returns.
func (db *DB) startWriters() {
	var wg sync.WaitGroup
	for range db.w.cfg.Writers {
		wg.Go(db.runWriter)
	}
	go func() {
		wg.Wait()
		close(db.w.exited)
	}()
}

// runWriter is a writer goroutine: it takes what is queued (up to
// MaxBatch), commits it in one transaction, and repeats until the queue is
// empty; then it waits for the next append. It returns after close, once
// the queue is drained.
func (db *DB) runWriter() {
	w := db.w
	var batch []*appendReq
	var timer *time.Timer
	for {
		<-w.wake
		for {
			if hold := w.hold.Load(); hold != nil {
				(*hold)()
			}
			batch = w.take(batch[:0], w.cfg.MaxBatch)
			if len(batch) == 0 {
				break
			}
			if w.cfg.MaxDelay > 0 && len(batch) < w.cfg.MaxBatch {
				batch, timer = w.fill(batch, timer)
			}
			db.commitBatch(batch)
			clear(batch) // let the requests go
		}
		w.mu.Lock()
		done := w.closed && len(w.queue) == 0
		w.mu.Unlock()
		if done {
			w.signal() // the next writer sees it too
			return
		}
	}
}

// fill waits for more appends to join batch until it is full or MaxDelay
// has passed since its first one arrived.
func (w *groupWriter) fill(batch []*appendReq, timer *time.Timer) ([]*appendReq, *time.Timer) {
	deadline := batch[0].arrived.Add(w.cfg.MaxDelay)
	for len(batch) < w.cfg.MaxBatch {
		wait := time.Until(deadline)
		if wait <= 0 {
			break
		}
		if timer == nil {
			timer = time.NewTimer(wait)
		} else {
			timer.Reset(wait)
		}
		select {
		case <-w.wake:
			timer.Stop()
		case <-timer.C:
		}
		batch = w.take(batch, w.cfg.MaxBatch-len(batch))
		w.mu.Lock()
		closing := w.closed
		w.mu.Unlock()
		if closing {
			break
		}
	}
	// A wake-up consumed here may stand for appends still queued; the
	// caller's loop takes them next, before it waits again.
	return batch, timer
}

// AppendStats returns the writer's counters.
func (db *DB) AppendStats() AppendStats {
	return AppendStats{Batches: db.w.batches.Load(), Appends: db.w.appends.Load(), Failed: db.w.failed.Load()}
}

// AppendMessage stores a message through the group-commit writer (see
// store.ChatStore): it returns once the transaction that carried it
// committed. When ctx is done first it returns ctx's error at once; the
// message may still be committed (a retry with the same ClientMsgID then
// finds it). After Close it fails with switchboard.ErrUnavailable.
func (db *DB) AppendMessage(ctx context.Context, m store.NewMessage) (switchboard.Message, bool, error) {
	if err := checkNewMessage(&m); err != nil {
		return switchboard.Message{}, false, err
	}
	r := &appendReq{ctx: ctx, m: m, done: make(chan struct{})}
	if db.w.cfg.MaxDelay > 0 {
		r.arrived = time.Now()
	}
	if !db.w.submit(r) {
		return switchboard.Message{}, false, fmt.Errorf("sqlstore: append message to chat %s: %w", m.ChatID, errClosed)
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		select {
		case <-r.done: // both: the result is worth more
		default:
			return switchboard.Message{}, false, fmt.Errorf("sqlstore: append message to chat %s: %w", m.ChatID, ctx.Err())
		}
	}
	if r.err != nil {
		return switchboard.Message{}, false, r.err
	}
	return r.msg, r.dup, nil
}

// checkNewMessage validates what the database would refuse, so that one bad
// message never fails the batch it would have joined.
func checkNewMessage(m *store.NewMessage) error {
	switch {
	case m.ChatID == "":
		return switchboard.Invalid("chat_id", "is required")
	case m.ClientMsgID == "":
		return switchboard.Invalid("client_msg_id", "is required")
	}
	switch m.FromKind {
	case switchboard.FromVisitor, switchboard.FromOperator, switchboard.FromSystem:
	default:
		return switchboard.Invalid("from_kind", "must be visitor, operator or system, not %q", m.FromKind)
	}
	return checkTexts("chat_id", m.ChatID, "client_msg_id", m.ClientMsgID, "from_id", m.FromID,
		"from_name", m.FromName, "body", m.Body)
}

// commitBatch runs one batch in one transaction and hands every request
// its result. When the transaction fails, every request of the batch gets
// its error and nothing of the batch is stored.
func (db *DB) commitBatch(batch []*appendReq) {
	w := db.w
	reqs := batch[:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil { // nobody waits for it: do not write it
			r.err = fmt.Errorf("sqlstore: append message to chat %s: %w", r.m.ChatID, err)
			close(r.done)
			continue
		}
		reqs = append(reqs, r)
	}
	if len(reqs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), w.cfg.Timeout)
	err := db.inTx(ctx, func(t *tx) error { return t.appendBatch(ctx, reqs) })
	timedOut := ctx.Err() != nil
	cancel()
	w.batches.Add(1)
	w.appends.Add(int64(len(reqs)))
	db.obs().AppendBatch(len(reqs))
	if err != nil {
		w.failed.Add(1)
		if timedOut {
			err = fmt.Errorf("batch timed out after %v: %w: %w", w.cfg.Timeout, switchboard.ErrUnavailable, err)
		}
		// Not logged here: every caller gets the error and handles it.
		err = db.wrap(fmt.Sprintf("append %d messages", len(reqs)), err)
	}
	for _, r := range reqs {
		if err != nil {
			r.msg, r.dup, r.err = switchboard.Message{}, false, err
		}
		close(r.done)
	}
}

// msgKey is what makes a message unique in the database.
type msgKey struct{ chatID, clientMsgID string }

// appendBatch appends the messages of reqs with a fixed number of
// statements, whatever their number: (1) lock the chats and read their
// last_seq; (2) find the client_msg_ids already stored; then, here, give
// the new messages their seqs; (3) insert them and store each chat's new
// last_seq (one statement on PostgreSQL, two on SQLite). It sets each
// request's result; they count only if the transaction commits.
//
// The lookup must be a statement of its own, after the lock: under READ
// COMMITTED each statement sees what was committed before it began, so it
// sees every message of a batch that held a chat's lock before this one.
func (t *tx) appendBatch(ctx context.Context, reqs []*appendReq) error {
	chatIDs := make([]string, 0, len(reqs))
	for _, r := range reqs {
		chatIDs = append(chatIDs, r.m.ChatID)
	}
	slices.Sort(chatIDs) // one lock order for every batch: no deadlocks
	chatIDs = slices.Compact(chatIDs)
	lastSeq, err := t.lockChats(ctx, chatIDs)
	if err != nil {
		return err
	}

	keys := make([]msgKey, 0, len(reqs))
	for _, r := range reqs {
		if _, ok := lastSeq[r.m.ChatID]; ok {
			keys = append(keys, msgKey{r.m.ChatID, r.m.ClientMsgID})
		}
	}
	existing, err := t.storedMessages(ctx, keys)
	if err != nil {
		return err
	}

	now := switchboard.Now()
	first := make(map[msgKey]*appendReq, len(reqs)) // new messages of this batch
	added := make([]switchboard.Message, 0, len(reqs))
	touched := make(map[string]bool, len(chatIDs))
	for _, r := range reqs {
		seq, ok := lastSeq[r.m.ChatID]
		if !ok {
			r.err = switchboard.ErrNotFound
			continue
		}
		k := msgKey{r.m.ChatID, r.m.ClientMsgID}
		if m, ok := existing[k]; ok {
			r.msg, r.dup, r.err = retried(m, &r.m)
			continue
		}
		if p, ok := first[k]; ok {
			r.msg, r.dup, r.err = retried(p.msg, &r.m)
			continue
		}
		seq++
		lastSeq[r.m.ChatID] = seq
		r.msg = switchboard.Message{ChatID: r.m.ChatID, Seq: seq, ClientMsgID: r.m.ClientMsgID,
			FromKind: r.m.FromKind, FromID: r.m.FromID, FromName: r.m.FromName, Body: r.m.Body, At: now}
		first[k] = r
		added = append(added, r.msg)
		touched[r.m.ChatID] = true
	}
	if len(added) == 0 {
		return nil
	}
	ids := make([]string, 0, len(touched))
	seqs := make([]int64, 0, len(touched))
	for _, id := range chatIDs {
		if touched[id] {
			ids = append(ids, id)
			seqs = append(seqs, lastSeq[id])
		}
	}
	return t.storeMessages(ctx, added, ids, seqs)
}

// retried answers an append whose client_msg_id the chat has already (as
// m): the same message again is a duplicate of m; anything else is a
// conflict.
func retried(m switchboard.Message, n *store.NewMessage) (switchboard.Message, bool, error) {
	if m.Body == n.Body && m.FromKind == n.FromKind && m.FromID == n.FromID {
		return m, true, nil
	}
	return switchboard.Message{}, false, &switchboard.ConflictError{Field: "client_msg_id",
		Message: fmt.Sprintf("client_msg_id %q is taken by another message of this chat", n.ClientMsgID)}
}

// lockChats locks the chats of ids (sorted) for the rest of the transaction
// and returns their last_seq; unknown chats are missing from the map. On
// SQLite the transaction's write lock already excludes every other writer.
func (t *tx) lockChats(ctx context.Context, ids []string) (map[string]int64, error) {
	out := make(map[string]int64, len(ids))
	scan := func(q string, args ...any) error {
		rows, err := t.query(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			var seq int64
			if err := rows.Scan(&id, &seq); err != nil {
				return err
			}
			out[id] = seq
		}
		return rows.Err()
	}
	if t.d.ArrayParams {
		// NO KEY UPDATE: it excludes other appenders like FOR UPDATE, but
		// not the key-share locks of inserts that refer to the chat (notes,
		// transfers, feedback).
		return out, scan(`SELECT id, last_seq FROM chats WHERE id = ANY(?) ORDER BY id FOR NO KEY UPDATE`, ids)
	}
	for chunk := range slices.Chunk(ids, maxParams) {
		if err := scan(`SELECT id, last_seq FROM chats WHERE id IN (`+placeholders(len(chunk))+`)`+t.forUpdate(), anys(chunk)...); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// storedMessages returns the stored messages of keys.
func (t *tx) storedMessages(ctx context.Context, keys []msgKey) (map[msgKey]switchboard.Message, error) {
	out := map[msgKey]switchboard.Message{}
	if len(keys) == 0 {
		return out, nil
	}
	scan := func(q string, args ...any) error {
		rows, err := t.query(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			m, err := scanMessage(rows)
			if err != nil {
				return err
			}
			out[msgKey{m.ChatID, m.ClientMsgID}] = m
		}
		return rows.Err()
	}
	if t.d.ArrayParams {
		chats := make([]string, len(keys))
		clients := make([]string, len(keys))
		for i, k := range keys {
			chats[i], clients[i] = k.chatID, k.clientMsgID
		}
		return out, scan(`SELECT `+prefixed("m", messageColumns)+`
			FROM unnest(?::text[], ?::text[]) AS k (chat_id, client_msg_id)
			JOIN messages m ON m.chat_id = k.chat_id AND m.client_msg_id = k.client_msg_id`, chats, clients)
	}
	for chunk := range slices.Chunk(keys, maxParams/2) {
		args := make([]any, 0, 2*len(chunk))
		for _, k := range chunk {
			args = append(args, k.chatID, k.clientMsgID)
		}
		err := scan(`SELECT `+messageColumns+` FROM messages
			WHERE (chat_id, client_msg_id) IN (VALUES `+rowPlaceholders(len(chunk), 2)+`)`, args...)
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// storeMessages inserts ms and sets the last_seq of chat ids[i] to
// seqs[i]. With array parameters that is one statement; else one INSERT
// per maxParams/8 messages and one UPDATE per maxParams/2 chats.
func (t *tx) storeMessages(ctx context.Context, ms []switchboard.Message, ids []string, seqs []int64) error {
	const cols = 8 // messageColumns
	if t.d.ArrayParams {
		var (
			chatIDs, clientIDs, kinds, fromIDs, names, bodies = make([]string, len(ms)), make([]string, len(ms)),
				make([]string, len(ms)), make([]string, len(ms)), make([]string, len(ms)), make([]string, len(ms))
			msgSeqs, ats = make([]int64, len(ms)), make([]int64, len(ms))
		)
		for i, m := range ms {
			chatIDs[i], msgSeqs[i], clientIDs[i], kinds[i] = m.ChatID, m.Seq, m.ClientMsgID, string(m.FromKind)
			fromIDs[i], names[i], bodies[i], ats[i] = m.FromID, m.FromName, m.Body, m.At.UnixMilli()
		}
		// A data-modifying WITH runs whether or not anything reads it.
		_, err := t.exec(ctx, `WITH inserted AS (
				INSERT INTO messages (`+messageColumns+`)
				SELECT * FROM unnest(?::text[], ?::bigint[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[])
			)
			UPDATE chats SET last_seq = u.last_seq
			FROM unnest(?::text[], ?::bigint[]) AS u (id, last_seq) WHERE chats.id = u.id`,
			chatIDs, msgSeqs, clientIDs, kinds, fromIDs, names, bodies, ats, ids, seqs)
		return err
	}
	for chunk := range slices.Chunk(ms, maxParams/cols) {
		args := make([]any, 0, cols*len(chunk))
		for _, m := range chunk {
			args = append(args, m.ChatID, m.Seq, m.ClientMsgID, string(m.FromKind), m.FromID, m.FromName, m.Body, m.At.UnixMilli())
		}
		if _, err := t.exec(ctx, `INSERT INTO messages (`+messageColumns+`) VALUES `+rowPlaceholders(len(chunk), cols), args...); err != nil {
			return err
		}
	}
	for lo := 0; lo < len(ids); lo += maxParams / 2 {
		hi := min(lo+maxParams/2, len(ids))
		args := make([]any, 0, 2*(hi-lo))
		for i := lo; i < hi; i++ {
			args = append(args, ids[i], seqs[i])
		}
		if _, err := t.exec(ctx, `UPDATE chats SET last_seq = v.column2
			FROM (VALUES `+rowPlaceholders(hi-lo, 2)+`) AS v WHERE chats.id = v.column1`, args...); err != nil {
			return err
		}
	}
	return nil
}

// rowPlaceholders returns "(?, ?), (?, ?)" for rows rows of cols values.
func rowPlaceholders(rows, cols int) string {
	row := "(" + placeholders(cols) + ")"
	var b strings.Builder
	b.Grow(rows * (len(row) + 2))
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}
