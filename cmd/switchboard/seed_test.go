package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-chat/switchboard/store"
	"github.com/switchboard-chat/switchboard/store/sqlite"
)

func TestBenchSeedSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seed.db")
	var out, errOut bytes.Buffer
	err := run(t.Context(), []string{"bench", "seed", "--chats", "60", "--messages", "4", "--departments", "2",
		"--operators", "3", "--sqlite", path, "--log-format", "text"}, &out, &errOut)
	if err != nil {
		t.Fatalf("bench seed: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "chats        60") || !strings.Contains(out.String(), "messages     240") {
		t.Errorf("summary:\n%s", out.String())
	}
	if !strings.Contains(errOut.String(), "rows_per_s=") {
		t.Errorf("no progress log:\n%s", errOut.String())
	}
	st, err := sqlite.Open(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows, _, err := st.ListChats(t.Context(), store.ChatFilter{}, store.Page{Limit: 100})
	if err != nil || len(rows) != 60 {
		t.Fatalf("ListChats = %d rows, %v; want 60", len(rows), err)
	}
}

func TestBenchSeedBadFlags(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"--chats", "10"}, // no database
		{"--chats", "10", "--sqlite", filepath.Join(dir, "a.db"), "--postgres-url", "postgres://x/y"},
		{"--chats", "0", "--sqlite", filepath.Join(dir, "b.db")},
		{"--chats", "10", "--messages", "0", "--sqlite", filepath.Join(dir, "c.db")},
		{"--chats", "10", "--departments", "3", "--operators", "2", "--sqlite", filepath.Join(dir, "d.db")},
		{"--chats", "10", "--sqlite", filepath.Join(dir, "e.db"), "extra"},
	} {
		var out, errOut bytes.Buffer
		if err := run(t.Context(), append([]string{"bench", "seed"}, args...), &out, &errOut); err == nil {
			t.Errorf("bench seed %v: no error", args)
		}
	}
}
