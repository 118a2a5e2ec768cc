// Package cluster is the live state that nodes of a Switchboard cluster
// share: who is online (operator presence and status, visitor presence,
// which node holds which connection), how many chats each operator holds
// (reservations against max_chats), which node runs the timers of a queued
// chat (leases), and the bus that carries a chat's frames between nodes.
//
// Every piece is a small interface, shaped for its consumer (the router
// takes Presence, Counters and Leases; the session layer Bus, Directory and
// Visitors). Two implementations satisfy all of them: cluster/memory (one
// process, no dependencies; it can also host several in-process nodes for
// tests) and cluster/redis (many nodes sharing one Redis). Both pass
// cluster/clustertest.
//
// # Liveness
//
// A node is alive while it heartbeats: each Heartbeat keeps it alive for
// the implementation's TTL. Presence entries, connections and visitors are
// tagged with the node that put them and count only while that node is
// alive, so a node that dies takes its entries with it after the TTL, even
// before anyone cleans up. A sweep (run by every node, the first to see a
// dead node wins) then deletes its entries and publishes an OperatorGone
// event for each of its operators, so a surviving node can route their
// chats again.
//
// Leases and reservations carry their own TTLs: a queued chat's lease
// expires when its owner stops renewing it, whoever the owner was.
//
// # Outages
//
// During an outage of the shared backend every operation fails promptly
// with an error wrapping ErrUnavailable; Ping says so (for /readyz). When
// the backend returns, the bus resubscribes by itself and the node puts
// back its bus memberships; subscribers of Events get an EventResync,
// after which they must put back what they own (presence of their
// operators) and re-read what they watch, since events may have been lost
// and a restarted backend may have lost its data.
package cluster

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/switchboard-chat/switchboard"
)

var (
	// ErrUnavailable wraps every failure to reach the shared backend. It
	// also matches switchboard.ErrUnavailable, so the API and the protocol
	// map it to 503 / "unavailable".
	ErrUnavailable = unavailable{}
	// ErrLeaseLost: the lease is held by someone else, or expired.
	ErrLeaseLost = errors.New("cluster: lease lost")
	// ErrClosed: the node was closed.
	ErrClosed = errors.New("cluster: closed")
)

type unavailable struct{}

func (unavailable) Error() string { return "cluster: backend unavailable" }

// Is makes errors.Is(ErrUnavailable, switchboard.ErrUnavailable) true.
func (unavailable) Is(target error) bool { return target == switchboard.ErrUnavailable }

// OperatorPresence is an operator's live state, held by one node (the one
// that last put it; it heartbeats for it).
type OperatorPresence struct {
	OperatorID    string             `json:"operator_id"`
	Status        switchboard.Status `json:"status"`
	DepartmentIDs []string           `json:"department_ids"` // the pools it is in, for OperatorsIn
	MaxChats      int                `json:"max_chats"`
	IdleSince     time.Time          `json:"idle_since"` // when it came online or was last assigned a chat
	Node          string             `json:"node"`       // set by PutOperator
}

// EventKind says what an Event is about.
type EventKind string

const (
	// EventOperatorPut: an operator's presence was put (any node).
	EventOperatorPut EventKind = "operator.put"
	// EventOperatorGone: an operator's presence was removed by its node, or
	// expired because its node died (Expired is true then).
	EventOperatorGone EventKind = "operator.gone"
	// EventNodeDown: a node stopped heartbeating and its entries were swept.
	EventNodeDown EventKind = "node.down"
	// EventResync: events may have been lost (the backend was unreachable,
	// or came back empty). Put back what this node owns, re-read the rest.
	EventResync EventKind = "resync"
)

// Event is a change of presence that every node hears.
type Event struct {
	Kind     EventKind        `json:"kind"`
	Operator OperatorPresence `json:"operator,omitzero"` // OperatorPut, OperatorGone
	Expired  bool             `json:"expired,omitempty"` // OperatorGone: its node died
	Node     string           `json:"node,omitempty"`    // NodeDown
}

// Presence is the operators' presence and status, shared by all nodes.
type Presence interface {
	// PutOperator records the operator's presence as held by this node
	// (p.Node is set to it), replacing any other node's entry. It lives as
	// long as this node heartbeats, or until RemoveOperator.
	PutOperator(ctx context.Context, p OperatorPresence) error
	// RemoveOperator removes the operator's entry if this node holds it
	// (an entry another node put since is left alone). It reports whether
	// it removed one.
	RemoveOperator(ctx context.Context, operatorID string) (bool, error)
	// Operator returns an operator's presence; ok is false when there is
	// none or its node is dead.
	Operator(ctx context.Context, operatorID string) (p OperatorPresence, ok bool, err error)
	// OperatorsIn lists the present operators of a department's pool, by
	// operator id.
	OperatorsIn(ctx context.Context, departmentID string) ([]OperatorPresence, error)
	// Events calls fn with every presence event from now on, in order, from
	// one goroutine, until ctx ends or the node closes. fn must not block
	// for long.
	Events(ctx context.Context, fn func(Event)) error
}

// Liveness keeps a node alive.
type Liveness interface {
	// Heartbeat keeps this node alive for another TTL. Implementations
	// heartbeat by themselves unless told not to; tests call it by hand.
	Heartbeat(ctx context.Context) error
	// Sweep removes the entries of nodes whose TTL passed and publishes
	// their events. Implementations sweep by themselves unless told not to.
	Sweep(ctx context.Context) error
	// Ping reports whether the shared backend answers (for /readyz).
	Ping(ctx context.Context) error
}

// Counters counts the chats (and live offers) each operator holds against
// its max_chats, across nodes. A reservation is keyed by chat id, so
// reserving twice is harmless and unreserving twice frees one slot.
type Counters interface {
	// Reserve gives the operator one slot for chatID if it holds fewer than
	// capacity (or already holds chatID: then its TTL is renewed), and
	// reports whether it did. ttl > 0 makes the slot expire unless
	// reserved again (for offers, which die with their node); 0 keeps it
	// until Release (for ongoing chats, which the store also knows).
	Reserve(ctx context.Context, operatorID, chatID string, capacity int, ttl time.Duration) (bool, error)
	// Unreserve frees the operator's slot of chatID, if any.
	Unreserve(ctx context.Context, operatorID, chatID string) error
	// Load returns how many slots each operator holds now.
	Load(ctx context.Context, operatorIDs ...string) (map[string]int, error)
	// ResetLoad replaces the operator's slots without TTL by chatIDs (read
	// from the store), after a resync; slots with a TTL stay.
	ResetLoad(ctx context.Context, operatorID string, chatIDs []string) error
}

// ConnKind is who is at the other end of a connection.
type ConnKind string

const (
	ConnOperator ConnKind = "operator"
	ConnVisitor  ConnKind = "visitor"
)

// Directory knows which node holds which connection, so that a frame for
// an operator (an offer) or a visitor reaches the nodes that hold its
// sockets.
type Directory interface {
	// AddConn records a connection of kind/id on this node; connID is
	// unique per connection.
	AddConn(ctx context.Context, kind ConnKind, id, connID string) error
	// RemoveConn forgets it.
	RemoveConn(ctx context.Context, kind ConnKind, id, connID string) error
	// ConnNodes returns the live nodes that hold a connection of kind/id,
	// sorted.
	ConnNodes(ctx context.Context, kind ConnKind, id string) ([]string, error)
}

// VisitorPresence is one open visitor connection.
type VisitorPresence struct {
	ConnID       string    `json:"conn_id"`
	VisitorID    string    `json:"visitor_id"`
	Name         string    `json:"name,omitempty"`
	DepartmentID string    `json:"department_id"`
	PageURL      string    `json:"page_url,omitempty"`
	ChatID       string    `json:"chat_id,omitempty"`
	IP           string    `json:"ip,omitempty"`
	ConnectedAt  time.Time `json:"connected_at"`
	Node         string    `json:"node"` // set by PutVisitor
}

// Visitors is the presence of visitor connections across nodes (for
// GET /api/visitors?online=true).
type Visitors interface {
	// PutVisitor records or replaces (by ConnID) a visitor connection of
	// this node.
	PutVisitor(ctx context.Context, v VisitorPresence) error
	// RemoveVisitor forgets a connection.
	RemoveVisitor(ctx context.Context, connID string) error
	// OnlineVisitors lists the live connections in the departments (nil:
	// all), oldest first, then by visitor id.
	OnlineVisitors(ctx context.Context, departmentIDs []string) ([]VisitorPresence, error)
}

// Lease is the right of one node to run the timers of a queued chat (or
// anything else named by Key) until ExpiresAt.
type Lease struct {
	Key  string
	Node string
	// Token grows with every new grant of the key (not with renewals): a
	// write that carries it can be refused when a newer holder exists.
	// Tokens restart when the backend loses its data.
	Token     int64
	ExpiresAt time.Time // as the backend reckons it
}

// Leases grants exclusive, expiring ownership of keys to nodes.
type Leases interface {
	// Acquire grants the key to this node for ttl when it is free or its
	// lease expired; ok is false (with the holder's lease) when another
	// node holds it. If this node holds it already, it is renewed and
	// keeps its token.
	Acquire(ctx context.Context, key string, ttl time.Duration) (l Lease, ok bool, err error)
	// Renew extends a lease this node holds; ErrLeaseLost when it expired
	// or another grant (another token) happened since.
	Renew(ctx context.Context, l Lease, ttl time.Duration) (Lease, error)
	// Release gives a lease up; releasing a lost lease does nothing.
	Release(ctx context.Context, l Lease) error
}

// Message is a frame carried by the bus.
type Message struct {
	ChatID string // the chat it was published to; "" for SendNode
	Data   []byte
}

// Bus carries frames between nodes. It is node-addressed: a node joins a
// chat when one of its connections subscribes to it; Publish delivers to
// every node joined to the chat (the publisher too, if it subscribed).
type Bus interface {
	// Subscribe calls fn with every message published to chatID from now
	// on, until unsubscribe is called or the node closes. Messages of one
	// publisher reach fn in publish order; fn is called from one goroutine
	// per node and must not block.
	Subscribe(ctx context.Context, chatID string, fn func(Message)) (unsubscribe func(context.Context) error, err error)
	// Publish sends data to the chat's subscribers on every node.
	Publish(ctx context.Context, chatID string, data []byte) error
	// SendNode sends data to one node's OnNode handler (frames addressed to
	// an operator or visitor whose socket is there; see Directory).
	SendNode(ctx context.Context, node string, data []byte) error
	// OnNode sets the handler of this node's SendNode messages (nil drops them).
	OnNode(fn func(Message))
}

// Node is one node's view of the cluster: everything above, bound to the
// node's id.
type Node interface {
	ID() string
	Liveness
	Presence
	Counters
	Directory
	Visitors
	Leases
	Bus
	// Leave removes this node's entries at once (a graceful drain), as if
	// it had died and been swept.
	Leave(ctx context.Context) error
	// Close stops the node's background work; its entries stay until they
	// expire (use Leave first to remove them).
	Close() error
}

// SortVisitors sorts visitor connections oldest first, then by visitor id
// and connection id, as OnlineVisitors returns them.
func SortVisitors(vs []VisitorPresence) {
	slices.SortFunc(vs, func(a, b VisitorPresence) int {
		if c := a.ConnectedAt.Compare(b.ConnectedAt); c != 0 {
			return c
		}
		if c := strings.Compare(a.VisitorID, b.VisitorID); c != 0 {
			return c
		}
		return strings.Compare(a.ConnID, b.ConnID)
	})
}
