package seed

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-chat/switchboard/store/postgres"
	"github.com/switchboard-chat/switchboard/store/sqlite"
)

// Postgres seeds the PostgreSQL database at url (migrating it first).
//
// The bulk load is one transaction: the secondary indexes of the big
// tables (those not behind a constraint, the trigram index of message
// bodies among them) are dropped, the rows are COPYed in, and the indexes
// are built again from their own definitions (so nothing here repeats the
// schema's index DDL); a failure leaves the database as it was. Then
// VACUUM ANALYZE, so that the planner has statistics and index-only scans
// work at once.
func Postgres(ctx context.Context, url string, cfg Config) (Result, error) {
	if err := cfg.defaults(); err != nil {
		return Result{}, err
	}
	began := time.Now()
	st, err := postgres.Open(ctx, url, cfg.Log)
	if err != nil {
		return Result{}, err
	}
	g, res, err := prepare(ctx, st, cfg)
	st.Close()
	if err != nil {
		return res, err
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return res, fmt.Errorf("seed: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tx, err := conn.Begin(ctx)
	if err != nil {
		return res, fmt.Errorf("seed: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	for _, s := range []string{"SET LOCAL synchronous_commit = off", "SET LOCAL maintenance_work_mem = '1GB'"} {
		if _, err := tx.Exec(ctx, s); err != nil {
			return res, fmt.Errorf("seed: %s: %w", s, err)
		}
	}
	rows, err := tx.Query(ctx, `SELECT i.indexname, i.indexdef FROM pg_indexes i
		WHERE i.schemaname = current_schema() AND i.tablename IN ('visitors', 'chats', 'messages')
		AND NOT EXISTS (SELECT 1 FROM pg_constraint c
			WHERE c.conindid = (quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))::regclass)`)
	if err != nil {
		return res, fmt.Errorf("seed: list indexes: %w", err)
	}
	names, defs, err := namedDefs(rows)
	if err != nil {
		return res, fmt.Errorf("seed: list indexes: %w", err)
	}
	for _, n := range names {
		if _, err := tx.Exec(ctx, "DROP INDEX "+pgx.Identifier{n}.Sanitize()); err != nil {
			return res, fmt.Errorf("seed: drop index %s: %w", n, err)
		}
	}
	// The messages table is twenty times the chats: its primary key,
	// unique and foreign keys go too (checked per row and updated at random
	// places, they would halve the speed) and are added back after.
	rows, err = tx.Query(ctx, `SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
		WHERE conrelid = 'messages'::regclass AND contype IN ('p', 'u', 'f') ORDER BY contype DESC, conname`)
	if err != nil {
		return res, fmt.Errorf("seed: list constraints: %w", err)
	}
	cnames, cdefs, err := namedDefs(rows)
	if err != nil {
		return res, fmt.Errorf("seed: list constraints: %w", err)
	}
	for _, n := range cnames {
		if _, err := tx.Exec(ctx, "ALTER TABLE messages DROP CONSTRAINT "+pgx.Identifier{n}.Sanitize()); err != nil {
			return res, fmt.Errorf("seed: drop constraint %s: %w", n, err)
		}
	}
	if err := load(ctx, g, cfg, pgSink{tx}, &res); err != nil {
		return res, err
	}
	// Unique ones first (ORDER BY contype DESC: u, p, f).
	for i, d := range cdefs {
		t := time.Now()
		if _, err := tx.Exec(ctx, "ALTER TABLE messages ADD CONSTRAINT "+pgx.Identifier{cnames[i]}.Sanitize()+" "+d); err != nil {
			return res, fmt.Errorf("seed: add constraint %s back: %w", cnames[i], err)
		}
		cfg.Log.Info("seed: constraint added back", "constraint", cnames[i], "took", time.Since(t).Round(time.Millisecond).String())
	}
	for i, d := range defs {
		t := time.Now()
		if _, err := tx.Exec(ctx, d); err != nil {
			return res, fmt.Errorf("seed: rebuild index %s: %w", names[i], err)
		}
		cfg.Log.Info("seed: index rebuilt", "index", names[i], "took", time.Since(t).Round(time.Millisecond).String())
	}
	if err := tx.Commit(ctx); err != nil {
		return res, fmt.Errorf("seed: commit: %w", err)
	}
	t := time.Now()
	if _, err := conn.Exec(ctx, "VACUUM (ANALYZE) visitors, chats, messages, feedback, notes, transfers"); err != nil {
		return res, fmt.Errorf("seed: vacuum: %w", err)
	}
	cfg.Log.Info("seed: vacuumed and analyzed", "took", time.Since(t).Round(time.Millisecond).String())
	res.Elapsed = time.Since(began)
	return res, nil
}

type pgSink struct{ tx pgx.Tx }

func (s pgSink) write(ctx context.Context, table string, cols []string, rows [][]any) error {
	_, err := s.tx.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows))
	return err
}

// SQLite seeds the SQLite database file at path (creating and migrating it
// first). Each batch of chats is one transaction of multi-row INSERTs.
func SQLite(ctx context.Context, path string, cfg Config) (Result, error) {
	if err := cfg.defaults(); err != nil {
		return Result{}, err
	}
	began := time.Now()
	st, err := sqlite.Open(ctx, path, cfg.Log)
	if err != nil {
		return Result{}, err
	}
	g, res, err := prepare(ctx, st, cfg)
	st.Close()
	if err != nil {
		return res, err
	}
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)")
	if err != nil {
		return res, fmt.Errorf("seed: open %s: %w", path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if err := load(ctx, g, cfg, sqliteSink{db}, &res); err != nil {
		return res, err
	}
	if _, err := db.ExecContext(ctx, "ANALYZE"); err != nil {
		return res, fmt.Errorf("seed: analyze: %w", err)
	}
	res.Elapsed = time.Since(began)
	return res, nil
}

type sqliteSink struct{ db *sql.DB }

// sqliteMaxVars stays under SQLite's limit of bound variables per statement.
const sqliteMaxVars = 30000

func (s sqliteSink) write(ctx context.Context, table string, cols []string, rows [][]any) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	per := sqliteMaxVars / len(cols)
	for len(rows) > 0 {
		n := min(per, len(rows))
		q := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES " +
			strings.TrimSuffix(strings.Repeat(one+", ", n), ", ")
		args := make([]any, 0, n*len(cols))
		for _, r := range rows[:n] {
			args = append(args, r...)
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return tx.Commit()
}

// namedDefs reads (name, definition) rows, and closes them.
func namedDefs(rows pgx.Rows) (names, defs []string, err error) {
	defer rows.Close()
	for rows.Next() {
		var n, d string
		if err := rows.Scan(&n, &d); err != nil {
			return nil, nil, err
		}
		names, defs = append(names, n), append(defs, d)
	}
	return names, defs, rows.Err()
}
