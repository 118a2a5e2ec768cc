package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store"
)

// departmentColumns are read by scanDepartment, in its order.
const departmentColumns = `id, name, description, visibility, enabled, routing, widget_key,
	allowed_origins, ring_timeout_s, wait_timeout_s, locale,
	email_from_address,
	email_transcript_enabled, email_transcript_to,
	email_blocked_ip_enabled, email_blocked_ip_to,
	email_feedback_enabled, email_feedback_to,
	email_missed_enabled, email_missed_to,
	email_cc_enabled, email_cc_to,
	created_at, updated_at, fallback_department_id,
	prechat_name, prechat_email, prechat_question`

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

func scanDepartment(s scanner) (switchboard.Department, error) {
	var (
		d                switchboard.Department
		widgetKey        *string
		created, updated int64
		e                = &d.Email
	)
	err := s.Scan(&d.ID, &d.Name, &d.Description, &d.Visibility, &d.Enabled, &d.Routing, &widgetKey,
		jsonListDest{&d.AllowedOrigins}, &d.RingTimeoutS, &d.WaitTimeoutS, &d.Locale,
		&e.FromAddress,
		&e.Transcript.Enabled, jsonListDest{&e.Transcript.To},
		&e.BlockedIP.Enabled, jsonListDest{&e.BlockedIP.To},
		&e.Feedback.Enabled, jsonListDest{&e.Feedback.To},
		&e.Missed.Enabled, jsonListDest{&e.Missed.To},
		&e.CC.Enabled, jsonListDest{&e.CC.To},
		&created, &updated, &d.FallbackDepartmentID,
		&d.Prechat.Name, &d.Prechat.Email, &d.Prechat.Question)
	if err != nil {
		return switchboard.Department{}, err
	}
	if widgetKey != nil {
		d.WidgetKey = *widgetKey
	}
	d.OperatorIDs = []string{}
	d.CreatedAt, d.UpdatedAt = fromMS(created), fromMS(updated)
	return d, nil
}

// departmentArgs are the values of departmentColumns for d.
func departmentArgs(d *switchboard.Department) []any {
	var widgetKey *string // private departments have none: NULL, outside the unique index.
	if d.WidgetKey != "" {
		widgetKey = &d.WidgetKey
	}
	e := &d.Email
	return []any{d.ID, d.Name, d.Description, string(d.Visibility), d.Enabled, string(d.Routing), widgetKey,
		jsonList(d.AllowedOrigins), d.RingTimeoutS, d.WaitTimeoutS, d.Locale,
		e.FromAddress,
		e.Transcript.Enabled, jsonList(e.Transcript.To),
		e.BlockedIP.Enabled, jsonList(e.BlockedIP.To),
		e.Feedback.Enabled, jsonList(e.Feedback.To),
		e.Missed.Enabled, jsonList(e.Missed.To),
		e.CC.Enabled, jsonList(e.CC.To),
		ms(d.CreatedAt), ms(d.UpdatedAt), d.FallbackDepartmentID,
		string(d.Prechat.Name), string(d.Prechat.Email), string(d.Prechat.Question)}
}

// nameKey is what makes two department names the same: case is ignored.
// It is computed here rather than with SQL lower(), which folds only ASCII
// on SQLite but all of Unicode on PostgreSQL.
func nameKey(name string) string { return strings.ToLower(name) }

func nameConflict(name string) error {
	return &switchboard.ConflictError{Field: "name", Message: fmt.Sprintf("a department named %q already exists", name)}
}

// placeholders returns "?, ?, …" for n values.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

func anys(l []string) []any {
	out := make([]any, len(l))
	for i, s := range l {
		out[i] = s
	}
	return out
}

// getDepartment reads the live department matching where, with its
// OperatorIDs. lock is a row-locking suffix or "".
func getDepartment(ctx context.Context, c conn, lock, where string, args ...any) (switchboard.Department, error) {
	d, err := scanDepartment(c.queryRow(ctx,
		`SELECT `+departmentColumns+` FROM departments WHERE deleted_at IS NULL AND `+where+lock, args...))
	if err != nil {
		return d, err
	}
	pools, err := departmentOperators(ctx, c, []string{d.ID})
	if err != nil {
		return d, err
	}
	d.OperatorIDs = pools[d.ID]
	return d, nil
}

// departmentOperators returns the operator ids of each department of ids,
// sorted, with an empty list for a department without operators.
func departmentOperators(ctx context.Context, c conn, ids []string) (map[string][]string, error) {
	out := make(map[string][]string, len(ids))
	for _, id := range ids {
		out[id] = []string{}
	}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := c.query(ctx, `SELECT department_id, operator_id FROM department_operators
		WHERE department_id IN (`+placeholders(len(ids))+`) ORDER BY department_id, operator_id`, anys(ids)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var dep, op string
		if err := rows.Scan(&dep, &op); err != nil {
			return nil, err
		}
		out[dep] = append(out[dep], op)
	}
	// The database's collation may not be byte order: sort here.
	for id, ops := range out {
		out[id] = uniqueSorted(ops)
	}
	return out, rows.Err()
}

// checkOperators returns the distinct ids of ids, sorted, after checking
// that each is an operator (a ValidationError for "operator_ids" if not).
// On PostgreSQL it share-locks the operators, so none is deleted before the
// transaction ends.
func (t *tx) checkOperators(ctx context.Context, ids []string) ([]string, error) {
	ids = uniqueSorted(ids)
	if len(ids) == 0 {
		return ids, nil
	}
	rows, err := t.query(ctx, `SELECT id FROM operators WHERE id IN (`+placeholders(len(ids))+`)`+t.forShare(), anys(ids)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	found := make(map[string]bool, len(ids))
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		found[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, id := range ids {
		if !found[id] {
			return nil, switchboard.Invalid("operator_ids", "operator %q does not exist", id)
		}
	}
	return ids, nil
}

// checkFallback checks that a fallback department, unless "", is a live
// department (a ValidationError for "fallback_department_id" if not). On
// PostgreSQL it share-locks it, so it is not deleted before the
// transaction ends. A department deleted later simply stops being a
// fallback: the router follows only live, enabled ones.
func (t *tx) checkFallback(ctx context.Context, id string) error {
	if id == "" {
		return nil
	}
	var found string
	err := t.queryRow(ctx, `SELECT id FROM departments WHERE id = ? AND deleted_at IS NULL`+t.forShare(), id).Scan(&found)
	if errors.Is(err, sql.ErrNoRows) {
		return switchboard.Invalid("fallback_department_id", "department %q does not exist", id)
	}
	return err
}

// setDepartmentOperators makes ids (checked, distinct) the pool of the
// department. Associations that stay keep their creation time.
func (t *tx) setDepartmentOperators(ctx context.Context, departmentID string, ids []string, now time.Time) error {
	q := `DELETE FROM department_operators WHERE department_id = ?`
	args := []any{departmentID}
	if len(ids) > 0 {
		q += ` AND operator_id NOT IN (` + placeholders(len(ids)) + `)`
		args = append(args, anys(ids)...)
	}
	if _, err := t.exec(ctx, q, args...); err != nil {
		return err
	}
	for _, id := range ids {
		if err := t.addDepartmentOperator(ctx, departmentID, id, now); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) addDepartmentOperator(ctx context.Context, departmentID, operatorID string, now time.Time) error {
	_, err := t.exec(ctx, `INSERT INTO department_operators (department_id, operator_id, created_at) VALUES (?, ?, ?)
		ON CONFLICT (department_id, operator_id) DO NOTHING`, departmentID, operatorID, ms(now))
	return err
}

// createDepartment normalizes, validates and inserts d, filling its ID,
// WidgetKey and times.
func (t *tx) createDepartment(ctx context.Context, d *switchboard.Department) error {
	d.Normalize()
	if err := d.Validate(); err != nil {
		return err
	}
	ids, err := t.checkOperators(ctx, d.OperatorIDs)
	if err != nil {
		return err
	}
	d.OperatorIDs = ids
	if err := t.checkFallback(ctx, d.FallbackDepartmentID); err != nil {
		return err
	}
	d.ID = switchboard.NewID()
	d.WidgetKey = ""
	if d.Visibility == switchboard.Public {
		d.WidgetKey = switchboard.NewToken()
	}
	now := switchboard.Now()
	d.CreatedAt, d.UpdatedAt = now, now
	_, err = t.exec(ctx, `INSERT INTO departments (`+departmentColumns+`, name_key)
		VALUES (`+placeholders(28)+`, ?)`, append(departmentArgs(d), nameKey(d.Name))...)
	if t.d.IsUniqueViolation(err) {
		return nameConflict(d.Name)
	}
	if err != nil {
		return err
	}
	return t.setDepartmentOperators(ctx, d.ID, d.OperatorIDs, now)
}

// CreateDepartment stores a new department (see store.Store). It normalizes
// and validates d itself too, so that nothing invalid is ever stored.
func (db *DB) CreateDepartment(ctx context.Context, d *switchboard.Department) error {
	// Work on a copy, so that a failed create leaves d without an ID.
	c := *d
	err := db.inTx(ctx, func(t *tx) error { return t.createDepartment(ctx, &c) })
	if err != nil {
		return db.wrap("create department", err)
	}
	*d = c
	return nil
}

// Department returns a live department.
func (db *DB) Department(ctx context.Context, id string) (switchboard.Department, error) {
	d, err := getDepartment(ctx, db.reader(), "", `id = ?`, id)
	if err != nil {
		return switchboard.Department{}, db.wrap("read department", err)
	}
	return d, nil
}

// DepartmentByWidgetKey returns the live department with that widget key.
func (db *DB) DepartmentByWidgetKey(ctx context.Context, key string) (switchboard.Department, error) {
	if key == "" {
		return switchboard.Department{}, switchboard.ErrNotFound
	}
	d, err := getDepartment(ctx, db.reader(), "", `widget_key = ?`, key)
	if err != nil {
		return switchboard.Department{}, db.wrap("read department by widget key", err)
	}
	return d, nil
}

// Departments lists live departments, oldest first.
func (db *DB) Departments(ctx context.Context, p store.Page) ([]switchboard.Department, string, error) {
	pg, err := decodePage(p)
	if err != nil {
		return nil, "", err
	}
	q := `SELECT ` + departmentColumns + ` FROM departments WHERE deleted_at IS NULL`
	var args []any
	if pg.more {
		q += ` AND (created_at, id) > (?, ?)`
		args = append(args, pg.after.T, pg.after.ID)
	}
	q += ` ORDER BY created_at, id LIMIT ?`
	args = append(args, pg.limit+1)

	c := db.reader()
	items, err := func() ([]switchboard.Department, error) {
		rows, err := c.query(ctx, q, args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var items []switchboard.Department
		for rows.Next() {
			d, err := scanDepartment(rows)
			if err != nil {
				return nil, err
			}
			items = append(items, d)
		}
		return items, rows.Err()
	}()
	if err != nil {
		return nil, "", db.wrap("list departments", err)
	}
	items, next := cut(items, pg.limit, func(d switchboard.Department) key { return key{ms(d.CreatedAt), d.ID} })
	ids := make([]string, len(items))
	for i, d := range items {
		ids[i] = d.ID
	}
	pools, err := departmentOperators(ctx, c, ids)
	if err != nil {
		return nil, "", db.wrap("list departments", err)
	}
	for i := range items {
		items[i].OperatorIDs = pools[items[i].ID]
	}
	return items, next, nil
}

// UpdateDepartment reads, changes and writes a department in one
// transaction (see store.Store). ID and CreatedAt cannot change; a public
// department left without a WidgetKey gets a new one.
func (db *DB) UpdateDepartment(ctx context.Context, id string, update func(*switchboard.Department) error) (switchboard.Department, error) {
	var out switchboard.Department
	var updateErr error
	err := db.inTx(ctx, func(t *tx) error {
		cur, err := getDepartment(ctx, t.conn, t.forUpdate(), `id = ?`, id)
		if err != nil {
			return err
		}
		d := cur
		if updateErr = update(&d); updateErr != nil {
			return updateErr
		}
		d.ID, d.CreatedAt = cur.ID, cur.CreatedAt
		d.Normalize()
		if err := d.Validate(); err != nil {
			return err
		}
		if d.Visibility == switchboard.Public && d.WidgetKey == "" {
			d.WidgetKey = switchboard.NewToken()
		}
		if d.OperatorIDs, err = t.checkOperators(ctx, d.OperatorIDs); err != nil {
			return err
		}
		if d.FallbackDepartmentID != cur.FallbackDepartmentID {
			if err := t.checkFallback(ctx, d.FallbackDepartmentID); err != nil {
				return err
			}
		}
		now := switchboard.Now()
		d.UpdatedAt = now
		args := departmentArgs(&d)
		// Columns 2… are set; the first, id, goes last for the WHERE.
		_, err = t.exec(ctx, `UPDATE departments SET
			name = ?, description = ?, visibility = ?, enabled = ?, routing = ?, widget_key = ?,
			allowed_origins = ?, ring_timeout_s = ?, wait_timeout_s = ?, locale = ?,
			email_from_address = ?,
			email_transcript_enabled = ?, email_transcript_to = ?,
			email_blocked_ip_enabled = ?, email_blocked_ip_to = ?,
			email_feedback_enabled = ?, email_feedback_to = ?,
			email_missed_enabled = ?, email_missed_to = ?,
			email_cc_enabled = ?, email_cc_to = ?,
			created_at = ?, updated_at = ?, fallback_department_id = ?,
			prechat_name = ?, prechat_email = ?, prechat_question = ?, name_key = ?
			WHERE id = ?`, append(args[1:], nameKey(d.Name), d.ID)...)
		if t.d.IsUniqueViolation(err) {
			return nameConflict(d.Name)
		}
		if err != nil {
			return err
		}
		if err := t.setDepartmentOperators(ctx, id, d.OperatorIDs, now); err != nil {
			return err
		}
		out, err = getDepartment(ctx, t.conn, "", `id = ?`, id)
		return err
	})
	if updateErr != nil {
		return switchboard.Department{}, updateErr // the caller's own error, as it made it
	}
	if err != nil {
		return switchboard.Department{}, db.wrap("update department", err)
	}
	return out, nil
}

// DeleteDepartment soft-deletes a department (see store.Store).
func (db *DB) DeleteDepartment(ctx context.Context, id, actorID string) error {
	err := db.inTx(ctx, func(t *tx) error {
		// Two deletions at once must not both see the other's department
		// still alive and leave none.
		if err := t.lock(ctx, lockDepartments); err != nil {
			return err
		}
		var found string
		if err := t.queryRow(ctx, `SELECT id FROM departments WHERE id = ? AND deleted_at IS NULL`+t.forUpdate(), id).Scan(&found); err != nil {
			return err
		}
		var live int
		if err := t.queryRow(ctx, `SELECT count(*) FROM departments WHERE deleted_at IS NULL`).Scan(&live); err != nil {
			return err
		}
		if live <= 1 {
			return &switchboard.ConflictError{Message: "the last department cannot be deleted"}
		}
		now := switchboard.Now()
		if _, err := t.exec(ctx, `UPDATE departments SET deleted_at = ?, updated_at = ? WHERE id = ?`, ms(now), ms(now), id); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `DELETE FROM department_operators WHERE department_id = ?`, id); err != nil {
			return err
		}
		return t.audit(ctx, now, actorID, "department.delete", "department", id)
	})
	if err != nil {
		return db.wrap("delete department", err)
	}
	return nil
}

// lockMembers checks, and on PostgreSQL share-locks, a live department and
// an operator for a change of their association: ErrNotFound if either is
// missing.
func (t *tx) lockMembers(ctx context.Context, departmentID, operatorID string) error {
	var id string
	if err := t.queryRow(ctx, `SELECT id FROM departments WHERE id = ? AND deleted_at IS NULL`+t.forShare(), departmentID).Scan(&id); err != nil {
		return err
	}
	return t.queryRow(ctx, `SELECT id FROM operators WHERE id = ?`+t.forShare(), operatorID).Scan(&id)
}

// AddDepartmentOperator associates an operator with a live department
// (idempotent); ErrNotFound if either does not exist.
func (db *DB) AddDepartmentOperator(ctx context.Context, departmentID, operatorID string) error {
	err := db.inTx(ctx, func(t *tx) error {
		if err := t.lockMembers(ctx, departmentID, operatorID); err != nil {
			return err
		}
		return t.addDepartmentOperator(ctx, departmentID, operatorID, switchboard.Now())
	})
	if err != nil {
		return db.wrap("add department operator", err)
	}
	return nil
}

// RemoveDepartmentOperator dissociates an operator from a live department
// (idempotent); ErrNotFound if either does not exist.
func (db *DB) RemoveDepartmentOperator(ctx context.Context, departmentID, operatorID string) error {
	err := db.inTx(ctx, func(t *tx) error {
		if err := t.lockMembers(ctx, departmentID, operatorID); err != nil {
			return err
		}
		_, err := t.exec(ctx, `DELETE FROM department_operators WHERE department_id = ? AND operator_id = ?`, departmentID, operatorID)
		return err
	})
	if err != nil {
		return db.wrap("remove department operator", err)
	}
	return nil
}
