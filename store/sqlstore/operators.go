package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store"
)

// operatorColumns are read by scanOperator, in its order.
const operatorColumns = `id, name, email, role, max_chats, enabled, locale, password_hash, created_at, updated_at`

// prefixed qualifies each column of a column list with a table alias.
func prefixed(alias, columns string) string {
	parts := strings.Split(columns, ",")
	for i, p := range parts {
		parts[i] = alias + "." + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

func scanOperator(s scanner, extra ...any) (switchboard.Operator, error) {
	var (
		o                switchboard.Operator
		created, updated int64
	)
	dest := []any{&o.ID, &o.Name, &o.Email, &o.Role, &o.MaxChats, &o.Enabled, &o.Locale, &o.PasswordHash, &created, &updated}
	if err := s.Scan(append(dest, extra...)...); err != nil {
		return switchboard.Operator{}, err
	}
	o.DepartmentIDs = []string{}
	o.CreatedAt, o.UpdatedAt = fromMS(created), fromMS(updated)
	return o, nil
}

func emailConflict(email string) error {
	return &switchboard.ConflictError{Field: "email", Message: fmt.Sprintf("an operator with email %q already exists", email)}
}

// operatorDepartments returns the live departments of each operator of ids,
// sorted, with an empty list for an operator in none.
func operatorDepartments(ctx context.Context, c conn, ids []string) (map[string][]string, error) {
	out := make(map[string][]string, len(ids))
	for _, id := range ids {
		out[id] = []string{}
	}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := c.query(ctx, `SELECT m.operator_id, m.department_id
		FROM department_operators m JOIN departments d ON d.id = m.department_id
		WHERE d.deleted_at IS NULL AND m.operator_id IN (`+placeholders(len(ids))+`)`, anys(ids)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var op, dep string
		if err := rows.Scan(&op, &dep); err != nil {
			return nil, err
		}
		out[op] = append(out[op], dep)
	}
	for id, deps := range out {
		out[id] = uniqueSorted(deps)
	}
	return out, rows.Err()
}

// getOperator reads the operator matching where, with its DepartmentIDs.
func getOperator(ctx context.Context, c conn, lock, where string, args ...any) (switchboard.Operator, error) {
	o, err := scanOperator(c.queryRow(ctx, `SELECT `+operatorColumns+` FROM operators WHERE `+where+lock, args...))
	if err != nil {
		return o, err
	}
	deps, err := operatorDepartments(ctx, c, []string{o.ID})
	if err != nil {
		return o, err
	}
	o.DepartmentIDs = deps[o.ID]
	return o, nil
}

// checkOperator normalizes and validates o, password hash included.
func checkOperator(o *switchboard.Operator) error {
	o.Normalize()
	if err := o.Validate(); err != nil {
		return err
	}
	if o.PasswordHash == "" {
		return switchboard.Invalid("password", "is required")
	}
	return nil
}

func (t *tx) createOperator(ctx context.Context, o *switchboard.Operator) error {
	if err := checkOperator(o); err != nil {
		return err
	}
	o.ID = switchboard.NewID()
	o.DepartmentIDs = []string{}
	now := switchboard.Now()
	o.CreatedAt, o.UpdatedAt = now, now
	_, err := t.exec(ctx, `INSERT INTO operators (`+operatorColumns+`) VALUES (`+placeholders(10)+`)`,
		o.ID, o.Name, o.Email, string(o.Role), o.MaxChats, o.Enabled, o.Locale, o.PasswordHash, ms(now), ms(now))
	if t.d.IsUniqueViolation(err) {
		return emailConflict(o.Email)
	}
	return err
}

// CreateOperator stores a new operator (see store.Store). An empty
// PasswordHash is a ValidationError for "password".
func (db *DB) CreateOperator(ctx context.Context, o *switchboard.Operator) error {
	c := *o // as for departments: a failed create leaves o without an ID
	err := db.inTx(ctx, func(t *tx) error { return t.createOperator(ctx, &c) })
	if err != nil {
		return db.wrap("create operator", err)
	}
	*o = c
	return nil
}

// Operator returns an operator with its DepartmentIDs.
func (db *DB) Operator(ctx context.Context, id string) (switchboard.Operator, error) {
	o, err := getOperator(ctx, db.reader(), "", `id = ?`, id)
	if err != nil {
		return switchboard.Operator{}, db.wrap("read operator", err)
	}
	return o, nil
}

// OperatorByEmail looks an operator up by email, ignoring case and
// surrounding space. Emails are stored lower-cased (Operator.Normalize).
func (db *DB) OperatorByEmail(ctx context.Context, email string) (switchboard.Operator, error) {
	o, err := getOperator(ctx, db.reader(), "", `email = ?`, strings.ToLower(strings.TrimSpace(email)))
	if err != nil {
		return switchboard.Operator{}, db.wrap("read operator by email", err)
	}
	return o, nil
}

// Operators lists operators, oldest first.
func (db *DB) Operators(ctx context.Context, p store.Page) ([]switchboard.Operator, string, error) {
	pg, err := decodePage(p)
	if err != nil {
		return nil, "", err
	}
	q := `SELECT ` + operatorColumns + ` FROM operators`
	var args []any
	if pg.more {
		q += ` WHERE (created_at, id) > (?, ?)`
		args = append(args, pg.after.T, pg.after.ID)
	}
	q += ` ORDER BY created_at, id LIMIT ?`
	args = append(args, pg.limit+1)

	c := db.reader()
	items, err := func() ([]switchboard.Operator, error) {
		rows, err := c.query(ctx, q, args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var items []switchboard.Operator
		for rows.Next() {
			o, err := scanOperator(rows)
			if err != nil {
				return nil, err
			}
			items = append(items, o)
		}
		return items, rows.Err()
	}()
	if err != nil {
		return nil, "", db.wrap("list operators", err)
	}
	items, next := cut(items, pg.limit, func(o switchboard.Operator) key { return key{ms(o.CreatedAt), o.ID} })
	ids := make([]string, len(items))
	for i, o := range items {
		ids[i] = o.ID
	}
	deps, err := operatorDepartments(ctx, c, ids)
	if err != nil {
		return nil, "", db.wrap("list operators", err)
	}
	for i := range items {
		items[i].DepartmentIDs = deps[items[i].ID]
	}
	return items, next, nil
}

// liveAdmin reports whether o counts towards the enabled admins, of which
// at least one must remain.
func liveAdmin(o switchboard.Operator) bool { return o.Enabled && o.Role == switchboard.RoleAdmin }

// otherLiveAdmins counts the enabled admins but id. The caller holds
// lockAdmins.
func (t *tx) otherLiveAdmins(ctx context.Context, id string) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT count(*) FROM operators WHERE role = ? AND enabled = TRUE AND id <> ?`,
		string(switchboard.RoleAdmin), id).Scan(&n)
	return n, err
}

// UpdateOperator reads, changes and writes an operator in one transaction
// (see store.Store). ID, CreatedAt and DepartmentIDs cannot change here.
// Demoting or disabling the last enabled admin is a ConflictError (for
// "role" or "enabled"), as deleting it is: nobody could manage the server.
func (db *DB) UpdateOperator(ctx context.Context, id string, update func(*switchboard.Operator) error) (switchboard.Operator, error) {
	var out switchboard.Operator
	var updateErr error
	err := db.inTx(ctx, func(t *tx) error {
		// Taken before the row lock, in the order DeleteOperator takes them.
		if err := t.lock(ctx, lockAdmins); err != nil {
			return err
		}
		cur, err := getOperator(ctx, t.conn, t.forUpdate(), `id = ?`, id)
		if err != nil {
			return err
		}
		o := cur
		if updateErr = update(&o); updateErr != nil {
			return updateErr
		}
		o.ID, o.CreatedAt, o.DepartmentIDs = cur.ID, cur.CreatedAt, cur.DepartmentIDs
		if err := checkOperator(&o); err != nil {
			return err
		}
		if liveAdmin(cur) && !liveAdmin(o) {
			n, err := t.otherLiveAdmins(ctx, id)
			if err != nil {
				return err
			}
			if n == 0 {
				field := "role"
				if !o.Enabled {
					field = "enabled"
				}
				return &switchboard.ConflictError{Field: field, Message: "the last enabled admin must stay an enabled admin"}
			}
		}
		o.UpdatedAt = switchboard.Now()
		_, err = t.exec(ctx, `UPDATE operators SET name = ?, email = ?, role = ?, max_chats = ?, enabled = ?,
			locale = ?, password_hash = ?, updated_at = ? WHERE id = ?`,
			o.Name, o.Email, string(o.Role), o.MaxChats, o.Enabled, o.Locale, o.PasswordHash, ms(o.UpdatedAt), id)
		if t.d.IsUniqueViolation(err) {
			return emailConflict(o.Email)
		}
		if err != nil {
			return err
		}
		out, err = getOperator(ctx, t.conn, "", `id = ?`, id)
		return err
	})
	if updateErr != nil {
		return switchboard.Operator{}, updateErr // the caller's own error, as it made it
	}
	if err != nil {
		return switchboard.Operator{}, db.wrap("update operator", err)
	}
	return out, nil
}

// DeleteOperator deletes an operator, its sessions and memberships (see
// store.Store). Chats keep its id.
func (db *DB) DeleteOperator(ctx context.Context, id, actorID string) error {
	err := db.inTx(ctx, func(t *tx) error {
		if err := t.lock(ctx, lockAdmins); err != nil {
			return err
		}
		cur, err := scanOperator(t.queryRow(ctx, `SELECT `+operatorColumns+` FROM operators WHERE id = ?`+t.forUpdate(), id))
		if err != nil {
			return err
		}
		if liveAdmin(cur) {
			n, err := t.otherLiveAdmins(ctx, id)
			if err != nil {
				return err
			}
			if n == 0 {
				return &switchboard.ConflictError{Message: "the last enabled admin cannot be deleted"}
			}
		}
		// The foreign keys cascade too; deleting explicitly does not depend
		// on SQLite's foreign_keys pragma being on.
		for _, q := range []string{
			`DELETE FROM sessions WHERE operator_id = ?`,
			`DELETE FROM department_operators WHERE operator_id = ?`,
			`DELETE FROM operators WHERE id = ?`,
		} {
			if _, err := t.exec(ctx, q, id); err != nil {
				return err
			}
		}
		return t.audit(ctx, switchboard.Now(), actorID, "operator.delete", "operator", id)
	})
	if err != nil {
		return db.wrap("delete operator", err)
	}
	return nil
}
