package sqlstore

import (
	"errors"
	"testing"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store"
)

func TestRebind(t *testing.T) {
	pg := &Dialect{NumberedPlaceholders: true}
	lite := &Dialect{}
	for _, c := range []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`SELECT a FROM t WHERE b = ? AND c IN (?, ?)`, `SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)`},
		{`SELECT '?', "a?b", ? FROM t`, `SELECT '?', "a?b", $1 FROM t`},
		{`SELECT 'it''s ?', ?`, `SELECT 'it''s ?', $1`},
	} {
		if got := pg.rebind(c.in); got != c.want {
			t.Errorf("rebind(%q) = %q; want %q", c.in, got, c.want)
		}
		if got := lite.rebind(c.in); got != c.in {
			t.Errorf("rebind without numbered placeholders changed %q to %q", c.in, got)
		}
	}
}

func TestCursor(t *testing.T) {
	k := key{T: 1700000000123, ID: "abc"}
	got, ok, err := decodeCursor(encodeCursor(k))
	if err != nil || !ok || got != k {
		t.Errorf("decodeCursor(encodeCursor(%v)) = %v, %v, %v", k, got, ok, err)
	}
	if _, ok, err := decodeCursor(""); ok || err != nil {
		t.Errorf(`decodeCursor("") = %v, %v; want the first page`, ok, err)
	}
	for _, bad := range []string{"%%%", "e30", string(make([]byte, maxCursor+1))} {
		_, _, err := decodeCursor(bad)
		var ve *switchboard.ValidationError
		if !errors.As(err, &ve) || ve.Field != "cursor" {
			t.Errorf("decodeCursor(%q) = %v; want a ValidationError for cursor", bad, err)
		}
	}
	for limit, want := range map[int]int{0: store.DefaultLimit, 1: 1, store.MaxLimit: store.MaxLimit} {
		p, err := decodePage(store.Page{Limit: limit})
		if err != nil || p.limit != want {
			t.Errorf("decodePage(limit %d) = %d, %v; want %d", limit, p.limit, err, want)
		}
	}
}
