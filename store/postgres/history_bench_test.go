package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx" for the fixture queries

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/internal/testenv"
	"github.com/switchboard-chat/switchboard/store"
	"github.com/switchboard-chat/switchboard/store/postgres"
	"github.com/switchboard-chat/switchboard/store/seed"
)

// BenchmarkHistory measures the history list (each category, with and
// without filters, deep pages), the chat detail view and search on a seeded
// database. Each sub-benchmark reports p50-ms and p99-ms per operation.
//
// The data set: SWITCHBOARD_BENCH_POSTGRES_URL names a database to use; when
// it has no chats it is seeded first (and kept), so a big one is seeded
// once, e.g. with `switchboard bench seed --chats 1000000 --messages 20`.
// Without it, a fresh database of the test server is seeded with
// SWITCHBOARD_BENCH_CHATS chats (default 20000) of SWITCHBOARD_BENCH_MESSAGES
// messages (default 20). Run with a fixed count for stable percentiles:
//
//	go test -run '^$' -bench History -benchtime 200x ./store/postgres/
func BenchmarkHistory(b *testing.B) {
	ctx := b.Context()
	url := os.Getenv("SWITCHBOARD_BENCH_POSTGRES_URL")
	if url == "" {
		url = testenv.PostgresURL(b)
	}
	raw, err := sql.Open("pgx", url)
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	var n int
	if err := raw.QueryRowContext(ctx, `SELECT count(*) FROM pg_tables WHERE tablename = 'chats'`).Scan(&n); err != nil {
		b.Fatal(err)
	}
	if n == 1 {
		if err := raw.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM chats LIMIT 1) s`).Scan(&n); err != nil {
			b.Fatal(err)
		}
	}
	if n == 0 {
		cfg := seed.Config{Chats: envInt(b, "SWITCHBOARD_BENCH_CHATS", 20000), Messages: envInt(b, "SWITCHBOARD_BENCH_MESSAGES", 20)}
		t := time.Now()
		if _, err := seed.Postgres(ctx, url, cfg); err != nil {
			b.Fatal(err)
		}
		b.Logf("seeded %d chats × %d messages in %s", cfg.Chats, cfg.Messages, time.Since(t).Round(time.Millisecond))
	}
	st, err := postgres.Open(ctx, url, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	fx := newBenchFixture(b, raw)
	b.Logf("data set: %d chats, %d messages", fx.chats, fx.messages)

	list := func(name string, f store.ChatFilter, cursor string) {
		b.Run(name, func(b *testing.B) {
			measure(b, func(int) error {
				_, _, err := st.ListChats(ctx, f, store.Page{Limit: 50, Cursor: cursor})
				return err
			})
		})
	}
	for _, cat := range []switchboard.Category{switchboard.CategoryAll, switchboard.CategoryOngoing, switchboard.CategoryMissed,
		switchboard.CategoryCompleted, switchboard.CategoryReopened} {
		list("list/"+string(cat), store.ChatFilter{Category: cat}, "")
		list("list/"+string(cat)+"/page100", store.ChatFilter{Category: cat}, fx.deepCursor(b, st, store.ChatFilter{Category: cat}, 100))
		list("list/"+string(cat)+"/department", store.ChatFilter{Category: cat, DepartmentID: fx.department}, "")
		list("list/"+string(cat)+"/operator", store.ChatFilter{Category: cat, OperatorID: fx.operator}, "")
	}
	list("list/monitored", store.ChatFilter{Category: switchboard.CategoryMonitored, ChatIDs: fx.sampleChats[:20]}, "")
	list("list/operator-departments", store.ChatFilter{DepartmentIDs: fx.departments[:2]}, "")
	list("list/operator-departments/page100", store.ChatFilter{DepartmentIDs: fx.departments[:2]},
		fx.deepCursor(b, st, store.ChatFilter{DepartmentIDs: fx.departments[:2]}, 100))
	list("list/department/page100", store.ChatFilter{DepartmentID: fx.department},
		fx.deepCursor(b, st, store.ChatFilter{DepartmentID: fx.department}, 100))
	list("list/visitor-common", store.ChatFilter{Visitor: "example.jp"}, "")
	list("list/visitor-one", store.ChatFilter{Visitor: fx.visitorEmail}, "")
	month := fx.newest.AddDate(0, -1, 0)
	list("list/dates-last-month", store.ChatFilter{From: month}, "")
	list("list/dates-a-week-half-a-year-ago", store.ChatFilter{From: fx.newest.AddDate(0, -6, 0), To: fx.newest.AddDate(0, -6, 7)}, "")
	list("list/rating-5", store.ChatFilter{Rating: 5}, "")
	list("list/rating-1", store.ChatFilter{Rating: 1}, "")
	list("list/rating-1/page20", store.ChatFilter{Rating: 1}, fx.deepCursor(b, st, store.ChatFilter{Rating: 1}, 20))
	list("list/completed/department/operator/rating-5/last-month", store.ChatFilter{Category: switchboard.CategoryCompleted,
		DepartmentID: fx.department, OperatorID: fx.operator, Rating: 5, From: month}, "")

	b.Run("detail", func(b *testing.B) {
		measure(b, func(i int) error { return detail(ctx, st, fx.sampleChats[i%len(fx.sampleChats)]) })
	})

	for _, tc := range []struct {
		name string
		f    store.ChatFilter
	}{
		{"english-common", store.ChatFilter{Query: seed.CommonEnglish}},
		{"english-rare", store.ChatFilter{Query: seed.RareEnglish}},
		{"english-order-number", store.ChatFilter{Query: fx.orderNumber}},
		{"english-absent", store.ChatFilter{Query: "xylophone"}},
		{"japanese2-common", store.ChatFilter{Query: seed.CommonJapanese2}},
		{"japanese2-rare", store.ChatFilter{Query: seed.RareJapanese2}},
		{"japanese1-common", store.ChatFilter{Query: "傘"}},
		{"japanese4-common", store.ChatFilter{Query: seed.CommonJapanese4}},
		{"japanese4-rare", store.ChatFilter{Query: seed.RareJapanese4}},
		{"english-common/missed/department", store.ChatFilter{Query: seed.CommonEnglish, Category: switchboard.CategoryMissed, DepartmentID: fx.department}},
		{"japanese2-common/operator/last-month", store.ChatFilter{Query: seed.CommonJapanese2, OperatorID: fx.operator, From: month}},
		{"english-rare/rating-5", store.ChatFilter{Query: seed.RareEnglish, Rating: 5}},
	} {
		list("search/"+tc.name, tc.f, "")
	}
	list("search/english-common/page20", store.ChatFilter{Query: seed.CommonEnglish},
		fx.deepCursor(b, st, store.ChatFilter{Query: seed.CommonEnglish}, 20))
}

// detail reads what GET /api/chats/{id} shows.
func detail(ctx context.Context, st store.Store, id string) error {
	ch, err := st.Chat(ctx, id)
	if err != nil {
		return err
	}
	if _, err := st.Messages(ctx, id, 0, store.MaxMessages); err != nil {
		return err
	}
	if ch.OperatorID != "" {
		if _, err := st.Operator(ctx, ch.OperatorID); err != nil {
			return err
		}
	}
	if _, err := st.Visitor(ctx, ch.VisitorID); err != nil {
		return err
	}
	if _, err := st.Transfers(ctx, id); err != nil {
		return err
	}
	if _, err := st.Notes(ctx, id); err != nil {
		return err
	}
	if _, err := st.VisitorChats(ctx, ch.VisitorID, id, store.MaxPreviousChats); err != nil {
		return err
	}
	_, err = st.Feedback(ctx, id)
	return err
}

// benchFixture is what the benchmarks ask for, found in the data set.
type benchFixture struct {
	chats, messages int
	department      string   // the busiest
	departments     []string // every department with chats
	operator        string   // the busiest
	visitorEmail    string
	orderNumber     string
	newest          time.Time
	sampleChats     []string // spread over the data set
}

func newBenchFixture(b *testing.B, raw *sql.DB) benchFixture {
	ctx := b.Context()
	var fx benchFixture
	var newest int64
	for _, q := range []struct {
		sql  string
		dest []any
	}{
		{`SELECT count(*), max(started_at) FROM chats`, []any{&fx.chats, &newest}},
		{`SELECT count(*) FROM messages`, []any{&fx.messages}},
		{`SELECT operator_id FROM chats WHERE operator_id <> '' GROUP BY 1 ORDER BY count(*) DESC LIMIT 1`, []any{&fx.operator}},
		{`SELECT v.email FROM visitors v JOIN chats c ON c.visitor_id = v.id ORDER BY c.started_at DESC OFFSET 1000 LIMIT 1`, []any{&fx.visitorEmail}},
		{`SELECT substring(body FROM '#[0-9]{6}') FROM messages WHERE body LIKE '%order #%' LIMIT 1`, []any{&fx.orderNumber}},
	} {
		if err := raw.QueryRowContext(ctx, q.sql).Scan(q.dest...); err != nil {
			b.Fatalf("%s: %v", q.sql, err)
		}
	}
	fx.newest = time.UnixMilli(newest).UTC()
	fx.departments = column(b, raw, `SELECT department_id FROM chats GROUP BY 1 ORDER BY count(*) DESC`)
	fx.department = fx.departments[0]
	for len(fx.departments) < 2 {
		fx.departments = append(fx.departments, fx.department)
	}
	// About 1000 chats drawn at random: spread in time and over the disk.
	fx.sampleChats = column(b, raw, fmt.Sprintf(`SELECT id FROM chats TABLESAMPLE BERNOULLI(%f) REPEATABLE (1) LIMIT 1000`,
		min(100, 150000/float64(fx.chats))))
	if len(fx.sampleChats) < 20 {
		b.Fatalf("only %d sample chats", len(fx.sampleChats))
	}
	return fx
}

func column(b *testing.B, raw *sql.DB, q string) []string {
	rows, err := raw.QueryContext(b.Context(), q)
	if err != nil {
		b.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			b.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return out
}

// deepCursor walks pages of 50 and returns the cursor of page n ("" when
// the list is shorter).
func (fx benchFixture) deepCursor(b *testing.B, st store.Store, f store.ChatFilter, n int) string {
	cursor := ""
	for range n - 1 {
		_, next, err := st.ListChats(b.Context(), f, store.Page{Limit: 50, Cursor: cursor})
		if err != nil {
			b.Fatal(err)
		}
		if next == "" {
			return cursor
		}
		cursor = next
	}
	return cursor
}

// measure runs op b.N times and reports the median and 99th percentile.
func measure(b *testing.B, op func(i int) error) {
	durs := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t := time.Now()
		if err := op(i); err != nil {
			b.Fatal(err)
		}
		durs = append(durs, time.Since(t))
	}
	b.StopTimer()
	slices.Sort(durs)
	pct := func(p float64) float64 {
		return float64(durs[min(len(durs)-1, int(float64(len(durs))*p))]) / 1e6
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

func envInt(b *testing.B, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive whole number", name, s)
	}
	return n
}
