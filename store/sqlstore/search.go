package sqlstore

import (
	"strings"
	"unicode/utf8"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store"
)

// searchCond turns ChatFilter.Query into SQL (ok false when q is blank
// and does not filter) or a ValidationError for "q".
//
// A chat matches when one of its visitor or operator messages (the
// question is message 1; system notices are left out) contains q. It is an
// EXISTS over the chat's messages added to the list's conditions, so the
// newest-first keyset order and cursor stay as they are. Without search
// indexes (SQLite) the list walks the chats and checks each one's messages
// with LIKE; with them (PostgreSQL: a pg_trgm GIN index on lower(body) for
// three characters or more in any script, Japanese included, and
// Dialect.GramSearch for one- or two-character Japanese words) ListChats
// takes the staged road of searchStaged. See ARCHITECTURE.md.
//
// lower() is applied to both sides in SQL, so each database folds the
// pattern exactly as it folds the bodies (its index included): ASCII on
// SQLite, the locale's rules on PostgreSQL. The text is escaped for LIKE
// with '!' and passed as a parameter, so %, _, quotes and backslashes are
// literal.
func (d *Dialect) searchCond(q string) (search, error) {
	if err := checkText("q", q); err != nil {
		return search{}, err
	}
	if n := utf8.RuneCountInString(q); n > store.MaxQueryRunes {
		return search{}, switchboard.Invalid("q", "is %d characters long; at most %d", n, store.MaxQueryRunes)
	}
	q = strings.TrimSpace(q)
	if q == "" {
		return search{}, nil
	}
	// The from_kind condition repeats the indexes' predicate word for
	// word, so that PostgreSQL can use the partial indexes.
	s := search{ok: true, like: `lower(m.body) LIKE lower(?) ESCAPE '!'`, likeArg: "%" + likeEscaper.Replace(q) + "%"}
	s.index, s.indexArg = s.like, s.likeArg
	if d.GramSearch != "" && utf8.RuneCountInString(q) <= 2 && !isASCII(q) {
		s.index, s.indexArg = d.GramSearch, q
	}
	return s, nil
}

// search is a ChatFilter.Query in SQL: conditions on messages m.
type search struct {
	ok       bool   // there is a query
	like     string // the body contains it (LIKE: cheap per row, no index needed)
	likeArg  any
	index    string // the same, in the form the database's index serves
	indexArg any
}

// exists is the search as a condition on chats c. With fence the
// database cannot turn it into a join: it checks each chat's messages
// (through their primary key) as it walks the chats.
func (s search) exists(fence bool) string {
	cond := `EXISTS (SELECT 1 FROM messages m WHERE m.chat_id = c.id AND m.from_kind <> 'system' AND ` + s.like
	if fence {
		cond += ` OFFSET 0` // PostgreSQL: a subquery with OFFSET is never pulled up into a join
	}
	return cond + `)`
}

// Bounds of the staged search (see DB.searchStaged).
const (
	searchWalk    = 500    // chats walked before looking the text up in the index
	searchMaxHits = 20_000 // messages the index lookup may return before walking on instead
)

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
