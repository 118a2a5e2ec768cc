package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"
)

// visitor is one chat's visitor: an actor that owns its connection (and
// the ones that replace it after a loss) and reacts to frames one at a time.
type visitor struct {
	r   *runner
	n   int
	in  *inbox
	rec *chatRecord

	conn   *wsConn
	gen    int
	nodes  nodeDialer
	token  string
	chatID string

	assigned bool
	// gotAssigned: the chat.assigned frame came (assigned may also be
	// learned from a start or resume ack).
	gotAssigned bool
	polling     bool
	next        int             // index of the next message to send
	inflight    map[string]bool // sent, not acked (the window)
	out         *sender
	have        map[int64]bool
	upTo        int64 // every seq up to here has been seen: resume after it

	view  *view
	views []*view

	startAcked bool
	endAcked   bool
	exited     chan struct{}
}

func newVisitor(r *runner, n int) *visitor {
	v := &visitor{
		r: r, n: n, in: newInbox(), rec: newChatRecord(r),
		inflight: map[string]bool{}, have: map[int64]bool{},
		exited: make(chan struct{}),
	}
	v.out = newSender(v.in, r.cfg.Window+2)
	v.nodes = newNodeDialer(r.cfg.VisitorNodes, n-1)
	return v
}

func (v *visitor) who() string { return fmt.Sprintf("visitor %d", v.n) }

// url is the visitor endpoint on the node given by its ws base.
func (v *visitor) url(wsBase string) string {
	u := wsBase + "/ws/visitor?widget=" + url.QueryEscape(v.r.widgetKey)
	if v.token != "" {
		u += "&token=" + url.QueryEscape(v.token)
	}
	return u
}

// run is the visitor's actor: it holds a ramp slot from its first dial
// until its chat started, then sends its messages, and ends on evStop.
func (v *visitor) run(ctx context.Context, ramp chan struct{}) {
	defer close(v.exited)
	select {
	case ramp <- struct{}{}:
	case <-ctx.Done():
		v.rec.abandon()
		return
	}
	inRamp := true
	release := func() {
		if inRamp {
			inRamp = false
			<-ramp
		}
	}
	defer release()
	fail := func(err error) {
		if !isCanceled(err) || ctx.Err() == nil {
			v.r.fail(fmt.Sprintf("%s: %v", v.who(), err))
		}
		v.rec.abandon()
	}
	if err := v.connect(ctx, 3); err != nil {
		fail(err)
		return
	}
	defer func() { v.conn.close() }()
	var batch []*frame
	for {
		select {
		case <-v.in.wake:
		case <-ctx.Done():
			fail(ctx.Err())
			return
		}
		batch = v.in.take(batch)
		for _, f := range batch {
			if f.Type == evStop {
				return
			}
			if err := v.handle(ctx, f); err != nil {
				fail(err)
				return
			}
		}
		v.out.flush(ctx, v.conn, v.writeFailed)
		if v.startAcked {
			release()
		}
	}
}

// connect dials (again), trying up to attempts times (0: until ctx ends).
func (v *visitor) connect(ctx context.Context, attempts int) error {
	c, err := v.r.dialRetrying(ctx, attempts, "HTTP 429 on /ws/visitor: too many sockets from one address", []int{403, 404}, func() (*wsConn, error) {
		v.gen++
		return dial(ctx, v.r.client(v.r.sourceFor(v.n-1, 20000, 2)), v.url(v.nodes.next(v.r)), nil, v.gen, v.in)
	})
	if err == nil {
		v.conn = c
	}
	return err
}

func (v *visitor) send(ref string, p pendingFrame) { v.out.enqueue(ref, p, false) }

func (v *visitor) writeFailed(err error) {
	v.r.log.Debug("visitor write failed; the reader reports the loss", "visitor", v.n, "err", err)
}

// fill sends messages while the window has room.
func (v *visitor) fill(ctx context.Context) error {
	for v.assigned && len(v.inflight) < v.r.cfg.Window && v.next < v.r.cfg.Messages {
		id := visitorMsgID(v.next)
		body := fmt.Sprintf("bench message %d of visitor %d", v.next, v.n)
		v.next++
		v.inflight[id] = true
		v.rec.sent(id, body, time.Now())
		data := encode(out{Type: "message.send", Ref: id, ChatID: v.chatID, ClientMsgID: id, Body: body})
		v.send(id, pendingFrame{data: data, kind: "send", msgID: id})
	}
	return nil
}

func (v *visitor) handle(ctx context.Context, f *frame) error {
	if f.gen != 0 && f.gen != v.gen {
		return nil // from a connection already replaced
	}
	switch f.Type {
	case evClosed:
		return v.lost(ctx, f.err)
	case evFlush:
		v.out.flushed()
	case "hello":
		return v.hello(ctx, f)
	case "ack":
		return v.ack(ctx, f)
	case "error":
		return v.refused(f)
	case evPoll:
		v.polling = false
		if !v.assigned {
			if _, busy := v.out.pending["resume"]; !busy {
				v.resume(v.upTo) // its ack tells the chat's status
			}
			v.poll()
		}
	case "chat.assigned":
		if f.ChatID == v.chatID {
			v.gotAssigned = true
		}
		if f.ChatID == v.chatID && !v.assigned {
			v.assigned = true
			v.rec.note(func(c *chatRecord) { c.assignedBy = "chat.assigned" })
			return v.fill(ctx)
		}
	case "chat.missed":
		if f.ChatID == v.chatID {
			return errors.New("chat missed: no operator answered it (are the bench operators online and under max_chats?)")
		}
	case "message":
		if f.ChatID != v.chatID || v.chatID == "" {
			return nil
		}
		v.viewNow().add(message{Seq: f.Seq, ClientMsgID: f.ClientMsgID, Body: f.Body, FromKind: f.From.Kind})
		v.saw(f.Seq)
		if f.From.Kind == "operator" && isReply(f.ClientMsgID) {
			v.rec.deliver(f.ClientMsgID, f.at)
		}
	case "_invalid":
		return errors.New(f.Message)
	}
	return nil
}

// assignedPoll is how long a visitor waits for chat.assigned before it
// asks for its chat's status with a resume.
const assignedPoll = 2 * time.Second

// poll makes sure a visitor still waiting for an operator checks again
// soon: should chat.assigned never come, a resume ack's status tells.
func (v *visitor) poll() {
	if v.assigned || v.polling {
		return
	}
	v.polling = true
	time.AfterFunc(assignedPoll, func() { v.in.push(&frame{Type: evPoll}) })
}

func (v *visitor) saw(seq int64) {
	v.have[seq] = true
	for v.have[v.upTo+1] {
		delete(v.have, v.upTo)
		v.upTo++
	}
}

func (v *visitor) viewNow() *view {
	if v.view == nil {
		v.view = &view{who: v.who(), chatID: v.chatID}
		if len(v.views) > 0 {
			v.view.who = fmt.Sprintf("%s (connection %d)", v.who(), len(v.views)+1)
		}
		v.views = append(v.views, v.view)
	}
	return v.view
}

func (v *visitor) hello(ctx context.Context, f *frame) error {
	if f.VisitorToken == "" {
		return errors.New("hello without a visitor_token")
	}
	v.token = f.VisitorToken
	v.out.held = false
	if v.chatID == "" {
		for _, c := range f.Chats { // a chat started before the connection was lost
			if c.Status == "queued" || c.Status == "ongoing" {
				v.adopt(c.ChatID)
				v.resume(0)
				return nil
			}
		}
		data := encode(out{Type: "chat.start", Ref: "start", Name: fmt.Sprintf("Bench visitor %d", v.n), Question: "bench question"})
		v.send("start", pendingFrame{data: data, kind: "start"})
		return nil
	}
	listed := false
	for _, c := range f.Chats {
		listed = listed || c.ChatID == v.chatID
	}
	if !listed {
		v.rec.problem(fmt.Sprintf("chat %s: %s reconnected with its visitor_token, and hello does not list its open chat", v.chatID, v.who()))
	}
	// The resume goes first; unacked messages follow (queued again on the
	// loss) with the same client_msg_id: the server must not store them twice.
	v.resume(v.upTo)
	return nil
}

func (v *visitor) adopt(chatID string) {
	v.chatID = chatID
	v.rec.mu.Lock()
	v.rec.facts.chatID = chatID
	v.rec.mu.Unlock()
	v.r.register(v.rec)
	v.rec.mu.Lock()
	v.rec.checkDone() // with no messages to send, the chat is done at once
	v.rec.mu.Unlock()
}

func (v *visitor) resume(after int64) {
	a := after
	data := encode(out{Type: "chat.resume", Ref: "resume", ChatID: v.chatID, AfterSeq: &a})
	v.out.enqueue("resume", pendingFrame{data: data, kind: "resume", after: after}, true)
}

func (v *visitor) ack(ctx context.Context, f *frame) error {
	p, ok := v.out.answered(f.Ref)
	if !ok {
		return nil
	}
	switch p.kind {
	case "start":
		if f.ChatID == "" {
			return errors.New("chat.start acked without a chat_id")
		}
		v.adopt(f.ChatID)
		v.startAcked = true
		v.viewNow().resumed(0, f.LastSeq) // chat.start is acked like a resume after_seq 0
		v.rec.note(func(c *chatRecord) { c.startStatus = f.Status })
		switch f.Status {
		case "missed":
			return errors.New("chat.start: status missed: no operator online (the bench operators should be)")
		case "ongoing": // answered before the start was acked: chat.assigned may have come first
			v.assigned = true
			v.rec.note(func(c *chatRecord) { c.assignedBy = "start ack" })
			v.r.log.Debug("chat.start acked as ongoing", "visitor", v.n)
		}
		v.poll()
		return v.fill(ctx)
	case "resume":
		v.startAcked = true
		v.viewNow().resumed(p.after, f.LastSeq)
		if f.Status == "ongoing" && !v.assigned {
			v.assigned = true
			v.rec.note(func(c *chatRecord) { c.assignedBy = "resume ack" })
		}
		return v.fill(ctx)
	case "send":
		delete(v.inflight, p.msgID)
		v.rec.ack(p.msgID, f.Seq, f.at)
		return v.fill(ctx)
	}
	return nil
}

// refused handles an error frame: limits and outages are retried with the
// same frame (and client_msg_id); anything else ends the visitor.
func (v *visitor) refused(f *frame) error {
	p, ok := v.out.pending[f.Ref]
	if !ok {
		return fmt.Errorf("error frame %s: %s", f.Code, f.Message)
	}
	if d, retry := v.r.retryAfter(f); retry {
		v.out.again(f.Ref, d, f.Code == "rate_limited")
		return nil
	}
	v.out.answered(f.Ref)
	return fmt.Errorf("%s refused: %s: %s", p.kind, f.Code, f.Message)
}

// retryAfter says whether an error frame asks to send the frame again, and when.
func (r *runner) retryAfter(f *frame) (time.Duration, bool) {
	switch f.Code {
	case "rate_limited":
		r.rateLimited(fmt.Sprintf("error frame rate_limited: %s", f.Message))
		return max(time.Duration(f.RetryAfterMS)*time.Millisecond, 10*time.Millisecond), true
	case "unavailable":
		return 500 * time.Millisecond, true
	}
	return 0, false
}

// lost handles the end of the current connection: reconnect and resume.
func (v *visitor) lost(ctx context.Context, err error) error {
	if v.view != nil {
		v.view.dropped = true
		v.view = nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	switch closeStatus(err) {
	case 4001:
		return fmt.Errorf("the server refused the visitor token (4001): %w", err)
	case 4429:
		v.r.rateLimited("connection closed with 4429")
		return fmt.Errorf("closed for exceeding the rate limit: %w", err)
	}
	v.r.reconnects.Add(1)
	v.r.log.Warn("visitor connection lost; resuming", "visitor", v.n, "chat_id", v.chatID, "err", err)
	v.out.reconnected(func(p pendingFrame) bool { return p.kind == "send" }) // start and resume are redone after hello
	return v.connect(ctx, 0)
}

// verify resumes the chat from seq 0 on a new connection with the visitor
// token, which is the store's content, and then ends the chat. It returns
// what arrived even when it did not all arrive.
func (v *visitor) verify(ctx context.Context) (*view, error) {
	in := newInbox()
	v.gen++
	c, err := dial(ctx, v.r.client(v.r.sourceFor(v.n-1, 20000, 2)), v.url(v.r.wsBases[v.nodes.node]), nil, v.gen, in)
	if err != nil {
		return nil, err
	}
	defer c.close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	next := func() (*frame, error) {
		for {
			if f := in.pop(); f != nil {
				if f.Type == evClosed {
					return nil, fmt.Errorf("connection lost: %w", f.err)
				}
				return f, nil
			}
			select {
			case <-in.wake:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	}
	hello, err := next()
	if err != nil {
		return nil, err
	}
	if hello.Type != "hello" {
		return nil, fmt.Errorf("first frame is %q, not hello", hello.Type)
	}
	listed := false
	for _, ch := range hello.Chats {
		listed = listed || ch.ChatID == v.chatID
	}
	if !listed {
		v.rec.problem(fmt.Sprintf("chat %s: %s reconnected with its visitor_token, and hello does not list its open chat", v.chatID, v.who()))
	}
	zero := int64(0)
	if err := c.write(ctx, encode(out{Type: "chat.resume", Ref: "final", ChatID: v.chatID, AfterSeq: &zero})); err != nil {
		return nil, err
	}
	final := &view{who: v.who() + " (final resume)", chatID: v.chatID}
	last := int64(-1)
	for last < 0 || !final.reached(last) {
		f, err := next()
		if err != nil {
			return final, fmt.Errorf("after the resume ack (last_seq %d): %w", last, err)
		}
		switch {
		case f.Type == "ack" && f.Ref == "final":
			last = f.LastSeq
			final.resumed(0, last)
		case f.Type == "error" && f.Ref == "final":
			return nil, fmt.Errorf("chat.resume refused: %s: %s", f.Code, f.Message)
		case f.Type == "message" && f.ChatID == v.chatID:
			final.add(message{Seq: f.Seq, ClientMsgID: f.ClientMsgID, Body: f.Body, FromKind: f.From.Kind})
		}
	}
	if err := c.write(ctx, encode(out{Type: "chat.end", Ref: "end", ChatID: v.chatID})); err != nil {
		return final, err
	}
	for {
		f, err := next()
		if err != nil {
			return final, fmt.Errorf("chat.end: %w", err)
		}
		if f.Ref == "end" {
			if f.Type != "ack" {
				return final, fmt.Errorf("chat.end refused: %s: %s", f.Code, f.Message)
			}
			v.endAcked = true
			return final, nil
		}
	}
}

// reached reports whether the view holds a message with seq ≥ seq, or
// seq is 0.
func (v *view) reached(seq int64) bool {
	if seq == 0 {
		return true
	}
	for i := len(v.events) - 1; i >= 0; i-- {
		if e := v.events[i]; !e.resume && e.msg.Seq >= seq {
			return true
		}
	}
	return false
}

// problem records a broken promise found outside the views.
func (c *chatRecord) problem(p string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.facts.ackProblems = append(c.facts.ackProblems, p)
}
