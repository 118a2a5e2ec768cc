package store

import (
	"context"
	"time"

	"github.com/switchboard-chat/switchboard"
)

// MaxNoteLen is the longest note body, in characters.
const MaxNoteLen = 4000

// MaxPreviousChats is the most previous chats VisitorChats returns.
const MaxPreviousChats = 20

// DetailStore serves a chat's detail view and its history actions: notes,
// feedback, the visitor's other chats, delete and reopen. Every Store
// implements it.
type DetailStore interface {
	// Notes returns a chat's notes, oldest first (none for an unknown
	// chat).
	Notes(ctx context.Context, chatID string) ([]switchboard.Note, error)
	// AddNote stores a note on a chat and returns it with its id and
	// CreatedAt (a zero one means now). The body is trimmed; an empty one
	// or one longer than MaxNoteLen characters is a ValidationError for
	// "body". An unknown chat is ErrNotFound.
	AddNote(ctx context.Context, n switchboard.Note) (switchboard.Note, error)
	// Feedback returns a chat's feedback, or nil when it has none.
	Feedback(ctx context.Context, chatID string) (*switchboard.Feedback, error)
	// VisitorChats returns up to limit (at most MaxPreviousChats) chats of
	// a visitor other than exceptChatID, newest first.
	VisitorChats(ctx context.Context, visitorID, exceptChatID string, limit int) ([]switchboard.Chat, error)
	// DeleteChat deletes a missed or completed chat for good in one
	// transaction: the chat, its messages, notes, feedback and transfers
	// go, its pending mail is cancelled, and an audit entry "chat.delete"
	// (actorID, the chat's id, no content) is written at at. ErrConflict
	// (field "status") for a queued or ongoing chat; ErrNotFound for an
	// unknown one.
	DeleteChat(ctx context.Context, chatID, actorID string, at time.Time) error
	// ReopenChat reopens a completed or missed chat: queued with no
	// operator, or ongoing with toOperatorID when that is not "" (answered_at
	// at when it had none); reopened true, reopened_at at, ended_at cleared.
	// It is a conditional update: ErrConflict (field "status") for a chat
	// that is queued or ongoing; ErrNotFound for an unknown chat.
	ReopenChat(ctx context.Context, chatID, toOperatorID string, at time.Time) (switchboard.Chat, error)
}
