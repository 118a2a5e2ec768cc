// Package sqlstore implements store.Store once, on database/sql, for every
// SQL database Switchboard runs on. The backends store/sqlite and
// store/postgres open the connections and describe their differences in a
// Dialect; everything else — queries, transactions, error translation,
// pagination, migrations — lives here, so that the two cannot drift apart.
//
// Times are stored as unix milliseconds (BIGINT), nullable times as NULL,
// string lists as JSON text.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/mailer/templates"
	"github.com/switchboard-chat/switchboard/store"
)

// Config configures New.
type Config struct {
	// DB runs reads. Required.
	DB *sql.DB
	// WriteDB runs every transaction; nil means DB. SQLite passes a pool of
	// one connection, so that writers queue in Go rather than poll the
	// database file's lock.
	WriteDB *sql.DB
	// Dialect describes the database. Required.
	Dialect Dialect
	// Logger receives the store's rare log lines; nil means discard.
	Logger *slog.Logger
	// GroupCommit tunes the writer of AppendMessage; the zero value is the
	// default.
	GroupCommit GroupCommit
}

// DB is a store.Store on a SQL database.
type DB struct {
	read  *sql.DB
	write *sql.DB
	d     *Dialect
	log   *slog.Logger
	w     *groupWriter // AppendMessage's group commit

	// searchBounds overrides searchWalk and searchMaxHits in tests (zero: the constants).
	searchBounds [2]int

	// mail writes the event mails (see SetMailComposer).
	mail atomic.Pointer[templates.Composer]
	// metrics holds a metricsBox (see SetMetrics in metrics.go).
	metrics atomic.Value

	closeOnce sync.Once
	closeErr  error
}

var _ store.Store = (*DB)(nil)

// New returns a store on the given connections and starts the writer
// goroutines of AppendMessage. It does not migrate: call Migrate. Close
// stops the writers and closes both pools.
func New(c Config) *DB {
	if c.DB == nil {
		panic("sqlstore: New without a DB")
	}
	if c.Dialect.IsUniqueViolation == nil {
		panic("sqlstore: New with a Dialect without IsUniqueViolation")
	}
	d := c.Dialect
	db := &DB{read: c.DB, write: c.WriteDB, d: &d, log: c.Logger, w: newGroupWriter(c.GroupCommit)}
	if db.write == nil {
		db.write = db.read
	}
	if db.log == nil {
		db.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	db.log = db.log.With("component", "store", "backend", d.Name)
	db.startWriters()
	return db
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.read.PingContext(ctx); err != nil {
		return db.wrap("ping", err)
	}
	return nil
}

// Close commits the appends already queued, then closes the connections.
// Later appends fail with switchboard.ErrUnavailable; closing again does
// nothing and returns the first Close's error.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		db.w.close()
		err := db.read.Close()
		if db.write != db.read {
			err = errors.Join(err, db.write.Close())
		}
		db.closeErr = err
	})
	return db.closeErr
}

// Migrate applies the dialect's migrations that the database lacks, in one
// transaction, and records each in schema_migrations. It is idempotent, and
// safe when several processes start at once: on PostgreSQL the transaction
// holds an advisory lock, on SQLite it begins IMMEDIATE, so one process
// migrates while the others wait and then find nothing left to do.
func (db *DB) Migrate(ctx context.Context) error {
	names, err := fs.Glob(db.d.Migrations, "*.sql")
	if err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	slices.Sort(names)
	applied := 0
	err = db.inTx(ctx, func(tx *tx) error {
		if err := tx.lock(ctx, lockMigrate); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    TEXT PRIMARY KEY,
			applied_at BIGINT NOT NULL
		)`); err != nil {
			return err
		}
		done := map[string]bool{}
		rows, err := tx.query(ctx, `SELECT version FROM schema_migrations`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				return err
			}
			done[v] = true
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, name := range names {
			version := strings.TrimSuffix(path.Base(name), ".sql")
			if done[version] {
				continue
			}
			body, err := fs.ReadFile(db.d.Migrations, name)
			if err != nil {
				return err
			}
			// No arguments: both drivers then run the file as a script of
			// several statements.
			if _, err := tx.tx.ExecContext(ctx, string(body)); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if _, err := tx.exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
				version, ms(switchboard.Now())); err != nil {
				return err
			}
			applied++
		}
		return nil
	})
	if err != nil {
		return db.wrap("migrate", err)
	}
	if applied > 0 {
		db.log.Info("migrated", "applied", applied)
	}
	return nil
}

// wrap names the operation in err and translates it: no rows is
// switchboard.ErrNotFound; an unreachable or overloaded database also matches
// switchboard.ErrUnavailable. Errors of the switchboard package (validation,
// conflict, not found) pass unchanged.
func (db *DB) wrap(op string, err error) error {
	db.countError(err)
	var ve *switchboard.ValidationError
	var ce *switchboard.ConflictError
	switch {
	case errors.Is(err, sql.ErrNoRows), errors.Is(err, switchboard.ErrNotFound):
		return switchboard.ErrNotFound
	case errors.As(err, &ve), errors.As(err, &ce):
		return err
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	case db.d.IsUnavailable != nil && db.d.IsUnavailable(err):
		return fmt.Errorf("sqlstore: %s: %w: %w", op, switchboard.ErrUnavailable, err)
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// conn runs queries written with "?" placeholders on a pool or a
// transaction, rebinding them for the dialect.
type conn struct {
	q querier
	d *Dialect
}

func (c conn) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return c.q.ExecContext(ctx, c.d.rebind(query), args...)
}

func (c conn) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return c.q.QueryContext(ctx, c.d.rebind(query), args...)
}

func (c conn) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return c.q.QueryRowContext(ctx, c.d.rebind(query), args...)
}

// reader returns a conn for reads outside transactions.
func (db *DB) reader() conn { return conn{q: db.read, d: db.d} }

// writer returns a conn for single-statement writes outside transactions.
func (db *DB) writer() conn { return conn{q: db.write, d: db.d} }

// tx is a write transaction.
type tx struct {
	conn
	tx *sql.Tx
}

// lock takes the transaction lock key where the dialect has one.
func (t *tx) lock(ctx context.Context, key int64) error {
	if t.d.LockSQL == "" {
		return nil
	}
	_, err := t.exec(ctx, t.d.LockSQL, key)
	return err
}

// forUpdate and forShare return the row-locking suffix of a SELECT.
func (t *tx) forUpdate() string { return t.d.ForUpdate }
func (t *tx) forShare() string  { return t.d.ForShare }

// inTx runs fn in a write transaction, committed when fn returns nil and
// rolled back otherwise. fn's error is returned unchanged.
func (db *DB) inTx(ctx context.Context, fn func(*tx) error) error {
	defer db.timeTx()()
	sqlTx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer sqlTx.Rollback() //nolint:errcheck // a no-op after Commit; the error of fn matters more.
	if err := fn(&tx{conn: conn{q: sqlTx, d: db.d}, tx: sqlTx}); err != nil {
		return err
	}
	return sqlTx.Commit()
}

// requireRows returns switchboard.ErrNotFound when a statement changed no
// row: the row it was meant for (or the one an INSERT … SELECT copies from)
// does not exist.
func requireRows(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return switchboard.ErrNotFound
	}
	return nil
}
