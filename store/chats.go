package store

import (
	"context"
	"time"

	"github.com/switchboard-chat/switchboard"
)

// NewMessage is a message to append. The store assigns Seq and At.
type NewMessage struct {
	ChatID      string
	ClientMsgID string // unique per chat; the same id again returns the original
	FromKind    switchboard.SenderKind
	FromID      string
	FromName    string
	Body        string
}

// NewChat is a chat to create for a visitor.
type NewChat struct {
	DepartmentID string
	Visitor      switchboard.Visitor // upserted by ID: name, email, ip, user agent, page, locale, last seen
	Question     string
	PageURL      string
	Status       switchboard.ChatStatus // queued, or missed when nobody is online
}

// ChatStore is the durable side of live chat: visitors, chats and their
// messages. Every Store implements it.
type ChatStore interface {
	// Visitor returns a visitor by id.
	Visitor(ctx context.Context, id string) (switchboard.Visitor, error)
	// UpsertVisitor creates the visitor or updates its name, email, ip,
	// user agent, page, locale and last-seen time (empty strings keep the
	// stored name and email).
	UpsertVisitor(ctx context.Context, v switchboard.Visitor) (switchboard.Visitor, error)

	// CreateChat upserts the visitor and creates the chat (with the
	// department's name copied) in one transaction. A non-empty Question is
	// stored in the same transaction as the chat's first message (seq 1,
	// from the visitor, client_msg_id "question"). An unknown or deleted
	// department is ErrNotFound.
	CreateChat(ctx context.Context, c NewChat) (switchboard.Chat, error)
	// Chat returns a chat (LastSeq included).
	Chat(ctx context.Context, id string) (switchboard.Chat, error)
	// VisitorOpenChats returns the visitor's queued and ongoing chats, oldest first.
	VisitorOpenChats(ctx context.Context, visitorID string) ([]switchboard.Chat, error)
	// OperatorOpenChats returns the ongoing chats assigned to an operator.
	OperatorOpenChats(ctx context.Context, operatorID string) ([]switchboard.Chat, error)
	// QueuedChats returns every queued chat, oldest first (to rebuild the
	// router's queues after a restart).
	QueuedChats(ctx context.Context) ([]switchboard.Chat, error)

	// AssignChat gives a queued chat to an operator: status ongoing,
	// operator set, answered_at set (first time only). It is a conditional
	// update, so of two concurrent calls exactly one wins; the loser (and any
	// call on a chat that is not queued) gets switchboard.ErrAlreadyTaken.
	AssignChat(ctx context.Context, chatID, operatorID string, at time.Time) (switchboard.Chat, error)
	// RequeueChat puts an ongoing chat of operatorID back to queued with no
	// operator (its operator went offline); ErrConflict if it is not that
	// operator's ongoing chat any more.
	RequeueChat(ctx context.Context, chatID, operatorID string) (switchboard.Chat, error)
	// MissChat turns a queued chat missed; ErrConflict if it is not queued.
	MissChat(ctx context.Context, chatID string, at time.Time) (switchboard.Chat, error)
	// EndChat completes a queued or ongoing chat (ended_at = at); ErrConflict
	// if it is already missed or completed.
	EndChat(ctx context.Context, chatID string, at time.Time) (switchboard.Chat, error)

	// AppendMessage stores a message and returns it with its seq. Concurrent
	// appends are group-committed: they share one transaction, and the call
	// returns only after that transaction committed, so an acknowledged
	// message is durable. Seq is 1, 2, 3 … per chat without gaps. The same
	// ClientMsgID with the same body returns the original message with
	// duplicate true (nothing is written); with another body it is a
	// ConflictError for "client_msg_id". An unknown chat is ErrNotFound.
	AppendMessage(ctx context.Context, m NewMessage) (msg switchboard.Message, duplicate bool, err error)
	// Messages returns up to limit messages of a chat with seq > afterSeq,
	// in seq order.
	Messages(ctx context.Context, chatID string, afterSeq int64, limit int) ([]switchboard.Message, error)

	// SaveFeedback stores (or replaces) a chat's rating and comment and
	// copies the rating onto the chat.
	SaveFeedback(ctx context.Context, f switchboard.Feedback) error
}
