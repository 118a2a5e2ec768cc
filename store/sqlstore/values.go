package sqlstore

import (
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store"
)

// ms is t as stored: unix milliseconds.
func ms(t time.Time) int64 { return t.UnixMilli() }

// fromMS is a stored time, in UTC.
func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// nullMS stores an optional time: nil is NULL.
func nullMS(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: ms(*t), Valid: true}
}

// fromNullMS reads an optional time.
func fromNullMS(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMS(v.Int64)
	return &t
}

// jsonList stores a string list as a JSON array; nil is "[]".
func jsonList(l []string) string {
	if len(l) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(l) // a []string always marshals.
	return string(b)
}

// jsonListDest scans a JSON array column into *l, never leaving it nil.
type jsonListDest struct{ l *[]string }

func (d jsonListDest) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case string:
		b = []byte(v)
	case []byte:
		b = v
	case nil:
		*d.l = []string{}
		return nil
	default:
		return fmt.Errorf("json list: unexpected %T", src)
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return fmt.Errorf("json list: %w", err)
	}
	if l == nil {
		l = []string{}
	}
	*d.l = l
	return nil
}

// uniqueSorted returns the distinct ids of l, sorted, never nil. Lists of
// ids are kept in id order so that both backends return them alike.
func uniqueSorted(l []string) []string {
	out := slices.Clone(l)
	if out == nil {
		out = []string{}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// key is the position of a row in a keyset-paginated list.
type key struct {
	T  int64  `json:"t"`
	ID string `json:"i"`
}

// encodeCursor returns the opaque cursor of the page after the row at k.
func encodeCursor(k key) string {
	b, _ := json.Marshal(k) // a key always marshals.
	return base64.RawURLEncoding.EncodeToString(b)
}

// maxCursor bounds what decodeCursor reads: a real cursor is far shorter.
const maxCursor = 256

// decodeCursor reads a cursor of encodeCursor. "" is the first page
// (ok false). Anything else malformed is a ValidationError for "cursor".
func decodeCursor(s string) (k key, ok bool, err error) {
	if s == "" {
		return key{}, false, nil
	}
	bad := switchboard.Invalid("cursor", "is not a cursor this list returned")
	if len(s) > maxCursor {
		return key{}, false, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return key{}, false, bad
	}
	if err := json.Unmarshal(b, &k); err != nil || k.ID == "" {
		return key{}, false, bad
	}
	return k, true, nil
}

// page is a decoded store.Page.
type page struct {
	after key
	more  bool // after is set: not the first page
	limit int
}

func decodePage(p store.Page) (page, error) {
	limit, err := p.Size()
	if err != nil {
		return page{}, err
	}
	k, ok, err := decodeCursor(p.Cursor)
	if err != nil {
		return page{}, err
	}
	return page{after: k, more: ok, limit: limit}, nil
}

// cut trims items, fetched with limit+1, to one page and returns the cursor
// of the next page ("" on the last page), made by keyOf from the page's
// last item.
func cut[T any](items []T, limit int, keyOf func(T) key) ([]T, string) {
	if items == nil {
		items = []T{}
	}
	if len(items) <= limit {
		return items, ""
	}
	items = items[:limit]
	return items, encodeCursor(keyOf(items[limit-1]))
}
