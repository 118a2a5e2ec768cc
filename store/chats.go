package store

import (
	"context"
	"time"

	"github.com/switchboard-chat/switchboard"
)

// MaxMessages is the most messages one call of ChatStore.Messages returns.
const MaxMessages = 10000

// NewMessage is a message to append. The store assigns Seq and At. Every
// string must be valid UTF-8 without NUL bytes (else a
// *switchboard.ValidationError naming the field); ChatID, ClientMsgID and a
// known FromKind are required.
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
	Status       switchboard.ChatStatus // queued, or missed when nobody is online; "" means queued
}

// ChatFilter selects chats for the history list (ChatStore.ListChats).
// Zero fields do not filter; the fields combine with AND.
type ChatFilter struct {
	// Category is "" or all (no restriction), ongoing (queued or ongoing),
	// missed, completed, reopened (the reopened flag, whatever the status)
	// or monitored (only the chats of ChatIDs). Another value is a
	// ValidationError for "category".
	Category switchboard.Category
	// DepartmentIDs restricts the list to these departments; empty means
	// every department. (The API passes an operator's own departments.)
	DepartmentIDs []string
	// Participant, when set, widens DepartmentIDs by the chats this
	// operator answers or answered, or took part in through a transfer
	// (from or to them), whatever their department; with DepartmentIDs
	// empty it restricts the list to those chats. (The API passes the
	// operator, so its own history never hides a chat it handled.)
	Participant  string
	DepartmentID string
	OperatorID   string
	// Visitor is a substring of the visitor's name or email, matched
	// ignoring case (% and _ are literal). On SQLite only ASCII letters
	// fold.
	Visitor string
	// From and To bound started_at: From <= started_at < To. A zero time
	// leaves that side open.
	From, To time.Time
	// Rating is 1–5, or 0 for any (another value is a ValidationError for
	// "rating").
	Rating int
	// Query selects chats with a visitor or operator message (the
	// visitor's question is message 1) containing it as a substring,
	// ignoring ASCII case (PostgreSQL also folds other scripts per its
	// locale); system notices do not count. No word splitting, so Japanese
	// works as well as English; %, _ and every other character are
	// literal. Surrounding white space is ignored and a blank Query does
	// not filter. Longer than MaxQueryRunes is a ValidationError for "q".
	Query string
	// ChatIDs are the chats of the monitored category (none when empty);
	// other categories ignore it.
	ChatIDs []string
}

// MaxQueryRunes bounds ChatFilter.Query: a search is for a phrase, and a
// long pattern only costs the database.
const MaxQueryRunes = 200

// ChatRow is one chat of the history list.
type ChatRow struct {
	ID             string
	Status         switchboard.ChatStatus
	DepartmentID   string
	DepartmentName string // the chat's copy: kept after the department is deleted
	VisitorID      string
	VisitorName    string
	VisitorEmail   string
	OperatorID     string // "" when nobody answered
	OperatorName   string // "" also when the operator was deleted
	StartedAt      time.Time
	EndedAt        *time.Time
	Reopened       bool
	Rating         int // 0 when no feedback
}

// ChatStore is the durable side of live chat: visitors, chats and their
// messages. Every Store implements it. Text the database could not store
// as it is (invalid UTF-8, NUL bytes) is a *switchboard.ValidationError
// naming the field.
type ChatStore interface {
	// Visitor returns a visitor by id.
	Visitor(ctx context.Context, id string) (switchboard.Visitor, error)
	// UpsertVisitor creates the visitor or updates its name, email, ip,
	// user agent, page, locale and last-seen time (empty strings keep the
	// stored name and email), and returns it as stored. v.ID is required
	// (ValidationError "id"); a zero LastSeen means now; CreatedAt is set
	// by the store when it creates the visitor.
	UpsertVisitor(ctx context.Context, v switchboard.Visitor) (switchboard.Visitor, error)

	// CreateChat upserts the visitor (as UpsertVisitor) and creates the
	// chat (with the department's name copied, the visitor's ip and locale,
	// started_at now, status c.Status) in one transaction. A non-empty
	// Question is stored in the same transaction as the chat's first
	// message (seq 1, from the visitor, client_msg_id "question", so
	// last_seq is 1). An unknown or deleted department is ErrNotFound; a
	// status other than queued or missed is a ValidationError for
	// "status". Only completed chats have an ended_at.
	CreateChat(ctx context.Context, c NewChat) (switchboard.Chat, error)
	// Chat returns a chat (LastSeq included).
	Chat(ctx context.Context, id string) (switchboard.Chat, error)
	// VisitorOpenChats returns the visitor's queued and ongoing chats,
	// oldest first (none, not an error, for an unknown visitor).
	VisitorOpenChats(ctx context.Context, visitorID string) ([]switchboard.Chat, error)
	// OperatorOpenChats returns the ongoing chats assigned to an operator,
	// oldest first.
	OperatorOpenChats(ctx context.Context, operatorID string) ([]switchboard.Chat, error)
	// QueuedChats returns every queued chat, oldest first (to rebuild the
	// router's queues after a restart).
	QueuedChats(ctx context.Context) ([]switchboard.Chat, error)
	// LastOperator returns the operator of the visitor's most recently
	// started chat in the department that an operator answered (any status:
	// ongoing or completed, with its operator as stored — after a transfer
	// the operator who took it over), so that a returning visitor can be
	// offered to them first. "" (not an error) when there is none, also
	// for an unknown visitor or department.
	LastOperator(ctx context.Context, visitorID, departmentID string) (string, error)

	// AssignChat gives a queued chat to an operator: status ongoing,
	// operator set, answered_at = at (the first time only: a requeued chat
	// keeps its first answer). It is a conditional update, so of two
	// concurrent calls exactly one wins; the loser (and any call on a chat
	// that is not queued) gets switchboard.ErrAlreadyTaken. An unknown chat
	// is ErrNotFound.
	AssignChat(ctx context.Context, chatID, operatorID string, at time.Time) (switchboard.Chat, error)
	// RequeueChat puts an ongoing chat of operatorID back to queued with no
	// operator (its operator went offline); ErrConflict if it is not that
	// operator's ongoing chat any more, ErrNotFound for an unknown chat.
	RequeueChat(ctx context.Context, chatID, operatorID string) (switchboard.Chat, error)
	// MissChat turns a queued chat missed; ErrConflict if it is not queued,
	// ErrNotFound for an unknown chat. at is not stored: only completed
	// chats have an ended_at, and a chat keeps no other time for this.
	MissChat(ctx context.Context, chatID string, at time.Time) (switchboard.Chat, error)
	// EndChat completes a queued or ongoing chat (ended_at = at); ErrConflict
	// if it is already missed or completed, ErrNotFound for an unknown chat.
	EndChat(ctx context.Context, chatID string, at time.Time) (switchboard.Chat, error)

	// AppendMessage stores a message and returns it with its seq and time.
	// Concurrent appends are group-committed: they share one transaction,
	// and the call returns only after that transaction committed, so an
	// acknowledged message is durable. Seq is 1, 2, 3 … per chat without
	// gaps, also with several processes on one database; an append made
	// after another one to the same chat returned gets a higher seq. The
	// chat's status does not matter. The same ClientMsgID from the same sender
	// (FromKind and FromID) with the same body returns the original message
	// with duplicate true (nothing is written), also when both copies are
	// appended at once; with another body or from another sender it is a
	// ConflictError for "client_msg_id". An unknown chat is ErrNotFound.
	// When the database fails, the whole group fails, nothing of it is
	// stored, and the error matches switchboard.ErrUnavailable if a retry
	// may succeed (as after Close). When ctx is done before the commit,
	// the call returns ctx's error at once, and the message may or may not
	// be stored: a retry with the same ClientMsgID tells.
	AppendMessage(ctx context.Context, m NewMessage) (msg switchboard.Message, duplicate bool, err error)
	// Messages returns up to limit (at most MaxMessages) messages of a
	// chat with seq > afterSeq, in seq order; an empty, non-nil slice when
	// there are none. A limit below 1 is a ValidationError for "limit"; an
	// unknown chat is ErrNotFound.
	Messages(ctx context.Context, chatID string, afterSeq int64, limit int) ([]switchboard.Message, error)

	// ListChats lists the chats that match f, newest first by
	// (started_at, id), one keyset page at a time: a chat inserted between
	// two page requests never shifts the later pages (a newer one simply
	// does not appear on them). A malformed cursor is a ValidationError for
	// "cursor", a bad filter one naming its field.
	ListChats(ctx context.Context, f ChatFilter, p Page) (items []ChatRow, next string, err error)

	// SaveFeedback stores (or replaces) a chat's rating and comment and
	// copies the rating onto the chat. A rating outside 1–5 is a
	// ValidationError for "rating"; an unknown chat is ErrNotFound; a zero
	// CreatedAt means now.
	SaveFeedback(ctx context.Context, f switchboard.Feedback) error
}
