package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store"
)

// likeEscaper makes user text literal inside a LIKE pattern with ESCAPE '!'.
var likeEscaper = strings.NewReplacer("!", "!!", "%", "!%", "_", "!_")

// chatFilterSQL returns the WHERE conditions (joined with AND, over chats c
// and visitors v) and their arguments for f.
func (d *Dialect) chatFilterSQL(f store.ChatFilter) (conds []string, args []any, none bool, err error) {
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
	if err := checkText("participant", f.Participant); err != nil {
		return nil, nil, false, err
	}
	var scope []string
	if len(f.DepartmentIDs) > 0 {
		ids := uniqueSorted(f.DepartmentIDs)
		scope = append(scope, `c.department_id IN (`+placeholders(len(ids))+`)`)
		args = append(args, anys(ids)...)
	}
	if f.Participant != "" {
		scope = append(scope, `c.operator_id = ?`,
			`c.id IN (SELECT chat_id FROM transfers WHERE from_operator_id = ? OR to_operator_id = ?)`)
		args = append(args, f.Participant, f.Participant, f.Participant)
	}
	if len(scope) > 0 {
		conds = append(conds, `(`+strings.Join(scope, ` OR `)+`)`)
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
	conds, args, none, err := db.d.chatFilterSQL(f)
	if err != nil {
		return nil, "", err
	}
	s, err := db.d.searchCond(f.Query)
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
	var items []store.ChatRow
	switch {
	case !s.ok:
		items, err = db.listRows(ctx, conds, args, pg.limit+1, f.Visitor != "")
	case db.d.GramSearch == "": // no search index: walk
		items, err = db.listRows(ctx, append(conds, s.exists(false)), append(args, s.likeArg), pg.limit+1, true)
	default:
		items, err = db.searchStaged(ctx, conds, args, s, pg.limit+1)
	}
	if err != nil {
		return nil, "", db.wrap("list chats", err)
	}
	items, next := cut(items, pg.limit, func(r store.ChatRow) key { return key{ms(r.StartedAt), r.ID} })
	return items, next, nil
}

// searchStaged finds up to n chats matching conds and s, on a database
// with search indexes. Whether walking the newest chats or looking the
// text up in an index is cheap depends on how common the text is among
// the chats the other filters leave, which the planner's statistics
// cannot tell well enough for one- and two-character words, so it is
// found out:
//
//  1. Walk at most searchWalk chats (newest first, after the other
//     filters and the cursor), checking each one's messages. A common
//     text fills the page here; a filter that leaves few chats ends here.
//  2. Otherwise the text is rare among them: look it up in the index (at
//     most searchMaxHits messages) and list the chats found, with the
//     other filters, by id.
//  3. Should the index find more than that, walk on without bound.
//
// Each step returns the same rows the one query would: the result of step
// 1 is final only when the page is full or the walk saw every candidate.
func (db *DB) searchStaged(ctx context.Context, conds []string, args []any, s search, n int) ([]store.ChatRow, error) {
	// The searchWalk-th candidate bounds the walk.
	bq := `SELECT c.started_at, c.id FROM chats c JOIN visitors v ON v.id = c.visitor_id`
	if len(conds) > 0 {
		bq += ` WHERE ` + strings.Join(conds, ` AND `)
	}
	bq += ` ORDER BY c.started_at DESC, c.id DESC LIMIT 1 OFFSET ?`
	var (
		bound   key
		bounded = true
	)
	err := db.reader().queryRow(ctx, bq, append(db.planArgs(), append(slices.Clone(args), cmp.Or(db.searchBounds[0], searchWalk)-1)...)...).Scan(&bound.T, &bound.ID)
	if errors.Is(err, sql.ErrNoRows) {
		bounded = false // fewer candidates: the walk sees them all
	} else if err != nil {
		return nil, err
	}
	wconds, wargs := append(slices.Clone(conds), s.exists(true)), append(slices.Clone(args), s.likeArg)
	if bounded {
		wconds, wargs = append(wconds, `(c.started_at, c.id) >= (?, ?)`), append(wargs, bound.T, bound.ID)
	}
	items, err := db.listRows(ctx, wconds, wargs, n, true)
	if err != nil || len(items) == n || !bounded {
		return items, err
	}

	maxHits := cmp.Or(db.searchBounds[1], searchMaxHits)
	rows, err := db.reader().query(ctx, `SELECT m.chat_id FROM messages m WHERE m.from_kind <> 'system' AND `+s.index+` LIMIT ?`,
		append(db.planArgs(), s.indexArg, maxHits+1)...)
	if err != nil {
		return nil, err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(ids) > maxHits {
		return db.listRows(ctx, append(slices.Clone(conds), s.exists(true)), append(slices.Clone(args), s.likeArg), n, true)
	}
	if len(ids) == 0 {
		return []store.ChatRow{}, nil
	}
	ids = uniqueSorted(ids)
	if db.d.ArrayParams {
		return db.listRows(ctx, append(conds, `c.id = ANY(?)`), append(args, ids), n, true)
	}
	return db.listRows(ctx, append(conds, `c.id IN (`+placeholders(len(ids))+`)`), append(args, anys(ids)...), n, true)
}

// planArgs is the leading argument that has the database plan a query for
// its values (Dialect.PlanWithValues), if any.
func (db *DB) planArgs() []any {
	if db.d.PlanWithValues == nil {
		return nil
	}
	return []any{db.d.PlanWithValues}
}

// listRows runs the history list query with conds (over chats c, visitors
// v) and returns at most n rows. plan: have the database plan it for the
// values (a text filter's selectivity decides the plan).
func (db *DB) listRows(ctx context.Context, conds []string, args []any, n int, plan bool) ([]store.ChatRow, error) {
	q := `SELECT c.id, c.status, c.department_id, c.department_name, c.visitor_id, v.name, v.email,
		c.operator_id, COALESCE(o.name, ''), c.started_at, c.ended_at, c.reopened, c.rating
		FROM chats c
		JOIN visitors v ON v.id = c.visitor_id
		LEFT JOIN operators o ON o.id = c.operator_id`
	if len(conds) > 0 {
		q += ` WHERE ` + strings.Join(conds, ` AND `)
	}
	q += ` ORDER BY c.started_at DESC, c.id DESC LIMIT ?`
	args = append(slices.Clone(args), n)
	if plan {
		args = append(db.planArgs(), args...)
	}
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
}
