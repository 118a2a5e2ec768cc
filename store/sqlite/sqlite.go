// Package sqlite is the embedded store.Store of a single Switchboard node:
// one SQLite file, through modernc.org/sqlite (pure Go, no cgo).
//
// Every connection runs in WAL mode with synchronous=FULL, so a committed
// transaction survives a crash of the process or the machine; foreign keys
// are enforced; transactions begin IMMEDIATE, so a transaction that writes
// never fails half-way for want of the write lock.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/switchboard-chat/switchboard/store"
	"github.com/switchboard-chat/switchboard/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Dialect describes SQLite to sqlstore.
var Dialect = sqlstore.Dialect{
	Name:              "sqlite",
	Migrations:        sqlstore.MustSub(migrations, "migrations"),
	IsUniqueViolation: isUniqueViolation,
	IsUnavailable:     isBusy,
}

// DB is a store.Store in a SQLite file.
type DB struct {
	*sqlstore.DB
	read, write *sql.DB // closed by sqlstore.DB.Close
}

var _ store.Store = (*DB)(nil)

// dsnParams are the connection settings of every connection. busy_timeout
// comes first so that the others wait for a lock instead of failing.
const dsnParams = "_pragma=busy_timeout(10000)" +
	"&_pragma=journal_mode(WAL)" +
	"&_pragma=synchronous(FULL)" +
	"&_pragma=foreign_keys(1)" +
	"&_txlock=immediate"

// Options tunes OpenOptions. The zero value is the default.
type Options struct {
	Logger      *slog.Logger         // nil means discard
	GroupCommit sqlstore.GroupCommit // the writer of AppendMessage
}

// Open opens (creating it if needed) the SQLite database file at path and
// applies the migrations it lacks. The directory must exist. log may be nil.
func Open(ctx context.Context, path string, log *slog.Logger) (*DB, error) {
	return OpenOptions(ctx, path, Options{Logger: log})
}

// OpenOptions is Open with options.
func OpenOptions(ctx context.Context, path string, o Options) (*DB, error) {
	if path == "" || strings.Contains(path, "?") {
		return nil, fmt.Errorf("sqlite: open %q: the path must be non-empty, without '?'", path)
	}
	dsn := path + "?" + dsnParams
	read, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	write, err := sql.Open("sqlite", dsn)
	if err != nil {
		read.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// SQLite has one writer at a time. One write connection makes the
	// transactions of this process queue in database/sql, in order, rather
	// than poll the file lock; busy_timeout still covers other processes
	// (switchboard migrate, admin commands). Readers run concurrently in WAL.
	write.SetMaxOpenConns(1)
	read.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)))
	read.SetMaxIdleConns(max(4, runtime.GOMAXPROCS(0)))

	db := &DB{
		DB: sqlstore.New(sqlstore.Config{
			DB: read, WriteDB: write, Dialect: Dialect, Logger: o.Logger, GroupCommit: o.GroupCommit,
		}),
		read:  read,
		write: write,
	}
	if err := migrateRetrying(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return db, nil
}

// migrateRetrying migrates, trying again when SQLite answers "database is
// locked" at once: processes opening a fresh file together can deadlock on
// its first locks (one switching the file to WAL, another beginning a
// write), and SQLite then fails one of them without waiting.
func migrateRetrying(ctx context.Context, db *DB) error {
	var err error
	for attempt := range 6 {
		if err = db.Migrate(ctx); err == nil || !isBusy(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt+1) * 50 * time.Millisecond):
		}
	}
	return err
}

func sqliteCode(err error) (int, bool) {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return 0, false
	}
	return e.Code(), true
}

func isUniqueViolation(err error) bool {
	code, ok := sqliteCode(err)
	return ok && (code == sqlite3.SQLITE_CONSTRAINT_UNIQUE || code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}

// isBusy reports a lock still held by another process after busy_timeout.
func isBusy(err error) bool {
	code, ok := sqliteCode(err)
	return ok && (code&0xff == sqlite3.SQLITE_BUSY || code&0xff == sqlite3.SQLITE_LOCKED)
}
