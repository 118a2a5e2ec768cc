package loadgen

import (
	"context"
	"slices"
	"time"
)

// pendingFrame is a frame that expects an answer (ack or error): kept
// until answered, to send again after rate_limited or unavailable, or on a
// new connection.
type pendingFrame struct {
	data   []byte
	kind   string // "start", "resume", "send", "accept", "status"
	chatID string
	msgID  string
	after  int64  // resume: after_seq
	order  uint64 // enqueue order
}

// sender writes an actor's frames: at most limit of them unanswered, and,
// once the server said rate_limited, no faster than it allows. Frames wait
// in order in a queue. A connection is closed by the server (4429) after
// Burst+10 refused frames in a row, so the limit must stay below that.
type sender struct {
	in       *inbox // where evFlush events go
	limit    int
	pending  map[string]pendingFrame // ref → frame, queued or written
	queue    []string                // refs to write, in order
	written  map[string]bool         // refs written and not answered
	order    uint64
	interval time.Duration // 0 until the first rate_limited
	next     time.Time     // no write before
	timerSet bool
	// held stops writes on a new connection until its hello was handled
	// (a resume must go before the frames sent again).
	held bool
}

// evFlush: the sender may write again.
const evFlush = "_flush"

func newSender(in *inbox, limit int) *sender {
	return &sender{in: in, limit: limit, pending: map[string]pendingFrame{}, written: map[string]bool{}}
}

// enqueue adds a frame under ref; front puts it before every queued one.
func (s *sender) enqueue(ref string, p pendingFrame, front bool) {
	s.order++
	p.order = s.order
	s.pending[ref] = p
	if front {
		s.queue = slices.Insert(s.queue, 0, ref)
	} else {
		s.queue = append(s.queue, ref)
	}
}

// flush writes queued frames while the limits allow.
func (s *sender) flush(ctx context.Context, c *wsConn, onErr func(error)) {
	for !s.held && len(s.queue) > 0 && len(s.written) < s.limit {
		if s.interval > 0 {
			if wait := time.Until(s.next); wait > 0 {
				s.wakeIn(wait)
				return
			}
			s.next = time.Now().Add(s.interval)
		}
		ref := s.queue[0]
		s.queue = s.queue[1:]
		p, ok := s.pending[ref]
		if !ok {
			continue
		}
		s.written[ref] = true
		if err := c.write(ctx, p.data); err != nil && !isCanceled(err) {
			onErr(err)
		}
	}
}

func (s *sender) wakeIn(d time.Duration) {
	if s.timerSet {
		return
	}
	s.timerSet = true
	time.AfterFunc(d, func() { s.in.push(&frame{Type: evFlush}) })
}

// flushed is called on evFlush.
func (s *sender) flushed() { s.timerSet = false }

// answered forgets ref after its ack or error and returns its frame.
func (s *sender) answered(ref string) (pendingFrame, bool) {
	p, ok := s.pending[ref]
	if ok {
		delete(s.pending, ref)
		delete(s.written, ref)
	}
	return p, ok
}

// again queues a refused frame first, to write after d; rate limiting
// also paces every later write.
func (s *sender) again(ref string, d time.Duration, rateLimited bool) {
	if _, ok := s.pending[ref]; !ok {
		return
	}
	delete(s.written, ref)
	s.queue = slices.Insert(s.queue, 0, ref)
	if rateLimited {
		s.interval = max(s.interval, min(d, time.Second))
		s.limit = min(s.limit, 4) // few refusals in a row from now on
	}
	s.next = maxTime(s.next, time.Now().Add(d))
}

// reconnected prepares for a new connection: frames keep (sends) are
// queued again in their first order; the others are forgotten.
func (s *sender) reconnected(keep func(pendingFrame) bool) {
	refs := make([]string, 0, len(s.pending))
	for ref, p := range s.pending {
		if keep(p) {
			refs = append(refs, ref)
		} else {
			delete(s.pending, ref)
		}
	}
	slices.SortFunc(refs, func(a, b string) int { return cmpUint(s.pending[a].order, s.pending[b].order) })
	s.queue, s.written, s.held = refs, map[string]bool{}, true
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
