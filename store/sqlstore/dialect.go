package sqlstore

import (
	"io/fs"
	"strconv"
	"strings"
)

// Dialect is what differs between the SQL databases sqlstore runs on. The
// queries themselves are written once, in the dialect both PostgreSQL and
// SQLite (3.35 or later) understand: "?" placeholders, row values,
// ON CONFLICT ... DO NOTHING, partial indexes, TRUE and FALSE.
type Dialect struct {
	// Name names the backend in error messages: "sqlite", "postgres".
	Name string

	// Migrations holds the NNNN_name.sql files, applied in name order, each
	// at most once. Files may hold several statements.
	Migrations fs.FS

	// NumberedPlaceholders rewrites "?" to "$1", "$2", … (PostgreSQL).
	NumberedPlaceholders bool

	// ForUpdate and ForShare are appended to the SELECTs that read rows a
	// transaction is about to change or depend on (" FOR UPDATE",
	// " FOR SHARE" on PostgreSQL). Empty on SQLite, where every write
	// transaction begins IMMEDIATE and so already holds the database's only
	// write lock.
	ForUpdate, ForShare string

	// LockSQL takes a lock that lasts until the end of the transaction it
	// runs in, named by one integer "?" argument
	// ("SELECT pg_advisory_xact_lock(?)"). Empty when transactions are
	// serialized anyway (SQLite).
	LockSQL string

	// ArrayParams binds Go slices as array parameters ("= ANY(?)",
	// "unnest(?::text[])"), so that the statements of a group commit keep
	// one text (prepared once per connection) whatever the batch's size
	// (PostgreSQL). Without it they list one "?" per value (SQLite).
	ArrayParams bool

	// GramSearch, when set, is a condition on messages m, with one "?"
	// argument, that is true exactly when lower(m.body) contains the
	// lower-cased argument, served by an index: history search uses it for
	// queries of one or two characters with at least one not ASCII (a
	// Japanese word), which trigrams cannot serve. Empty: such queries use
	// LIKE like the others (SQLite). See searchCond.
	GramSearch string

	// PlanWithValues, when set, is passed as the first argument of the
	// history list query with a search text or a visitor filter so that the database plans it for the actual
	// search text (whether to walk the newest chats or look the text up
	// in an index depends on how common it is) instead of a cached generic
	// plan (pgx.QueryExecModeExec on PostgreSQL). Nil: nothing is passed.
	PlanWithValues any

	// IsUniqueViolation reports whether err is a unique-constraint violation.
	IsUniqueViolation func(err error) bool

	// IsUnavailable reports whether err means the database cannot be reached
	// or is too busy right now, so that the caller may retry later. Nil means
	// never.
	IsUnavailable func(err error) bool
}

// Keys of the transaction locks of Dialect.LockSQL. They serialize the
// changes whose checks span several rows, which row locks alone cannot.
const (
	lockMigrate     int64 = 0x5357_0001 // applying migrations
	lockDepartments int64 = 0x5357_0002 // deleting a department (the last one stays)
	lockAdmins      int64 = 0x5357_0003 // changing or deleting operators (the last admin stays)
)

// rebind rewrites the "?" placeholders of query for the dialect. Question
// marks inside quoted strings and identifiers are left alone.
func (d *Dialect) rebind(query string) string {
	if !d.NumberedPlaceholders || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	var quote byte
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// MustSub returns the subdirectory dir of an embedded file system (a
// backend's migrations); a missing directory is a programming error.
func MustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return sub
}
