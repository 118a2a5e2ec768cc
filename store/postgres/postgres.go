// Package postgres is the store.Store of production and cluster
// deployments: PostgreSQL through github.com/jackc/pgx/v5 (its database/sql
// adapter, so that the queries are the ones of store/sqlstore).
package postgres

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/switchboard-chat/switchboard/store"
	"github.com/switchboard-chat/switchboard/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Dialect describes PostgreSQL to sqlstore.
var Dialect = sqlstore.Dialect{
	Name:                 "postgres",
	Migrations:           sqlstore.MustSub(migrations, "migrations"),
	NumberedPlaceholders: true,
	ArrayParams:          true,
	ForUpdate:            " FOR UPDATE",
	ForShare:             " FOR SHARE",
	LockSQL:              "SELECT pg_advisory_xact_lock(?)",
	// The index and function of migrations/0001_init.sql.
	GramSearch:        `octet_length(m.body) <> length(m.body) AND sb_grams(lower(m.body)) @> ARRAY[lower(?)]`,
	PlanWithValues:    pgx.QueryExecModeExec,
	IsUniqueViolation: isUniqueViolation,
	IsUnavailable:     isUnavailable,
}

// DB is a store.Store in a PostgreSQL database.
type DB struct {
	*sqlstore.DB
}

var _ store.Store = (*DB)(nil)

// MaxConns bounds the connections of one process, well below PostgreSQL's
// default max_connections (100), so that several nodes fit.
const MaxConns = 20

// Options tunes OpenOptions. The zero value is the default.
type Options struct {
	Logger *slog.Logger // nil means discard
	// GroupCommit tunes AppendMessage's writer; a zero Writers means
	// DefaultAppendWriters.
	GroupCommit sqlstore.GroupCommit
}

// DefaultAppendWriters is how many group commits of one process run at
// once by default: while one waits for the server, another can fill.
const DefaultAppendWriters = 2

// Open connects to the PostgreSQL database at url (a postgres:// URL or a
// key=value connection string) and applies the migrations it lacks. Several
// processes may Open the same database at once: one migrates, the others
// wait for it. log may be nil.
//
// Acknowledged messages are durable only when the server commits with
// synchronous_commit on (its default); the store never turns it off.
func Open(ctx context.Context, url string, log *slog.Logger) (*DB, error) {
	return OpenOptions(ctx, url, Options{Logger: log})
}

// OpenOptions is Open with options.
func OpenOptions(ctx context.Context, url string, o Options) (*DB, error) {
	o.GroupCommit.Writers = cmp.Or(o.GroupCommit.Writers, DefaultAppendWriters)
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		// pgx's message does not repeat the URL, which may hold a password.
		return nil, fmt.Errorf("postgres: parse url: %w", err)
	}
	sqlDB := stdlib.OpenDB(*cfg)
	sqlDB.SetMaxOpenConns(MaxConns)
	sqlDB.SetMaxIdleConns(MaxConns / 2)
	db := &DB{sqlstore.New(sqlstore.Config{DB: sqlDB, Dialect: Dialect, Logger: o.Logger, GroupCommit: o.GroupCommit})}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	return db, nil
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// isUnavailable reports errors after which a later retry may succeed: no
// connection, a server shutting down or starting, too many connections,
// and transactions aborted by a deadlock or a serialization failure.
func isUnavailable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code[:2] {
		case "08", // connection exception
			"53", // insufficient resources (too many connections, disk full)
			"57": // operator intervention (shutdown, cannot connect now); 57014 is a cancel
			return pgErr.Code != "57014"
		case "40": // transaction rollback: serialization failure, deadlock
			return true
		}
		return false
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) || errors.As(err, &netErr) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || // the server went away mid-conversation
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		pgconn.SafeToRetry(err)
}
