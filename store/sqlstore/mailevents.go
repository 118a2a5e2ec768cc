package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/history"
)

// The event mails: each is composed and inserted in the transaction of the
// event that causes it (a chat's end, its turning missed, a feedback, a
// block), so that neither commits without the other. Each first reads the
// department and stops there when its setting is off or lists nobody: the
// common case costs a department read, and the transcript's messages are
// read and rendered only for departments that want it (before EndChat's
// transaction: see draftTranscript).

// mailDepartment returns the department of a chat for its mails; ok is
// false when it was deleted (its chats' mails are not sent).
func mailDepartment(ctx context.Context, c conn, id string) (switchboard.Department, bool, error) {
	d, err := getDepartment(ctx, c, "", `id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return d, false, nil
	}
	return d, err == nil, err
}

// mailVisitor reads a chat's visitor; a missing one is an empty visitor.
func mailVisitor(ctx context.Context, c conn, id string) (switchboard.Visitor, error) {
	v, err := scanVisitor(c.queryRow(ctx, `SELECT `+visitorColumns+` FROM visitors WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return switchboard.Visitor{ID: id}, nil
	}
	return v, err
}

// operatorName returns an operator's name, or "" for none.
func operatorName(ctx context.Context, c conn, id string) (string, error) {
	if id == "" {
		return "", nil
	}
	var name string
	err := c.queryRow(ctx, `SELECT name FROM operators WHERE id = ?`, id).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return name, err
}

// composeTranscript reads what the transcript mail of ch needs on c and
// composes it; ok is false when the department wants none.
func (db *DB) composeTranscript(ctx context.Context, c conn, ch switchboard.Chat) (m switchboard.Mail, d switchboard.Department, ok bool, err error) {
	d, ok, err = mailDepartment(ctx, c, ch.DepartmentID)
	if err != nil || !ok || len(d.Email.Transcript.Recipients()) == 0 {
		return m, d, false, err
	}
	v, err := mailVisitor(ctx, c, ch.VisitorID)
	if err != nil {
		return m, d, false, err
	}
	tr := history.Transcript{Chat: ch, VisitorName: v.Name, VisitorEmail: v.Email}
	if tr.OperatorName, err = operatorName(ctx, c, ch.OperatorID); err != nil {
		return m, d, false, err
	}
	rows, err := c.query(ctx, `SELECT `+messageColumns+` FROM messages WHERE chat_id = ? AND seq <= ? ORDER BY seq`, ch.ID, ch.LastSeq)
	if err != nil {
		return m, d, false, err
	}
	defer rows.Close()
	for rows.Next() {
		msg, err := scanMessage(rows)
		if err != nil {
			return m, d, false, err
		}
		tr.Messages = append(tr.Messages, msg)
	}
	if err := rows.Err(); err != nil {
		return m, d, false, err
	}
	m, err = db.composer().Transcript(d, tr)
	if err != nil {
		// The mail is wanted but cannot be written: insertEventMail
		// decides.
		return m, d, true, composeError{fmt.Errorf("compose transcript mail: %w", err)}
	}
	return m, d, true, nil
}

// composeError is a failure to write an event's mail (as opposed to a
// failure to read what it needs).
type composeError struct{ error }

func (e composeError) Unwrap() error { return e.error }

// insertEventMail inserts an event's mail in the event's transaction. A
// mail that cannot be composed, or that checkMail refuses, is logged and
// dropped rather than failing the event: the chat's end matters more than
// its email, and neither can be fixed by retrying. A database error fails
// the event, so that neither commits without the other.
func (db *DB) insertEventMail(ctx context.Context, c conn, m *switchboard.Mail, err error) error {
	var ce composeError
	if err != nil && !errors.As(err, &ce) {
		return err
	}
	if err == nil {
		err = checkMail(m)
	}
	if err != nil {
		db.log.Error("event mail dropped", "kind", string(m.Kind), "chat_id", m.ChatID, "err", err)
		return nil
	}
	return db.insertMail(ctx, c, m)
}

// transcriptDraft is a chat's transcript mail composed before EndChat's
// transaction, with what it was composed from.
type transcriptDraft struct {
	mail switchboard.Mail
	chat switchboard.Chat
	dept switchboard.Department
}

// draftTranscript composes, outside any transaction, the transcript mail
// a chat would get if it ended at at; nil when its department wants none
// or the chat is not open (EndChat then decides). Reading and rendering a
// long chat takes milliseconds, and SQLite has one writer: done in the
// transaction, it would hold up every other write, message appends
// included.
func (db *DB) draftTranscript(ctx context.Context, chatID string, at time.Time) *transcriptDraft {
	c := db.reader()
	ch, err := scanChat(c.queryRow(ctx, `SELECT `+chatColumns+` FROM chats WHERE id = ?`, chatID))
	if err != nil || !ch.Status.Open() {
		return nil
	}
	ended := fromMS(ms(at))
	ch.Status, ch.EndedAt = switchboard.ChatCompleted, &ended
	m, d, ok, err := db.composeTranscript(ctx, c, ch)
	if err != nil || !ok {
		// The transaction tries again and deals with what is wrong.
		return nil
	}
	return &transcriptDraft{mail: m, chat: ch, dept: d}
}

// queueTranscript queues the transcript of a chat that just ended: the
// draft when nothing it was composed from changed since (no message, no
// transfer, the same department settings), else one composed here.
func (db *DB) queueTranscript(ctx context.Context, t *tx, ch switchboard.Chat, draft *transcriptDraft) error {
	if draft != nil && draft.chat.LastSeq == ch.LastSeq && draft.chat.OperatorID == ch.OperatorID &&
		draft.chat.DepartmentID == ch.DepartmentID {
		d, ok, err := mailDepartment(ctx, t.conn, ch.DepartmentID)
		if err != nil {
			return err
		}
		if !ok || len(d.Email.Transcript.Recipients()) == 0 {
			return nil
		}
		if d.UpdatedAt.Equal(draft.dept.UpdatedAt) {
			m := draft.mail
			return db.insertEventMail(ctx, t.conn, &m, nil)
		}
	}
	m, _, ok, err := db.composeTranscript(ctx, t.conn, ch)
	if !ok {
		return err
	}
	return db.insertEventMail(ctx, t.conn, &m, err)
}

// queueMissed queues the notice of a chat that just turned missed.
func (db *DB) queueMissed(ctx context.Context, t *tx, ch switchboard.Chat) error {
	d, ok, err := mailDepartment(ctx, t.conn, ch.DepartmentID)
	if err != nil || !ok || len(d.Email.Missed.Recipients()) == 0 {
		return err
	}
	v, err := mailVisitor(ctx, t.conn, ch.VisitorID)
	if err != nil {
		return err
	}
	m, err := db.composer().Missed(d, ch, v)
	if err != nil {
		err = composeError{fmt.Errorf("compose missed-chat mail: %w", err)}
	}
	return db.insertEventMail(ctx, t.conn, &m, err)
}

// queueFeedback queues the feedback mail of a chat.
func (db *DB) queueFeedback(ctx context.Context, t *tx, f switchboard.Feedback) error {
	ch, err := scanChat(t.queryRow(ctx, `SELECT `+chatColumns+` FROM chats WHERE id = ?`, f.ChatID))
	if err != nil {
		return err
	}
	d, ok, err := mailDepartment(ctx, t.conn, ch.DepartmentID)
	if err != nil || !ok || len(d.Email.Feedback.Recipients()) == 0 {
		return err
	}
	v, err := mailVisitor(ctx, t.conn, ch.VisitorID)
	if err != nil {
		return err
	}
	op, err := operatorName(ctx, t.conn, ch.OperatorID)
	if err != nil {
		return err
	}
	m, err := db.composer().Feedback(d, ch, v, op, f)
	if err != nil {
		err = composeError{fmt.Errorf("compose feedback mail: %w", err)}
	}
	return db.insertEventMail(ctx, t.conn, &m, err)
}

// changeChatTx is changeChat in a transaction, with then run on the
// changed chat before the commit (to queue the mail the change causes).
func (db *DB) changeChatTx(ctx context.Context, op, chatID string, refused func(switchboard.Chat) error,
	then func(*tx, switchboard.Chat) error, set, cond string, args ...any) (switchboard.Chat, error) {
	var ch switchboard.Chat
	err := db.inTx(ctx, func(t *tx) error {
		var err error
		ch, err = scanChat(t.queryRow(ctx, `UPDATE chats SET `+set+` WHERE `+cond+` AND id = ? RETURNING `+chatColumns,
			append(args, chatID)...))
		if err != nil {
			return err
		}
		return then(t, ch)
	})
	if err == nil {
		return ch, nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		cur, rerr := db.Chat(ctx, chatID)
		if rerr != nil {
			return switchboard.Chat{}, rerr // ErrNotFound, or wrapped already
		}
		err = refused(cur)
	}
	return switchboard.Chat{}, db.wrap(op+" "+chatID, err)
}
