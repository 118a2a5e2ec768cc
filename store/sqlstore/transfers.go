package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/switchboard-chat/switchboard"
)

// TransferChat moves an ongoing chat to another operator (and department)
// and records the hop in one transaction (see store.TransferStore).
func (db *DB) TransferChat(ctx context.Context, chatID, fromOperatorID string, t switchboard.Transfer) (switchboard.Chat, switchboard.Transfer, error) {
	const op = "transfer chat"
	if t.ToOperatorID == "" {
		return switchboard.Chat{}, switchboard.Transfer{}, switchboard.Invalid("to_operator", "is required")
	}
	if err := checkTexts("note", t.Note); err != nil {
		return switchboard.Chat{}, switchboard.Transfer{}, err
	}
	if t.At.IsZero() {
		t.At = switchboard.Now()
	}
	var out switchboard.Chat
	err := db.inTx(ctx, func(tx *tx) error {
		cur, err := scanChat(tx.queryRow(ctx, `SELECT `+chatColumns+` FROM chats WHERE id = ?`+tx.forUpdate(), chatID))
		if err != nil {
			return err
		}
		if cur.Status != switchboard.ChatOngoing {
			return &switchboard.ConflictError{Field: "status", Message: "the chat is " + string(cur.Status) + ", not ongoing"}
		}
		if cur.OperatorID != fromOperatorID {
			return &switchboard.ConflictError{Field: "operator_id", Message: "the chat is another operator's"}
		}
		var one int
		if err := tx.queryRow(ctx, `SELECT 1 FROM operators WHERE id = ?`, t.ToOperatorID).Scan(&one); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return switchboard.Invalid("to_operator", "no such operator")
			}
			return err
		}
		deptName := cur.DepartmentName
		if t.ToDepartmentID == "" {
			t.ToDepartmentID = cur.DepartmentID
		} else if t.ToDepartmentID != cur.DepartmentID {
			err := tx.queryRow(ctx, `SELECT name FROM departments WHERE id = ? AND deleted_at IS NULL`, t.ToDepartmentID).Scan(&deptName)
			if errors.Is(err, sql.ErrNoRows) {
				return switchboard.Invalid("to_department", "no such department")
			}
			if err != nil {
				return err
			}
		}
		t.ID = switchboard.NewID()
		t.ChatID = chatID
		t.FromDepartmentID = cur.DepartmentID
		t.FromOperatorID = fromOperatorID
		out, err = scanChat(tx.queryRow(ctx, `UPDATE chats SET operator_id = ?, department_id = ?, department_name = ?
			WHERE id = ? RETURNING `+chatColumns, t.ToOperatorID, t.ToDepartmentID, deptName, chatID))
		if err != nil {
			return err
		}
		_, err = tx.exec(ctx, `INSERT INTO transfers (id, chat_id, at, from_department_id, to_department_id,
			from_operator_id, to_operator_id, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			t.ID, chatID, ms(t.At), t.FromDepartmentID, t.ToDepartmentID, t.FromOperatorID, t.ToOperatorID, t.Note)
		return err
	})
	if err != nil {
		return switchboard.Chat{}, switchboard.Transfer{}, db.wrap(op+" "+chatID, err)
	}
	t.At = fromMS(ms(t.At))
	return out, t, nil
}

// MoveQueuedChat moves a queued chat to another live department and records
// the hop (see store.TransferStore).
func (db *DB) MoveQueuedChat(ctx context.Context, chatID, toDepartmentID, note string) (switchboard.Chat, switchboard.Transfer, error) {
	const op = "move queued chat"
	if err := checkTexts("note", note); err != nil {
		return switchboard.Chat{}, switchboard.Transfer{}, err
	}
	t := switchboard.Transfer{ID: switchboard.NewID(), ChatID: chatID, At: switchboard.Now(), ToDepartmentID: toDepartmentID, Note: note}
	var out switchboard.Chat
	err := db.inTx(ctx, func(tx *tx) error {
		cur, err := scanChat(tx.queryRow(ctx, `SELECT `+chatColumns+` FROM chats WHERE id = ?`+tx.forUpdate(), chatID))
		if err != nil {
			return err
		}
		if cur.Status != switchboard.ChatQueued {
			return &switchboard.ConflictError{Field: "status", Message: "the chat is " + string(cur.Status) + ", not queued"}
		}
		if toDepartmentID == cur.DepartmentID {
			return switchboard.Invalid("to_department", "is the chat's own department")
		}
		var name string
		err = tx.queryRow(ctx, `SELECT name FROM departments WHERE id = ? AND deleted_at IS NULL`, toDepartmentID).Scan(&name)
		if errors.Is(err, sql.ErrNoRows) {
			return switchboard.Invalid("to_department", "no such department")
		}
		if err != nil {
			return err
		}
		t.FromDepartmentID = cur.DepartmentID
		out, err = scanChat(tx.queryRow(ctx, `UPDATE chats SET department_id = ?, department_name = ?
			WHERE id = ? AND status = 'queued' RETURNING `+chatColumns, toDepartmentID, name, chatID))
		if err != nil {
			return err
		}
		_, err = tx.exec(ctx, `INSERT INTO transfers (id, chat_id, at, from_department_id, to_department_id,
			from_operator_id, to_operator_id, note) VALUES (?, ?, ?, ?, ?, '', '', ?)`,
			t.ID, chatID, ms(t.At), t.FromDepartmentID, t.ToDepartmentID, t.Note)
		return err
	})
	if err != nil {
		return switchboard.Chat{}, switchboard.Transfer{}, db.wrap(op+" "+chatID, err)
	}
	t.At = fromMS(ms(t.At))
	return out, t, nil
}

// Transfers returns a chat's hops, oldest first.
func (db *DB) Transfers(ctx context.Context, chatID string) ([]switchboard.Transfer, error) {
	const op = "list transfers"
	rows, err := db.reader().query(ctx, `SELECT id, chat_id, at, from_department_id, to_department_id,
		from_operator_id, to_operator_id, note FROM transfers WHERE chat_id = ? ORDER BY at, id`, chatID)
	if err != nil {
		return nil, db.wrap(op, err)
	}
	defer rows.Close()
	out := []switchboard.Transfer{}
	for rows.Next() {
		var (
			t  switchboard.Transfer
			at int64
		)
		if err := rows.Scan(&t.ID, &t.ChatID, &at, &t.FromDepartmentID, &t.ToDepartmentID,
			&t.FromOperatorID, &t.ToOperatorID, &t.Note); err != nil {
			return nil, db.wrap(op, err)
		}
		t.At = fromMS(at)
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, db.wrap(op, err)
	}
	return out, nil
}
