package sqlstore

import (
	"context"
	"database/sql"
	"strings"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store"
)

// likeEscaper makes user text literal inside a LIKE pattern with ESCAPE '!'.
var likeEscaper = strings.NewReplacer("!", "!!", "%", "!%", "_", "!_")

// chatFilterSQL returns the WHERE conditions (joined with AND, over chats c
// and visitors v) and their arguments for f.
func chatFilterSQL(f store.ChatFilter) (conds []string, args []any, none bool, err error) {
	switch f.Category {
	case "", switchboard.CategoryAll:
	case switchboard.CategoryOngoing:
		conds = append(conds, `c.status IN ('queued', 'ongoing')`)
	case switchboard.CategoryMissed:
		conds = append(conds, `c.status = 'missed'`)
	case switchboard.CategoryCompleted:
		conds = append(conds, `c.status = 'completed'`)
	case switchboard.CategoryReopened:
		conds = append(conds, `c.reopened`)
	case switchboard.CategoryMonitored:
		ids := uniqueSorted(f.ChatIDs)
		if len(ids) == 0 {
			return nil, nil, true, nil
		}
		conds = append(conds, `c.id IN (`+placeholders(len(ids))+`)`)
		args = append(args, anys(ids)...)
	default:
		return nil, nil, false, switchboard.Invalid("category", "%q is not a category", string(f.Category))
	}
	if f.Rating < 0 || f.Rating > 5 {
		return nil, nil, false, switchboard.Invalid("rating", "must be from 1 to 5")
	}
	if err := checkTexts("department_id", f.DepartmentID, "operator_id", f.OperatorID, "visitor", f.Visitor); err != nil {
		return nil, nil, false, err
	}
	if len(f.DepartmentIDs) > 0 {
		ids := uniqueSorted(f.DepartmentIDs)
		conds = append(conds, `c.department_id IN (`+placeholders(len(ids))+`)`)
		args = append(args, anys(ids)...)
	}
	if f.DepartmentID != "" {
		conds = append(conds, `c.department_id = ?`)
		args = append(args, f.DepartmentID)
	}
	if f.OperatorID != "" {
		conds = append(conds, `c.operator_id = ?`)
		args = append(args, f.OperatorID)
	}
	if f.Visitor != "" {
		// lower() on both sides: PostgreSQL's LIKE is case-sensitive and
		// SQLite's folds only ASCII (as does its lower()).
		pattern := "%" + likeEscaper.Replace(strings.ToLower(f.Visitor)) + "%"
		conds = append(conds, `(lower(v.name) LIKE ? ESCAPE '!' OR lower(v.email) LIKE ? ESCAPE '!')`)
		args = append(args, pattern, pattern)
	}
	if !f.From.IsZero() {
		conds = append(conds, `c.started_at >= ?`)
		args = append(args, ms(f.From))
	}
	if !f.To.IsZero() {
		conds = append(conds, `c.started_at < ?`)
		args = append(args, ms(f.To))
	}
	if f.Rating != 0 {
		conds = append(conds, `c.rating = ?`)
		args = append(args, f.Rating)
	}
	return conds, args, false, nil
}

// ListChats lists chats matching f, newest first.
func (db *DB) ListChats(ctx context.Context, f store.ChatFilter, p store.Page) ([]store.ChatRow, string, error) {
	pg, err := decodePage(p)
	if err != nil {
		return nil, "", err
	}
	conds, args, none, err := chatFilterSQL(f)
	if err != nil {
		return nil, "", err
	}
	if none {
		return []store.ChatRow{}, "", nil
	}
	if pg.more {
		conds = append(conds, `(c.started_at, c.id) < (?, ?)`)
		args = append(args, pg.after.T, pg.after.ID)
	}
	q := `SELECT c.id, c.status, c.department_id, c.department_name, c.visitor_id, v.name, v.email,
		c.operator_id, COALESCE(o.name, ''), c.started_at, c.ended_at, c.reopened, c.rating
		FROM chats c
		JOIN visitors v ON v.id = c.visitor_id
		LEFT JOIN operators o ON o.id = c.operator_id`
	if len(conds) > 0 {
		q += ` WHERE ` + strings.Join(conds, ` AND `)
	}
	q += ` ORDER BY c.started_at DESC, c.id DESC LIMIT ?`
	args = append(args, pg.limit+1)

	items, err := func() ([]store.ChatRow, error) {
		rows, err := db.reader().query(ctx, q, args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var items []store.ChatRow
		for rows.Next() {
			var (
				r       store.ChatRow
				started int64
				ended   sql.NullInt64
			)
			if err := rows.Scan(&r.ID, &r.Status, &r.DepartmentID, &r.DepartmentName, &r.VisitorID, &r.VisitorName, &r.VisitorEmail,
				&r.OperatorID, &r.OperatorName, &started, &ended, &r.Reopened, &r.Rating); err != nil {
				return nil, err
			}
			r.StartedAt, r.EndedAt = fromMS(started), fromNullMS(ended)
			items = append(items, r)
		}
		return items, rows.Err()
	}()
	if err != nil {
		return nil, "", db.wrap("list chats", err)
	}
	items, next := cut(items, pg.limit, func(r store.ChatRow) key { return key{ms(r.StartedAt), r.ID} })
	return items, next, nil
}
