package sqlstore

import (
	"context"
	"time"

	"github.com/switchboard-chat/switchboard"
)

// EndChatBetween ends a chat like EndChat, calling between after the
// transcript mail was drafted and before the transaction that ends the
// chat: a change made there must show in the transcript.
func (db *DB) EndChatBetween(ctx context.Context, chatID string, at time.Time, between func()) (switchboard.Chat, error) {
	draft := db.draftTranscript(ctx, chatID, at)
	between()
	return db.endChat(ctx, chatID, at, draft)
}
