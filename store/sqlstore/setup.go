package sqlstore

import (
	"cmp"
	"context"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store"
)

// Setup creates the default department and the first admin, once per
// database (see store.Setup). The settings row "setup" is the claim: of
// several concurrent calls, only the one whose insert takes it creates
// anything; the others wait on its row lock (PostgreSQL) or the write lock
// (SQLite) and then find the row there.
func (db *DB) Setup(ctx context.Context, s store.Setup) (store.SetupResult, error) {
	var res store.SetupResult
	err := db.inTx(ctx, func(t *tx) error {
		r, err := t.exec(ctx, `INSERT INTO settings (key, value) VALUES ('setup', 'done') ON CONFLICT (key) DO NOTHING`)
		if err != nil {
			return err
		}
		if n, err := r.RowsAffected(); err != nil || n == 0 {
			return err
		}
		d := switchboard.Department{
			Name:       cmp.Or(s.PortalName, store.DefaultPortalName),
			Visibility: switchboard.Public,
			Enabled:    true,
			Routing:    switchboard.RoutingAuto,
		}
		if err := t.createDepartment(ctx, &d); err != nil {
			return err
		}
		o := switchboard.Operator{
			Name:         cmp.Or(s.AdminName, store.DefaultAdminName),
			Email:        s.AdminEmail,
			Role:         switchboard.RoleAdmin,
			Enabled:      true,
			PasswordHash: s.AdminPasswordHash,
		}
		if err := t.createOperator(ctx, &o); err != nil {
			return err
		}
		if err := t.addDepartmentOperator(ctx, d.ID, o.ID, d.CreatedAt); err != nil {
			return err
		}
		d.OperatorIDs = []string{o.ID}
		o.DepartmentIDs = []string{d.ID}
		res = store.SetupResult{Created: true, Department: d, Admin: o}
		return nil
	})
	if err != nil {
		return store.SetupResult{}, db.wrap("setup", err)
	}
	return res, nil
}

// EnsureSetting stores value under key unless the key exists, and returns
// the stored value. Of concurrent callers the first to commit wins: the
// others' inserts wait for it, then do nothing.
func (db *DB) EnsureSetting(ctx context.Context, key, value string) (string, error) {
	if _, err := db.writer().exec(ctx, `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`, key, value); err != nil {
		return "", db.wrap("ensure setting", err)
	}
	var stored string
	if err := db.reader().queryRow(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&stored); err != nil {
		return "", db.wrap("ensure setting", err)
	}
	return stored, nil
}

// audit records a destructive action in the transaction.
func (t *tx) audit(ctx context.Context, at time.Time, actorID, action, objectType, objectID string) error {
	_, err := t.exec(ctx, `INSERT INTO audit_log (id, at, actor_id, action, object_type, object_id) VALUES (?, ?, ?, ?, ?, ?)`,
		switchboard.NewID(), ms(at), actorID, action, objectType, objectID)
	return err
}

// AuditLog lists audit entries, newest first.
func (db *DB) AuditLog(ctx context.Context, p store.Page) ([]switchboard.AuditEntry, string, error) {
	pg, err := decodePage(p)
	if err != nil {
		return nil, "", err
	}
	q := `SELECT id, at, actor_id, action, object_type, object_id FROM audit_log`
	var args []any
	if pg.more {
		q += ` WHERE (at, id) < (?, ?)`
		args = append(args, pg.after.T, pg.after.ID)
	}
	q += ` ORDER BY at DESC, id DESC LIMIT ?`
	args = append(args, pg.limit+1)
	items, err := func() ([]switchboard.AuditEntry, error) {
		rows, err := db.reader().query(ctx, q, args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var items []switchboard.AuditEntry
		for rows.Next() {
			var e switchboard.AuditEntry
			var at int64
			if err := rows.Scan(&e.ID, &at, &e.ActorID, &e.Action, &e.ObjectType, &e.ObjectID); err != nil {
				return nil, err
			}
			e.At = fromMS(at)
			items = append(items, e)
		}
		return items, rows.Err()
	}()
	if err != nil {
		return nil, "", db.wrap("list audit log", err)
	}
	items, next := cut(items, pg.limit, func(e switchboard.AuditEntry) key { return key{ms(e.At), e.ID} })
	return items, next, nil
}
