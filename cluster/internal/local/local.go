// Package local holds the node-local parts both cluster backends share: the
// registry of a node's bus subscriptions and event handlers, and the queue
// that calls them from one goroutine, in order.
package local

import (
	"context"
	"slices"
	"sync"

	"github.com/switchboard-chat/switchboard/cluster"
)

// Queue calls functions one at a time, in the order pushed, from its own
// goroutine. It is unbounded: pushers never block, and the functions run
// (the handlers of the bus and of events) must be quick.
type Queue struct {
	mu     sync.Mutex
	items  []func()
	closed bool
	wake   chan struct{}
	done   chan struct{}
}

// NewQueue starts a queue; Close stops it.
func NewQueue() *Queue {
	q := &Queue{wake: make(chan struct{}, 1), done: make(chan struct{})}
	go q.run()
	return q
}

// Push queues f; after Close it does nothing.
func (q *Queue) Push(f func()) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.items = append(q.items, f)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Close drops what is queued and waits for the function under way.
func (q *Queue) Close() {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		<-q.done
		return
	}
	q.closed = true
	q.items = nil
	q.mu.Unlock()
	close(q.wake)
	<-q.done
}

func (q *Queue) run() {
	defer close(q.done)
	for range q.wake {
		for {
			q.mu.Lock()
			if len(q.items) == 0 || q.closed {
				q.mu.Unlock()
				break
			}
			batch := q.items
			q.items = nil
			q.mu.Unlock()
			for _, f := range batch {
				f()
			}
		}
	}
}

// Subs is a node's bus subscriptions and event handlers.
type Subs struct {
	mu     sync.Mutex
	next   int
	chats  map[string]map[int]func(cluster.Message)
	events map[int]eventSub
	onNode func(cluster.Message)
}

type eventSub struct {
	ctx context.Context
	fn  func(cluster.Event)
}

// Add registers fn for chatID; first says whether it is the chat's first
// subscription on this node (the node must join the chat).
func (s *Subs) Add(chatID string, fn func(cluster.Message)) (id int, first bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.chats == nil {
		s.chats = map[string]map[int]func(cluster.Message){}
	}
	set := s.chats[chatID]
	if set == nil {
		set = map[int]func(cluster.Message){}
		s.chats[chatID] = set
		first = true
	}
	s.next++
	set[s.next] = fn
	return s.next, first
}

// Remove forgets a subscription; last says whether it was the chat's last
// one (the node may leave the chat). Removing twice reports false.
func (s *Subs) Remove(chatID string, id int) (last bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	set := s.chats[chatID]
	if _, ok := set[id]; !ok {
		return false
	}
	delete(set, id)
	if len(set) == 0 {
		delete(s.chats, chatID)
		return true
	}
	return false
}

// Has reports whether the node has a subscription to chatID.
func (s *Subs) Has(chatID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.chats[chatID]) > 0
}

// Chats returns the chats with subscriptions, sorted.
func (s *Subs) Chats() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.chats))
	for id := range s.chats {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// Deliver calls the handlers of m's chat (or the OnNode handler for a
// node-addressed message). Call it from the node's Queue.
func (s *Subs) Deliver(m cluster.Message) {
	s.mu.Lock()
	var fns []func(cluster.Message)
	if m.ChatID == "" {
		if s.onNode != nil {
			fns = append(fns, s.onNode)
		}
	} else {
		ids := make([]int, 0, len(s.chats[m.ChatID]))
		for id := range s.chats[m.ChatID] {
			ids = append(ids, id)
		}
		slices.Sort(ids) // oldest subscription first: deterministic
		for _, id := range ids {
			fns = append(fns, s.chats[m.ChatID][id])
		}
	}
	s.mu.Unlock()
	for _, fn := range fns {
		fn(m)
	}
}

// OnNode sets the handler of node-addressed messages.
func (s *Subs) OnNode(fn func(cluster.Message)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onNode = fn
}

// AddEvents registers an event handler until ctx ends.
func (s *Subs) AddEvents(ctx context.Context, fn func(cluster.Event)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.events == nil {
		s.events = map[int]eventSub{}
	}
	s.next++
	s.events[s.next] = eventSub{ctx, fn}
}

// Event calls the live event handlers, oldest first. Call it from the
// node's Queue.
func (s *Subs) Event(e cluster.Event) {
	s.mu.Lock()
	ids := make([]int, 0, len(s.events))
	for id, sub := range s.events {
		if sub.ctx.Err() != nil {
			delete(s.events, id)
			continue
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	fns := make([]func(cluster.Event), 0, len(ids))
	for _, id := range ids {
		fns = append(fns, s.events[id].fn)
	}
	s.mu.Unlock()
	for _, fn := range fns {
		fn(e)
	}
}
