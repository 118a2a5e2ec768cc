package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store"
)

// errChatsPending is what the store.ChatStore methods return until they are
// implemented (phase 2, after the interface in store/chats.go is settled).
// They exist now only because store.Store embeds store.ChatStore, and the
// tree must build.
var errChatsPending = errors.New("sqlstore: chat storage is not implemented yet")

// Visitor is not implemented yet.
func (db *DB) Visitor(ctx context.Context, id string) (switchboard.Visitor, error) {
	return switchboard.Visitor{}, errChatsPending
}

// UpsertVisitor is not implemented yet.
func (db *DB) UpsertVisitor(ctx context.Context, v switchboard.Visitor) (switchboard.Visitor, error) {
	return switchboard.Visitor{}, errChatsPending
}

// CreateChat is not implemented yet.
func (db *DB) CreateChat(ctx context.Context, c store.NewChat) (switchboard.Chat, error) {
	return switchboard.Chat{}, errChatsPending
}

// Chat is not implemented yet.
func (db *DB) Chat(ctx context.Context, id string) (switchboard.Chat, error) {
	return switchboard.Chat{}, errChatsPending
}

// VisitorOpenChats is not implemented yet.
func (db *DB) VisitorOpenChats(ctx context.Context, visitorID string) ([]switchboard.Chat, error) {
	return nil, errChatsPending
}

// OperatorOpenChats is not implemented yet.
func (db *DB) OperatorOpenChats(ctx context.Context, operatorID string) ([]switchboard.Chat, error) {
	return nil, errChatsPending
}

// QueuedChats is not implemented yet.
func (db *DB) QueuedChats(ctx context.Context) ([]switchboard.Chat, error) {
	return nil, errChatsPending
}

// AssignChat is not implemented yet.
func (db *DB) AssignChat(ctx context.Context, chatID, operatorID string, at time.Time) (switchboard.Chat, error) {
	return switchboard.Chat{}, errChatsPending
}

// RequeueChat is not implemented yet.
func (db *DB) RequeueChat(ctx context.Context, chatID, operatorID string) (switchboard.Chat, error) {
	return switchboard.Chat{}, errChatsPending
}

// MissChat is not implemented yet.
func (db *DB) MissChat(ctx context.Context, chatID string, at time.Time) (switchboard.Chat, error) {
	return switchboard.Chat{}, errChatsPending
}

// EndChat is not implemented yet.
func (db *DB) EndChat(ctx context.Context, chatID string, at time.Time) (switchboard.Chat, error) {
	return switchboard.Chat{}, errChatsPending
}

// AppendMessage is not implemented yet.
func (db *DB) AppendMessage(ctx context.Context, m store.NewMessage) (switchboard.Message, bool, error) {
	return switchboard.Message{}, false, errChatsPending
}

// Messages is not implemented yet.
func (db *DB) Messages(ctx context.Context, chatID string, afterSeq int64, limit int) ([]switchboard.Message, error) {
	return nil, errChatsPending
}

// SaveFeedback is not implemented yet.
func (db *DB) SaveFeedback(ctx context.Context, f switchboard.Feedback) error {
	return errChatsPending
}
