package sqlstore

import (
	"context"
	"time"

	"github.com/switchboard-chat/switchboard"
)

// CreateSession stores a session. Its operator must exist (else
// ErrNotFound); a zero CreatedAt means now. The operator's expired sessions
// are purged on the way, so that the table does not grow forever.
func (db *DB) CreateSession(ctx context.Context, s switchboard.Session) error {
	if s.TokenHash == "" {
		return switchboard.Invalid("token_hash", "is required")
	}
	now := switchboard.Now()
	if s.CreatedAt.IsZero() {
		s.CreatedAt = now
	}
	err := db.inTx(ctx, func(t *tx) error {
		if _, err := t.exec(ctx, `DELETE FROM sessions WHERE operator_id = ? AND expires_at <= ?`, s.OperatorID, ms(now)); err != nil {
			return err
		}
		// Inserting from operators makes a missing operator an empty insert,
		// not a foreign-key error to recognize per dialect.
		res, err := t.exec(ctx, `INSERT INTO sessions (token_hash, operator_id, created_at, expires_at)
			SELECT ?, id, ?, ? FROM operators WHERE id = ?`,
			s.TokenHash, ms(s.CreatedAt), ms(s.ExpiresAt), s.OperatorID)
		if t.d.IsUniqueViolation(err) {
			return &switchboard.ConflictError{Field: "token_hash", Message: "a session with this token already exists"}
		}
		if err != nil {
			return err
		}
		if err := requireRows(res); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return db.wrap("create session", err)
	}
	return nil
}

// SessionOperator returns a live session and its enabled operator.
func (db *DB) SessionOperator(ctx context.Context, tokenHash string, now time.Time) (switchboard.Session, switchboard.Operator, error) {
	var (
		s                switchboard.Session
		created, expires int64
	)
	c := db.reader()
	o, err := scanOperator(c.queryRow(ctx, `SELECT `+prefixed("o", operatorColumns)+`, s.token_hash, s.created_at, s.expires_at
		FROM sessions s JOIN operators o ON o.id = s.operator_id
		WHERE s.token_hash = ? AND s.expires_at > ? AND o.enabled = TRUE`, tokenHash, ms(now)),
		&s.TokenHash, &created, &expires)
	if err == nil {
		var deps map[string][]string
		deps, err = operatorDepartments(ctx, c, []string{o.ID})
		o.DepartmentIDs = deps[o.ID]
	}
	if err != nil {
		return switchboard.Session{}, switchboard.Operator{}, db.wrap("read session", err)
	}
	s.OperatorID = o.ID
	s.CreatedAt, s.ExpiresAt = fromMS(created), fromMS(expires)
	return s, o, nil
}

// DeleteSession ends one session (idempotent).
func (db *DB) DeleteSession(ctx context.Context, tokenHash string) error {
	if _, err := db.writer().exec(ctx, `DELETE FROM sessions WHERE token_hash = ?`, tokenHash); err != nil {
		return db.wrap("delete session", err)
	}
	return nil
}

// DeleteOperatorSessions ends every session of an operator but keep.
func (db *DB) DeleteOperatorSessions(ctx context.Context, operatorID, keep string) error {
	if _, err := db.writer().exec(ctx, `DELETE FROM sessions WHERE operator_id = ? AND token_hash <> ?`,
		operatorID, keep); err != nil {
		return db.wrap("delete operator sessions", err)
	}
	return nil
}

// CreateTicket stores a one-time WebSocket ticket for a live session of
// operatorID; ErrNotFound when there is no such session. Expired tickets
// are purged on the way.
func (db *DB) CreateTicket(ctx context.Context, ticketHash, operatorID, sessionHash string, expiresAt time.Time) error {
	if ticketHash == "" {
		return switchboard.Invalid("ticket", "is required")
	}
	err := db.inTx(ctx, func(t *tx) error {
		if _, err := t.exec(ctx, `DELETE FROM ws_tickets WHERE expires_at <= ?`, ms(switchboard.Now())); err != nil {
			return err
		}
		res, err := t.exec(ctx, `INSERT INTO ws_tickets (ticket_hash, operator_id, session_hash, expires_at)
			SELECT ?, operator_id, token_hash, ? FROM sessions WHERE token_hash = ? AND operator_id = ?`,
			ticketHash, ms(expiresAt), sessionHash, operatorID)
		if t.d.IsUniqueViolation(err) {
			return &switchboard.ConflictError{Field: "ticket", Message: "a ticket with this hash already exists"}
		}
		if err != nil {
			return err
		}
		if err := requireRows(res); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return db.wrap("create ticket", err)
	}
	return nil
}

// ConsumeTicket deletes a ticket and returns its operator and session. The
// delete is the claim: of two concurrent calls only one gets the row.
func (db *DB) ConsumeTicket(ctx context.Context, ticketHash string, now time.Time) (operatorID, sessionHash string, err error) {
	var expires int64
	err = db.writer().queryRow(ctx, `DELETE FROM ws_tickets WHERE ticket_hash = ?
		RETURNING operator_id, session_hash, expires_at`, ticketHash).Scan(&operatorID, &sessionHash, &expires)
	if err != nil {
		return "", "", db.wrap("consume ticket", err)
	}
	if expires <= ms(now) {
		return "", "", switchboard.ErrNotFound
	}
	return operatorID, sessionHash, nil
}
