package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store"
)

// visitorColumns are read by scanVisitor, in its order.
const visitorColumns = `id, name, email, ip, user_agent, page_url, locale, created_at, last_seen_at`

func scanVisitor(s scanner) (switchboard.Visitor, error) {
	var (
		v                 switchboard.Visitor
		created, lastSeen int64
	)
	err := s.Scan(&v.ID, &v.Name, &v.Email, &v.IP, &v.UserAgent, &v.PageURL, &v.Locale, &created, &lastSeen)
	if err != nil {
		return switchboard.Visitor{}, err
	}
	v.CreatedAt, v.LastSeen = fromMS(created), fromMS(lastSeen)
	return v, nil
}

// chatColumns are read by scanChat, in its order.
const chatColumns = `id, department_id, department_name, visitor_id, operator_id, status, question,
	page_url, visitor_ip, locale, reopened, reopened_at, started_at, answered_at, ended_at,
	last_seq, rating`

func scanChat(s scanner) (switchboard.Chat, error) {
	var (
		c                         switchboard.Chat
		started                   int64
		reopened, answered, ended sql.NullInt64
	)
	err := s.Scan(&c.ID, &c.DepartmentID, &c.DepartmentName, &c.VisitorID, &c.OperatorID, &c.Status, &c.Question,
		&c.PageURL, &c.VisitorIP, &c.Locale, &c.Reopened, &reopened, &started, &answered, &ended,
		&c.LastSeq, &c.Rating)
	if err != nil {
		return switchboard.Chat{}, err
	}
	c.StartedAt = fromMS(started)
	c.ReopenedAt, c.AnsweredAt, c.EndedAt = fromNullMS(reopened), fromNullMS(answered), fromNullMS(ended)
	return c, nil
}

// messageColumns are read by scanMessage, in its order.
const messageColumns = `chat_id, seq, client_msg_id, from_kind, from_id, from_name, body, at`

func scanMessage(s scanner) (switchboard.Message, error) {
	var (
		m  switchboard.Message
		at int64
	)
	if err := s.Scan(&m.ChatID, &m.Seq, &m.ClientMsgID, &m.FromKind, &m.FromID, &m.FromName, &m.Body, &at); err != nil {
		return switchboard.Message{}, err
	}
	m.At = fromMS(at)
	return m, nil
}

// checkText refuses text that one of the databases cannot store as it is:
// invalid UTF-8 (PostgreSQL refuses it, SQLite would keep it) and NUL bytes
// (PostgreSQL's text cannot hold them). Checking up front also keeps a bad
// message from failing the whole group commit it would have joined.
func checkText(field, s string) error {
	if !utf8.ValidString(s) {
		return switchboard.Invalid(field, "is not valid UTF-8")
	}
	if strings.IndexByte(s, 0) >= 0 {
		return switchboard.Invalid(field, "contains a NUL character")
	}
	return nil
}

// checkTexts is checkText for field/value pairs.
func checkTexts(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if err := checkText(pairs[i], pairs[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// checkVisitor validates the visitor fields the store keeps; prefix names
// them ("visitor." inside a chat).
func checkVisitor(prefix string, v *switchboard.Visitor) error {
	if v.ID == "" {
		return switchboard.Invalid(prefix+"id", "is required")
	}
	return checkTexts(prefix+"id", v.ID, prefix+"name", v.Name, prefix+"email", v.Email, prefix+"ip", v.IP,
		prefix+"user_agent", v.UserAgent, prefix+"page_url", v.PageURL, prefix+"locale", v.Locale)
}

// upsertVisitor creates v or updates it (see store.ChatStore.UpsertVisitor)
// and returns the stored row.
func upsertVisitor(ctx context.Context, c conn, v switchboard.Visitor) (switchboard.Visitor, error) {
	now := switchboard.Now()
	if v.LastSeen.IsZero() {
		v.LastSeen = now
	}
	return scanVisitor(c.queryRow(ctx, `INSERT INTO visitors (`+visitorColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET
			name = CASE WHEN excluded.name = '' THEN visitors.name ELSE excluded.name END,
			email = CASE WHEN excluded.email = '' THEN visitors.email ELSE excluded.email END,
			ip = excluded.ip, user_agent = excluded.user_agent, page_url = excluded.page_url,
			locale = excluded.locale, last_seen_at = excluded.last_seen_at
		RETURNING `+visitorColumns,
		v.ID, v.Name, v.Email, v.IP, v.UserAgent, v.PageURL, v.Locale, ms(now), ms(v.LastSeen)))
}

// Visitor returns a visitor by id.
func (db *DB) Visitor(ctx context.Context, id string) (switchboard.Visitor, error) {
	v, err := scanVisitor(db.reader().queryRow(ctx, `SELECT `+visitorColumns+` FROM visitors WHERE id = ?`, id))
	if err != nil {
		return switchboard.Visitor{}, db.wrap("read visitor", err)
	}
	return v, nil
}

// UpsertVisitor creates or updates a visitor (see store.ChatStore). A zero
// LastSeen means now; CreatedAt is the store's.
func (db *DB) UpsertVisitor(ctx context.Context, v switchboard.Visitor) (switchboard.Visitor, error) {
	if err := checkVisitor("", &v); err != nil {
		return switchboard.Visitor{}, err
	}
	stored, err := upsertVisitor(ctx, db.writer(), v)
	if err != nil {
		return switchboard.Visitor{}, db.wrap("upsert visitor", err)
	}
	return stored, nil
}

// CreateChat creates a chat and its question (see store.ChatStore).
func (db *DB) CreateChat(ctx context.Context, nc store.NewChat) (switchboard.Chat, error) {
	switch nc.Status {
	case "":
		nc.Status = switchboard.ChatQueued
	case switchboard.ChatQueued, switchboard.ChatMissed:
	default:
		return switchboard.Chat{}, switchboard.Invalid("status", "must be queued or missed, not %q", nc.Status)
	}
	if err := checkVisitor("visitor.", &nc.Visitor); err != nil {
		return switchboard.Chat{}, err
	}
	if err := checkTexts("department_id", nc.DepartmentID, "question", nc.Question, "page_url", nc.PageURL); err != nil {
		return switchboard.Chat{}, err
	}
	var ch switchboard.Chat
	err := db.inTx(ctx, func(t *tx) error {
		v, err := upsertVisitor(ctx, t.conn, nc.Visitor)
		if err != nil {
			return err
		}
		now := switchboard.Now()
		id := switchboard.NewID()
		var lastSeq int64
		if nc.Question != "" {
			lastSeq = 1
		}
		// Selecting from departments checks, in the same statement, that
		// the department is live, and copies its name. The chat speaks the
		// department's language when it has one, else the visitor's.
		ch, err = scanChat(t.queryRow(ctx, `INSERT INTO chats (id, department_id, department_name, visitor_id,
				status, question, page_url, visitor_ip, locale, started_at, last_seq)
			SELECT ?, id, name, ?, ?, ?, ?, ?, CASE WHEN locale <> '' THEN locale ELSE ? END, ?, ?
			FROM departments WHERE id = ? AND deleted_at IS NULL`+t.forShare()+`
			RETURNING `+chatColumns,
			id, v.ID, string(nc.Status), nc.Question, nc.PageURL, v.IP, v.Locale, ms(now), lastSeq, nc.DepartmentID))
		if err != nil {
			return err // no rows: no such live department
		}
		if nc.Question != "" {
			_, err = t.exec(ctx, `INSERT INTO messages (`+messageColumns+`) VALUES (?, 1, ?, ?, ?, ?, ?, ?)`,
				id, QuestionClientMsgID, string(switchboard.FromVisitor), v.ID, v.Name, nc.Question, ms(now))
			if err != nil {
				return err
			}
		}
		if ch.Status == switchboard.ChatMissed {
			// Missed at once (nobody online): the department's missed-chat
			// notice commits with the chat, as MissChat's does.
			return db.queueMissed(ctx, t, ch)
		}
		return nil
	})
	if err != nil {
		return switchboard.Chat{}, db.wrap("create chat", err)
	}
	return ch, nil
}

// QuestionClientMsgID is the client_msg_id of the message CreateChat makes
// of a chat's question.
const QuestionClientMsgID = "question"

// Chat returns a chat.
func (db *DB) Chat(ctx context.Context, id string) (switchboard.Chat, error) {
	ch, err := scanChat(db.reader().queryRow(ctx, `SELECT `+chatColumns+` FROM chats WHERE id = ?`, id))
	if err != nil {
		return switchboard.Chat{}, db.wrap("read chat", err)
	}
	return ch, nil
}

// chats returns the chats matching where, oldest first, never nil.
func (db *DB) chats(ctx context.Context, op, where string, args ...any) ([]switchboard.Chat, error) {
	return db.chatsOrdered(ctx, op, where+` ORDER BY started_at, id`, args...)
}

// chatsOrdered returns the chats matching where, which ends with its own
// ORDER BY (and LIMIT); never nil.
func (db *DB) chatsOrdered(ctx context.Context, op, where string, args ...any) ([]switchboard.Chat, error) {
	rows, err := db.reader().query(ctx, `SELECT `+chatColumns+` FROM chats WHERE `+where, args...)
	if err != nil {
		return nil, db.wrap(op, err)
	}
	defer rows.Close()
	out := []switchboard.Chat{}
	for rows.Next() {
		ch, err := scanChat(rows)
		if err != nil {
			return nil, db.wrap(op, err)
		}
		out = append(out, ch)
	}
	if err := rows.Err(); err != nil {
		return nil, db.wrap(op, err)
	}
	return out, nil
}

// VisitorOpenChats returns the visitor's queued and ongoing chats, oldest
// first; an unknown visitor has none.
func (db *DB) VisitorOpenChats(ctx context.Context, visitorID string) ([]switchboard.Chat, error) {
	return db.chats(ctx, "list visitor's open chats", `visitor_id = ? AND status IN ('queued', 'ongoing')`, visitorID)
}

// OperatorOpenChats returns the operator's ongoing chats, oldest first.
func (db *DB) OperatorOpenChats(ctx context.Context, operatorID string) ([]switchboard.Chat, error) {
	if operatorID == "" {
		return []switchboard.Chat{}, nil // queued and missed chats have operator '' too
	}
	return db.chats(ctx, "list operator's open chats", `operator_id = ? AND status = 'ongoing'`, operatorID)
}

// QueuedChats returns every queued chat, oldest first.
func (db *DB) QueuedChats(ctx context.Context) ([]switchboard.Chat, error) {
	return db.chats(ctx, "list queued chats", `status = 'queued'`)
}

// changeChat runs a conditional UPDATE … RETURNING of one chat. When no row
// matched, it tells an unknown chat (ErrNotFound) from one in another state
// (the error of refused, given the chat as it is).
func (db *DB) changeChat(ctx context.Context, op, chatID string, refused func(switchboard.Chat) error, set, cond string, args ...any) (switchboard.Chat, error) {
	ch, err := scanChat(db.writer().queryRow(ctx, `UPDATE chats SET `+set+` WHERE `+cond+` AND id = ? RETURNING `+chatColumns,
		append(args, chatID)...))
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

// statusConflict is the ErrConflict of a chat in the wrong state.
func statusConflict(want string) func(switchboard.Chat) error {
	return func(ch switchboard.Chat) error {
		return &switchboard.ConflictError{Field: "status", Message: fmt.Sprintf("the chat is %s, not %s", ch.Status, want)}
	}
}

// AssignChat gives a queued chat to an operator (see store.ChatStore).
func (db *DB) AssignChat(ctx context.Context, chatID, operatorID string, at time.Time) (switchboard.Chat, error) {
	if operatorID == "" {
		return switchboard.Chat{}, switchboard.Invalid("operator_id", "is required")
	}
	return db.changeChat(ctx, "assign chat", chatID,
		func(switchboard.Chat) error { return switchboard.ErrAlreadyTaken },
		`status = 'ongoing', operator_id = ?, answered_at = COALESCE(answered_at, ?), lease_owner = '', lease_expires_at = NULL`,
		`status = 'queued'`, operatorID, ms(at))
}

// RequeueChat puts an operator's ongoing chat back to queued (see
// store.ChatStore).
func (db *DB) RequeueChat(ctx context.Context, chatID, operatorID string) (switchboard.Chat, error) {
	return db.changeChat(ctx, "requeue chat", chatID,
		func(ch switchboard.Chat) error {
			if ch.Status == switchboard.ChatOngoing {
				return &switchboard.ConflictError{Field: "operator_id", Message: "the chat is another operator's"}
			}
			return statusConflict("ongoing")(ch)
		},
		`status = 'queued', operator_id = ''`,
		`status = 'ongoing' AND operator_id = ?`, operatorID)
}

// MissChat turns a queued chat missed (see store.ChatStore) and queues the
// department's missed-chat notice in the same transaction.
func (db *DB) MissChat(ctx context.Context, chatID string, at time.Time) (switchboard.Chat, error) {
	return db.changeChatTx(ctx, "miss chat", chatID, statusConflict("queued"),
		func(t *tx, ch switchboard.Chat) error { return db.queueMissed(ctx, t, ch) },
		`status = 'missed', lease_owner = '', lease_expires_at = NULL`,
		`status = 'queued'`)
}

// EndChat completes an open chat (see store.ChatStore) and queues the
// department's transcript email in the same transaction.
func (db *DB) EndChat(ctx context.Context, chatID string, at time.Time) (switchboard.Chat, error) {
	return db.endChat(ctx, chatID, at, db.draftTranscript(ctx, chatID, at))
}

// endChat is EndChat with the transcript drafted before the transaction.
func (db *DB) endChat(ctx context.Context, chatID string, at time.Time, draft *transcriptDraft) (switchboard.Chat, error) {
	return db.changeChatTx(ctx, "end chat", chatID, statusConflict("queued or ongoing"),
		func(t *tx, ch switchboard.Chat) error { return db.queueTranscript(ctx, t, ch, draft) },
		`status = 'completed', ended_at = ?, lease_owner = '', lease_expires_at = NULL`,
		`status IN ('queued', 'ongoing')`, ms(at))
}

// Messages returns up to limit messages of a chat after afterSeq, in seq
// order (see store.ChatStore).
func (db *DB) Messages(ctx context.Context, chatID string, afterSeq int64, limit int) ([]switchboard.Message, error) {
	if limit < 1 {
		return nil, switchboard.Invalid("limit", "must be at least 1")
	}
	limit = min(limit, store.MaxMessages)
	const op = "read messages"
	rows, err := db.reader().query(ctx, `SELECT `+messageColumns+` FROM messages
		WHERE chat_id = ? AND seq > ? ORDER BY seq LIMIT ?`, chatID, afterSeq, limit)
	if err != nil {
		return nil, db.wrap(op, err)
	}
	defer rows.Close()
	out := make([]switchboard.Message, 0, min(limit, 64))
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, db.wrap(op, err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, db.wrap(op, err)
	}
	if len(out) == 0 {
		// Only an empty page pays for telling an unknown chat apart.
		if _, err := db.Chat(ctx, chatID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// SaveFeedback stores or replaces a chat's feedback and copies the rating
// onto the chat (see store.ChatStore), and queues the department's feedback
// email in the same transaction. A zero CreatedAt means now.
func (db *DB) SaveFeedback(ctx context.Context, f switchboard.Feedback) error {
	if f.Rating < 1 || f.Rating > 5 {
		return switchboard.Invalid("rating", "must be a whole number from 1 to 5")
	}
	if err := checkText("comment", f.Comment); err != nil {
		return err
	}
	if f.CreatedAt.IsZero() {
		f.CreatedAt = switchboard.Now()
	}
	err := db.inTx(ctx, func(t *tx) error {
		res, err := t.exec(ctx, `UPDATE chats SET rating = ? WHERE id = ?`, f.Rating, f.ChatID)
		if err != nil {
			return err
		}
		if err := requireRows(res); err != nil {
			return err
		}
		_, err = t.exec(ctx, `INSERT INTO feedback (chat_id, rating, comment, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (chat_id) DO UPDATE SET rating = excluded.rating, comment = excluded.comment,
				created_at = excluded.created_at`,
			f.ChatID, f.Rating, f.Comment, ms(f.CreatedAt))
		if err != nil {
			return err
		}
		return db.queueFeedback(ctx, t, f)
	})
	if err != nil {
		return db.wrap("save feedback", err)
	}
	return nil
}

// LastOperator returns the operator of the visitor's latest answered chat
// in the department, or "" (see store.ChatStore).
func (db *DB) LastOperator(ctx context.Context, visitorID, departmentID string) (string, error) {
	var id string
	err := db.reader().queryRow(ctx, `SELECT operator_id FROM chats
		WHERE visitor_id = ? AND department_id = ? AND operator_id <> '' AND answered_at IS NOT NULL
		ORDER BY started_at DESC, id DESC LIMIT 1`, visitorID, departmentID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", db.wrap("read last operator", err)
	}
	return id, nil
}
