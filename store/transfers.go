package store

import (
	"context"

	"github.com/switchboard-chat/switchboard"
)

// TransferStore records chat transfers between departments and operators.
// Every Store implements it.
type TransferStore interface {
	// TransferChat moves an ongoing chat of fromOperatorID to
	// t.ToOperatorID (required, an existing operator: else a
	// ValidationError for "to_operator") and, when t.ToDepartmentID is set
	// and differs from the chat's department, to that live department
	// (else a ValidationError for "to_department"), copying its name. The
	// hop is recorded in the same transaction, with FromDepartmentID and
	// FromOperatorID taken from the chat, ToDepartmentID defaulting to the
	// chat's department, and a zero At meaning now. It returns the chat as
	// moved and the recorded hop. ErrConflict when the chat is not ongoing
	// with fromOperatorID any more; ErrNotFound for an unknown chat.
	TransferChat(ctx context.Context, chatID, fromOperatorID string, t switchboard.Transfer) (switchboard.Chat, switchboard.Transfer, error)
	// MoveQueuedChat moves a queued chat to another live department
	// (department_id changes and its name is copied; the chat stays queued
	// with no operator), recording the hop in the same transaction with
	// no operators, the note, and At now; it returns the chat as moved and
	// the hop. The router uses it to hand a chat to its department's
	// fallback (note "fallback"). ErrConflict when the chat is not queued;
	// a ValidationError for "to_department" when the department is not
	// live or is the chat's own; ErrNotFound for an unknown chat.
	MoveQueuedChat(ctx context.Context, chatID, toDepartmentID, note string) (switchboard.Chat, switchboard.Transfer, error)
	// Transfers returns a chat's hops, oldest first (none for an unknown
	// chat).
	Transfers(ctx context.Context, chatID string) ([]switchboard.Transfer, error)
}
