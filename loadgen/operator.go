package loadgen

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// operator is one bench operator: an actor that accepts every offer,
// resumes each accepted chat from seq 0, and (with Replies) answers each
// visitor message once.
type operator struct {
	r        *runner
	n        int
	id       string
	email    string
	password string
	token    string
	hc       *http.Client
	in       *inbox

	conn    *wsConn
	gen     int
	nodes   nodeDialer
	chats   map[string]*opChat
	offers  map[string]bool // offered, not yet accepted, refused or revoked
	frames  map[string]int  // frames received by type, for the debug log
	out     *sender
	nextRef int
	views   []*view

	online   chan struct{} // closed when status.set online was acked
	isOnline bool
	exited   chan struct{}
}

// opChat is an operator's side of one chat.
type opChat struct {
	id      string
	view    *view // on the current connection
	replied map[string]bool
	have    map[int64]bool
	upTo    int64 // every seq up to here has been seen
	ended   bool
}

func newOperator(r *runner, n int) *operator {
	o := &operator{
		r: r, n: n, in: newInbox(), chats: map[string]*opChat{}, offers: map[string]bool{}, frames: map[string]int{},
		online: make(chan struct{}), exited: make(chan struct{}),
	}
	o.out = newSender(o.in, operatorWindow)
	// Offset from the visitors' turn, so that a chat's two sides are
	// mostly on different nodes.
	o.nodes = newNodeDialer(r.cfg.OperatorNodes, n)
	return o
}

// operatorWindow is how many frames an operator may have unanswered: the
// server handles a connection's frames one at a time anyway, and a server
// that rate-limits closes a connection after Burst+10 (default 50) refused
// frames in a row.
const operatorWindow = 16

func (o *operator) who() string { return fmt.Sprintf("operator %d", o.n) }

// run is the operator's actor; it ends on evStop or when the run ends.
func (o *operator) run(ctx context.Context) {
	defer close(o.exited)
	if err := o.connect(ctx, 3); err != nil {
		o.r.fail(fmt.Sprintf("%s: connect: %v", o.who(), err))
		return
	}
	defer func() {
		o.conn.close()
		o.r.log.Debug("operator frames received", "operator", o.n, "by_type", fmt.Sprint(o.frames))
	}()
	var batch []*frame
	for {
		select {
		case <-o.in.wake:
		case <-ctx.Done():
			return
		}
		batch = o.in.take(batch)
		for _, f := range batch {
			if f.Type == evStop {
				return
			}
			if err := o.handle(ctx, f); err != nil {
				if ctx.Err() == nil {
					o.r.fail(fmt.Sprintf("%s: %v", o.who(), err))
				}
				return
			}
		}
		o.out.flush(ctx, o.conn, o.writeFailed)
	}
}

func (o *operator) connect(ctx context.Context, attempts int) error {
	c, err := o.r.dialRetrying(ctx, attempts, "HTTP 429 on /ws/operator", []int{401, 403}, func() (*wsConn, error) {
		o.gen++
		return dial(ctx, o.hc, o.nodes.next(o.r)+"/ws/operator", httpHeaderBearer(o.token), o.gen, o.in)
	})
	if err == nil {
		o.conn = c
	}
	return err
}

// send queues a frame that expects an answer, under a fresh ref.
func (o *operator) send(p pendingFrame, f out, front bool) {
	o.nextRef++
	f.Ref = strconv.Itoa(o.nextRef)
	p.data = encode(f)
	o.out.enqueue(f.Ref, p, front)
}

func (o *operator) writeFailed(err error) {
	o.r.log.Debug("operator write failed; the reader reports the loss", "operator", o.n, "err", err)
}

// chat returns the operator's state of a chat, creating it (with a view
// on the current connection) on first sight: live frames may come before
// the accept's ack.
func (o *operator) chat(id string) *opChat {
	c := o.chats[id]
	if c == nil {
		c = &opChat{id: id, replied: map[string]bool{}, have: map[int64]bool{}}
		o.chats[id] = c
	}
	if c.view == nil {
		c.view = &view{who: o.who(), chatID: id}
		if o.gen > 1 {
			c.view.who = fmt.Sprintf("%s (connection %d)", o.who(), o.gen)
		}
		o.views = append(o.views, c.view)
	}
	return c
}

func (o *operator) handle(ctx context.Context, f *frame) error {
	if f.gen != 0 && f.gen != o.gen {
		return nil // from a connection already replaced
	}
	if f.gen != 0 {
		o.frames[f.Type]++
	}
	switch f.Type {
	case evClosed:
		return o.lost(ctx, f.err)
	case evFlush:
		o.out.flushed()
	case "hello":
		// After a reconnect: resume every chat this operator holds, before
		// the replies that go again.
		ids := make([]string, 0, len(f.Chats))
		for _, c := range f.Chats {
			ids = append(ids, c.ChatID)
		}
		for id, c := range o.chats {
			if !c.ended && !slices.Contains(ids, id) && o.gen > 1 {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		for i := len(ids) - 1; i >= 0; i-- {
			o.resume(o.chat(ids[i]), true)
		}
		// Offers that came on the lost connection may still stand.
		for _, id := range slices.Sorted(maps.Keys(o.offers)) {
			if !slices.Contains(ids, id) {
				o.send(pendingFrame{kind: "accept", chatID: id}, out{Type: "chat.accept", ChatID: id}, false)
			}
		}
		o.send(pendingFrame{kind: "status"}, out{Type: "status.set", Status: "online"}, true)
		o.out.held = false
	case "chat.offer":
		o.offers[f.ChatID] = true
		o.send(pendingFrame{kind: "accept", chatID: f.ChatID}, out{Type: "chat.accept", ChatID: f.ChatID}, false)
	case "ack":
		return o.ack(ctx, f)
	case "error":
		return o.refused(f)
	case "message":
		o.message(ctx, f)
	case "chat.ended":
		if c := o.chats[f.ChatID]; c != nil {
			c.ended = true
		}
		if rec := o.r.record(f.ChatID); rec != nil {
			rec.ended()
		}
	case "chat.offer_revoked":
		delete(o.offers, f.ChatID)
	case "chat.requeued":
		o.r.log.Warn("a bench chat was requeued away from its operator", "operator", o.n, "chat_id", f.ChatID)
	case "_invalid":
		return errors.New(f.Message)
	}
	return nil
}

func (o *operator) resume(c *opChat, front bool) {
	after := c.upTo
	o.send(pendingFrame{kind: "resume", chatID: c.id, after: after}, out{Type: "chat.resume", ChatID: c.id, AfterSeq: &after}, front)
}

func (o *operator) ack(ctx context.Context, f *frame) error {
	p, ok := o.out.answered(f.Ref)
	if !ok {
		return nil
	}
	switch p.kind {
	case "status":
		if !o.isOnline {
			o.isOnline = true
			close(o.online)
		}
	case "accept":
		delete(o.offers, p.chatID)
		if rec := o.r.record(p.chatID); rec != nil {
			rec.note(func(c *chatRecord) { c.acceptedBy = o.n })
		}
		o.resume(o.chat(p.chatID), false) // from seq 0: the chat's whole history
	case "resume":
		o.chat(p.chatID).view.resumed(p.after, f.LastSeq)
	case "send":
		if rec := o.r.record(p.chatID); rec != nil {
			rec.ack(p.msgID, f.Seq, f.at)
		}
	}
	return nil
}

func (o *operator) refused(f *frame) error {
	p, ok := o.out.pending[f.Ref]
	if !ok {
		return fmt.Errorf("error frame %s: %s", f.Code, f.Message)
	}
	if d, retry := o.r.retryAfter(f); retry {
		o.out.again(f.Ref, d, f.Code == "rate_limited")
		return nil
	}
	o.out.answered(f.Ref)
	switch {
	case p.kind == "accept":
		// Another operator was quicker, or the offer lapsed (after a lost
		// connection): the router offers the chat again.
		delete(o.offers, p.chatID)
		o.r.log.Debug("accept refused", "operator", o.n, "chat_id", p.chatID, "code", f.Code, "message", f.Message)
		return nil
	case p.kind == "status":
		return fmt.Errorf("status.set online refused: %s: %s", f.Code, f.Message)
	}
	o.r.fail(fmt.Sprintf("%s: %s of chat %s refused: %s: %s", o.who(), p.kind, p.chatID, f.Code, f.Message))
	return nil
}

func (o *operator) message(ctx context.Context, f *frame) {
	c := o.chat(f.ChatID)
	c.view.add(message{Seq: f.Seq, ClientMsgID: f.ClientMsgID, Body: f.Body, FromKind: f.From.Kind})
	c.have[f.Seq] = true
	for c.have[c.upTo+1] {
		delete(c.have, c.upTo)
		c.upTo++
	}
	if f.From.Kind != "visitor" || !isVisitorMsg(f.ClientMsgID) {
		return
	}
	rec := o.r.record(f.ChatID)
	if rec == nil {
		return
	}
	rec.deliver(f.ClientMsgID, f.at)
	if !o.r.cfg.Replies || c.replied[f.ClientMsgID] {
		return
	}
	c.replied[f.ClientMsgID] = true
	id, body := replyMsgID(f.ClientMsgID), "re: "+f.Body
	rec.sent(id, body, time.Now())
	o.send(pendingFrame{kind: "send", chatID: c.id, msgID: id}, out{Type: "message.send", ChatID: c.id, ClientMsgID: id, Body: body}, false)
}

// lost reconnects after the connection ended unexpectedly; hello then
// resumes every chat and unacked replies go again.
func (o *operator) lost(ctx context.Context, err error) error {
	for _, c := range o.chats {
		if c.view != nil {
			c.view.dropped = true
			c.view = nil
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	switch closeStatus(err) {
	case 4401:
		return fmt.Errorf("session ended by the server (4401): %w", err)
	case 4429:
		o.r.rateLimited("operator connection closed with 4429")
		return fmt.Errorf("closed for exceeding the rate limit: %w", err)
	}
	o.r.reconnects.Add(1)
	o.r.log.Warn("operator connection lost; resuming", "operator", o.n, "err", err)
	o.out.reconnected(func(p pendingFrame) bool { return p.kind == "send" })
	return o.connect(ctx, 0)
}
