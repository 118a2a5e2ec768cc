package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store"
)

// Notes returns a chat's notes, oldest first (see store.DetailStore).
func (db *DB) Notes(ctx context.Context, chatID string) ([]switchboard.Note, error) {
	const op = "read notes"
	rows, err := db.reader().query(ctx, `SELECT id, chat_id, operator_id, body, created_at FROM notes
		WHERE chat_id = ? ORDER BY created_at, id`, chatID)
	if err != nil {
		return nil, db.wrap(op, err)
	}
	defer rows.Close()
	out := []switchboard.Note{}
	for rows.Next() {
		var (
			n  switchboard.Note
			at int64
		)
		if err := rows.Scan(&n.ID, &n.ChatID, &n.OperatorID, &n.Body, &at); err != nil {
			return nil, db.wrap(op, err)
		}
		n.CreatedAt = fromMS(at)
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, db.wrap(op, err)
	}
	return out, nil
}

// AddNote stores a note on a chat (see store.DetailStore).
func (db *DB) AddNote(ctx context.Context, n switchboard.Note) (switchboard.Note, error) {
	n.Body = strings.TrimSpace(n.Body)
	if n.Body == "" {
		return switchboard.Note{}, switchboard.Invalid("body", "is required")
	}
	if utf8.RuneCountInString(n.Body) > store.MaxNoteLen {
		return switchboard.Note{}, switchboard.Invalid("body", "must be at most %d characters", store.MaxNoteLen)
	}
	if err := checkTexts("body", n.Body, "operator_id", n.OperatorID); err != nil {
		return switchboard.Note{}, err
	}
	if n.CreatedAt.IsZero() {
		n.CreatedAt = switchboard.Now()
	}
	n.ID = switchboard.NewID()
	res, err := db.writer().exec(ctx, `INSERT INTO notes (id, chat_id, operator_id, body, created_at)
		SELECT ?, id, ?, ?, ? FROM chats WHERE id = ?`, n.ID, n.OperatorID, n.Body, ms(n.CreatedAt), n.ChatID)
	if err == nil {
		err = requireRows(res)
	}
	if err != nil {
		return switchboard.Note{}, db.wrap("add note", err)
	}
	n.CreatedAt = fromMS(ms(n.CreatedAt))
	return n, nil
}

// Feedback returns a chat's feedback or nil (see store.DetailStore).
func (db *DB) Feedback(ctx context.Context, chatID string) (*switchboard.Feedback, error) {
	var (
		f  switchboard.Feedback
		at int64
	)
	err := db.reader().queryRow(ctx, `SELECT chat_id, rating, comment, created_at FROM feedback WHERE chat_id = ?`,
		chatID).Scan(&f.ChatID, &f.Rating, &f.Comment, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, db.wrap("read feedback", err)
	}
	f.CreatedAt = fromMS(at)
	return &f, nil
}

// VisitorChats returns a visitor's other chats, newest first (see
// store.DetailStore).
func (db *DB) VisitorChats(ctx context.Context, visitorID, exceptChatID string, limit int) ([]switchboard.Chat, error) {
	if limit < 1 || limit > store.MaxPreviousChats {
		limit = store.MaxPreviousChats
	}
	return db.chatsOrdered(ctx, "read visitor's chats",
		`visitor_id = ? AND id <> ? ORDER BY started_at DESC, id DESC LIMIT ?`, visitorID, exceptChatID, limit)
}

// DeleteChat deletes an ended chat with everything of it, cancels its
// pending mail and audits the deletion, in one transaction (see
// store.DetailStore).
func (db *DB) DeleteChat(ctx context.Context, chatID, actorID string, at time.Time) error {
	err := db.inTx(ctx, func(t *tx) error {
		res, err := t.exec(ctx, `DELETE FROM chats WHERE id = ? AND status IN ('missed', 'completed')`, chatID)
		if err != nil {
			return err
		}
		if err := requireRows(res); err != nil {
			var status string
			serr := t.queryRow(ctx, `SELECT status FROM chats WHERE id = ?`, chatID).Scan(&status)
			if serr != nil {
				return serr // sql.ErrNoRows: not found
			}
			return &switchboard.ConflictError{Field: "status", Message: "the chat is " + status + ": end it before deleting it"}
		}
		if _, err := t.exec(ctx, `UPDATE mail_outbox SET status = 'cancelled' WHERE chat_id = ? AND status = 'pending'`, chatID); err != nil {
			return err
		}
		return t.audit(ctx, at, actorID, "chat.delete", "chat", chatID)
	})
	if err != nil {
		return db.wrap("delete chat "+chatID, err)
	}
	return nil
}

// ReopenChat reopens a missed or completed chat (see store.DetailStore).
func (db *DB) ReopenChat(ctx context.Context, chatID, toOperatorID string, at time.Time) (switchboard.Chat, error) {
	if err := checkText("operator_id", toOperatorID); err != nil {
		return switchboard.Chat{}, err
	}
	if toOperatorID == "" {
		return db.changeChat(ctx, "reopen chat", chatID, statusConflict("missed or completed"),
			`status = 'queued', operator_id = '', reopened = TRUE, reopened_at = ?, ended_at = NULL`,
			`status IN ('missed', 'completed')`, ms(at))
	}
	return db.changeChat(ctx, "reopen chat", chatID, statusConflict("missed or completed"),
		`status = 'ongoing', operator_id = ?, answered_at = COALESCE(answered_at, ?), reopened = TRUE, reopened_at = ?, ended_at = NULL`,
		`status IN ('missed', 'completed')`, toOperatorID, ms(at), ms(at))
}
