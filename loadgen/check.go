package loadgen

import (
	"fmt"
	"slices"
	"strings"
)

// The checker. A view is what one connection received of one chat, in
// arrival order: messages, and the acks of resumes (chat.start is one too:
// after_seq 0). It proves what docs/protocol.md promises a client:
//
//   - Between two resumes a connection sees the chat's messages in seq
//     order with no gap and no duplicate. The first stretch (live frames
//     before any resume, as an operator gets after chat.assigned) may start
//     at any seq; a stretch after a resume ack starts at after_seq+1 and
//     reaches at least the ack's last_seq. Messages a resume sends again
//     are not duplicates: clients dedupe by seq across resumes.
//   - A seq always carries the same message, on every connection, and the
//     same as the store (the final resume after_seq 0).
//   - Every acked client_msg_id is in the store exactly once, at its acked
//     seq, and seqs run 1..last_seq without a gap.

// message is one message frame as a client saw it.
type message struct {
	Seq         int64
	ClientMsgID string
	Body        string
	FromKind    string
}

// event is one entry of a view: a resume ack or a message.
type event struct {
	resume   bool
	afterSeq int64 // resume: the after_seq asked for
	lastSeq  int64 // resume: the ack's last_seq
	msg      message
}

// view is what one connection received of one chat.
type view struct {
	who     string // "visitor 12", "operator 3 (connection 2)"
	chatID  string
	events  []event
	dropped bool // the connection was lost: a resume's backlog may be cut short
}

func (v *view) resumed(afterSeq, lastSeq int64) {
	v.events = append(v.events, event{resume: true, afterSeq: afterSeq, lastSeq: lastSeq})
}

func (v *view) add(m message) { v.events = append(v.events, event{msg: m}) }

func (v *view) label() string { return fmt.Sprintf("chat %s, %s", v.chatID, v.who) }

// checkView returns the order violations in v: gaps, duplicates, messages
// out of order, a resume that did not deliver its backlog, and one seq
// carrying two different messages.
func checkView(v *view) []string {
	var out []string
	bad := func(format string, args ...any) {
		out = append(out, v.label()+": "+fmt.Sprintf(format, args...))
	}
	bySeq := map[int64]message{} // across the whole view
	var (
		started  bool  // a stretch has a known next seq
		next     int64 // the seq expected next in this stretch
		last     int64 // highest seq seen in this stretch
		mustPass int64 // a resume promised seqs up to here
		resumed  bool
		seen     map[int64]bool
		missing  map[int64]bool // skipped over; arriving later is a reorder
	)
	endStretch := func(final bool) {
		if len(missing) > 0 {
			gaps := make([]int64, 0, len(missing))
			for s := range missing {
				gaps = append(gaps, s)
			}
			slices.Sort(gaps)
			bad("gap: seq %s never arrived (this stretch ran to seq %d)", seqList(gaps), last)
		}
		if resumed && next <= mustPass && !(final && v.dropped) {
			bad("resume promised messages up to seq %d (last_seq) but delivered only up to seq %d", mustPass, next-1)
		}
	}
	for _, e := range v.events {
		if e.resume {
			if seen != nil || resumed {
				endStretch(false)
			}
			started, next, last, mustPass, resumed = true, e.afterSeq+1, e.afterSeq, e.lastSeq, true
			seen, missing = map[int64]bool{}, map[int64]bool{}
			continue
		}
		m := e.msg
		if prev, ok := bySeq[m.Seq]; ok && (prev.ClientMsgID != m.ClientMsgID || prev.Body != m.Body) {
			bad("seq %d carried two different messages: %q then %q", m.Seq, prev.ClientMsgID, m.ClientMsgID)
		}
		bySeq[m.Seq] = m
		if seen == nil {
			seen, missing = map[int64]bool{}, map[int64]bool{}
		}
		if !started {
			started, next = true, m.Seq
		}
		switch {
		case m.Seq == next:
			next++
		case seen[m.Seq]:
			bad("duplicate: seq %d arrived twice (after seq %d)", m.Seq, last)
			continue
		case missing[m.Seq]:
			bad("out of order: seq %d arrived after seq %d", m.Seq, last)
			delete(missing, m.Seq)
		case m.Seq < next:
			// Below where this stretch began: only a resume may go back.
			bad("out of order: seq %d arrived after seq %d (this stretch began at seq %d)", m.Seq, last, firstSeq(seen))
		default: // m.Seq > next: skipped next..m.Seq-1, for now
			for s := next; s < m.Seq; s++ {
				missing[s] = true
			}
			next = m.Seq + 1
		}
		seen[m.Seq] = true
		last = max(last, m.Seq)
	}
	if seen != nil || resumed {
		endStretch(true)
	}
	return out
}

func firstSeq(seen map[int64]bool) int64 {
	first := int64(-1)
	for s := range seen {
		if first < 0 || s < first {
			first = s
		}
	}
	return first
}

// seqList formats seqs compactly: "3", "3, 5" or "3..9" for a run.
func seqList(seqs []int64) string {
	if len(seqs) > 1 && seqs[len(seqs)-1]-seqs[0] == int64(len(seqs)-1) {
		return fmt.Sprintf("%d..%d", seqs[0], seqs[len(seqs)-1])
	}
	parts := make([]string, 0, min(len(seqs), 10))
	for i, s := range seqs {
		if i == 10 {
			parts = append(parts, fmt.Sprintf("… (%d in all)", len(seqs)))
			break
		}
		parts = append(parts, fmt.Sprint(s))
	}
	return strings.Join(parts, ", ")
}

// chatFacts is what the load generator recorded of one chat: every ack and
// which messages reached the other side.
type chatFacts struct {
	chatID string
	// acked maps a client_msg_id to the seq its first ack gave.
	acked map[string]int64
	// bodies maps each client_msg_id the generator sent to its body.
	bodies map[string]string
	// delivered holds the client_msg_ids that reached the other side
	// (operator for a visitor's message, visitor for a reply).
	delivered map[string]bool
	// ackProblems are contradictions between acks (a retry acked with another seq).
	ackProblems []string
}

// checkChat checks a chat's live views and compares them and the acks with
// final: a fresh connection's resume after_seq 0, the store's content (nil
// when the chat could not be resumed at the end). checkDelivery adds a
// violation for each acked message that never reached the other side.
func checkChat(f *chatFacts, final *view, live []*view, checkDelivery bool) []string {
	var out []string
	bad := func(format string, args ...any) {
		out = append(out, fmt.Sprintf("chat %s: ", f.chatID)+fmt.Sprintf(format, args...))
	}
	out = append(out, f.ackProblems...)
	for _, v := range live {
		out = append(out, checkView(v)...)
	}
	if final == nil {
		return out // not resumed at the end (the run reports why): nothing to compare with
	}
	out = append(out, checkView(final)...)

	// The store's view: seq → message, and where each client_msg_id is.
	var lastSeq int64 = -1
	store := map[int64]message{}
	where := map[string][]int64{}
	for _, e := range final.events {
		if e.resume {
			if lastSeq < 0 {
				lastSeq = e.lastSeq
			}
			continue
		}
		if _, dup := store[e.msg.Seq]; dup {
			continue // reported by checkView
		}
		store[e.msg.Seq] = e.msg
		where[e.msg.ClientMsgID] = append(where[e.msg.ClientMsgID], e.msg.Seq)
	}
	if lastSeq < 0 {
		bad("the final resume was never acked")
		return out
	}
	for s := int64(1); s <= lastSeq; s++ {
		if _, ok := store[s]; !ok {
			bad("resume after_seq 0 lacks seq %d of last_seq %d", s, lastSeq)
			break // checkView lists the gap; one line here is enough
		}
	}
	ids := make([]string, 0, len(where))
	for id := range where {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if seqs := where[id]; len(seqs) > 1 {
			bad("client_msg_id %q is stored %d times (seqs %s)", id, len(seqs), seqList(seqs))
		}
	}
	acked := make([]string, 0, len(f.acked))
	for id := range f.acked {
		acked = append(acked, id)
	}
	slices.SortFunc(acked, func(a, b string) int { return int(f.acked[a] - f.acked[b]) })
	for _, id := range acked {
		seq := f.acked[id]
		seqs := where[id]
		switch {
		case len(seqs) == 0:
			bad("acked message %q (seq %d) is missing after resume", id, seq)
		case !slices.Contains(seqs, seq):
			bad("message %q was acked as seq %d but is stored as seq %s", id, seq, seqList(seqs))
		case seq > lastSeq:
			bad("message %q was acked as seq %d, beyond last_seq %d", id, seq, lastSeq)
		}
		if body, ok := f.bodies[id]; ok && len(seqs) > 0 && store[seqs[0]].Body != body {
			bad("message %q (seq %d) is stored with another body: %q, sent %q", id, seqs[0], store[seqs[0]].Body, body)
		}
		if checkDelivery && !f.delivered[id] {
			bad("acked message %q (seq %d) never reached the other side", id, seq)
		}
	}
	// Every connection saw what the store holds.
	for _, v := range live {
		reported := false
		for _, e := range v.events {
			if e.resume || reported {
				continue
			}
			m := e.msg
			if s, ok := store[m.Seq]; ok && (s.ClientMsgID != m.ClientMsgID || s.Body != m.Body) {
				bad("%s saw seq %d as %q, the store has %q", v.who, m.Seq, m.ClientMsgID, s.ClientMsgID)
				reported = true
			}
		}
	}
	return out
}
