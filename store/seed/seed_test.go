package seed_test

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/internal/testenv"
	"github.com/switchboard-chat/switchboard/store"
	"github.com/switchboard-chat/switchboard/store/postgres"
	"github.com/switchboard-chat/switchboard/store/seed"
	"github.com/switchboard-chat/switchboard/store/sqlite"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestSeededDataReadsBack: what the seeder writes in bulk, bypassing the
// store, reads back through the Store API on both backends exactly as
// generated — so the seeder's SQL mirrors the schema.
func TestSeededDataReadsBack(t *testing.T) {
	cfg := seed.Config{Chats: 400, Messages: 6, Departments: 3, Operators: 7, Sample: 25, Batch: 150}
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			var (
				res seed.Result
				st  store.Store
				err error
			)
			if backend == "sqlite" {
				path := filepath.Join(t.TempDir(), "seed.db")
				if res, err = seed.SQLite(ctx, path, cfg); err != nil {
					t.Fatal(err)
				}
				st, err = sqlite.Open(ctx, path, nil)
			} else {
				url := testenv.PostgresURL(t)
				if res, err = seed.Postgres(ctx, url, cfg); err != nil {
					t.Fatal(err)
				}
				st, err = postgres.Open(ctx, url, nil)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			checkSeeded(t, st, cfg, res)
		})
	}
}

func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func count(t *testing.T, st store.Store, f store.ChatFilter) int {
	t.Helper()
	n, p := 0, store.Page{Limit: 100}
	for {
		rows, next, err := st.ListChats(t.Context(), f, p)
		if err != nil {
			t.Fatal(err)
		}
		n += len(rows)
		if next == "" {
			return n
		}
		p.Cursor = next
	}
}

func checkSeeded(t *testing.T, st store.Store, cfg seed.Config, res seed.Result) {
	ctx := t.Context()
	if res.Chats != cfg.Chats || res.Messages != cfg.Chats*cfg.Messages || len(res.Departments) != cfg.Departments ||
		len(res.Operators) != cfg.Operators || len(res.Sample) != cfg.Sample {
		t.Fatalf("result = %d chats, %d messages, %d departments, %d operators, %d sampled",
			res.Chats, res.Messages, len(res.Departments), len(res.Operators), len(res.Sample))
	}
	// Every status is there, and the categories count what was generated.
	for _, s := range []switchboard.ChatStatus{switchboard.ChatQueued, switchboard.ChatOngoing, switchboard.ChatMissed, switchboard.ChatCompleted} {
		if res.ByStatus[s] == 0 {
			t.Errorf("no %s chat seeded: %v", s, res.ByStatus)
		}
	}
	if res.Reopened == 0 || res.Rated == 0 {
		t.Errorf("reopened %d, rated %d: want some of each", res.Reopened, res.Rated)
	}
	for _, tc := range []struct {
		cat  switchboard.Category
		want int
	}{
		{switchboard.CategoryAll, cfg.Chats},
		{switchboard.CategoryOngoing, res.ByStatus[switchboard.ChatQueued] + res.ByStatus[switchboard.ChatOngoing]},
		{switchboard.CategoryMissed, res.ByStatus[switchboard.ChatMissed]},
		{switchboard.CategoryCompleted, res.ByStatus[switchboard.ChatCompleted]},
		{switchboard.CategoryReopened, res.Reopened},
	} {
		if got := count(t, st, store.ChatFilter{Category: tc.cat}); got != tc.want {
			t.Errorf("category %s lists %d chats, want %d", tc.cat, got, tc.want)
		}
	}
	for _, c := range res.Sample {
		got, err := st.Chat(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if asJSON(t, got) != asJSON(t, c.Chat) {
			t.Errorf("Chat(%s) =\n%s\nseeded\n%s", c.ID, asJSON(t, got), asJSON(t, c.Chat))
		}
		msgs, err := st.Messages(ctx, c.ID, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if asJSON(t, msgs) != asJSON(t, c.Messages) {
			t.Errorf("Messages(%s) =\n%s\nseeded\n%s", c.ID, asJSON(t, msgs), asJSON(t, c.Messages))
		}
		fb, err := st.Feedback(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if asJSON(t, fb) != asJSON(t, c.Feedback) {
			t.Errorf("Feedback(%s) = %s, seeded %s", c.ID, asJSON(t, fb), asJSON(t, c.Feedback))
		}
		notes, err := st.Notes(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(notes) != len(c.Notes) || (len(notes) > 0 && asJSON(t, notes) != asJSON(t, c.Notes)) {
			t.Errorf("Notes(%s) = %s, seeded %s", c.ID, asJSON(t, notes), asJSON(t, c.Notes))
		}
		trs, err := st.Transfers(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if (c.Transfer == nil) != (len(trs) == 0) || (c.Transfer != nil && asJSON(t, trs[0]) != asJSON(t, *c.Transfer)) {
			t.Errorf("Transfers(%s) = %s, seeded %s", c.ID, asJSON(t, trs), asJSON(t, c.Transfer))
		}
		// The list row, found by searching the question in its department.
		rows, _, err := st.ListChats(ctx, store.ChatFilter{DepartmentID: c.DepartmentID, Query: c.Question,
			From: c.StartedAt, To: c.StartedAt.Add(time.Millisecond)}, store.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].ID != c.ID || rows[0].Rating != c.Rating || rows[0].OperatorID != c.OperatorID || rows[0].VisitorName == "" {
			t.Errorf("ListChats for %s's question = %+v", c.ID, rows)
		}
		if _, err := st.VisitorChats(ctx, c.VisitorID, c.ID, 10); err != nil {
			t.Fatal(err)
		}
	}
	// Returning visitors: some visitor has more than one chat.
	c := res.Sample[len(res.Sample)-1]
	prev, err := st.VisitorChats(ctx, c.VisitorID, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(prev) == 0 {
		t.Errorf("VisitorChats(%s) is empty", c.VisitorID)
	}
}
