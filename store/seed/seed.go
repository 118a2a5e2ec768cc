// Package seed fills a store with a large, realistic chat history for
// benchmarks: departments and operators through the Store API, then
// visitors, chats, messages, feedback, notes and transfers written in bulk
// (COPY on PostgreSQL, multi-row INSERTs in big transactions on SQLite).
//
// The bulk part writes SQL directly, for speed: it mirrors the schema of
// store/sqlite/migrations and store/postgres/migrations (column names,
// Unix-millisecond times, the question as message 1 with client_msg_id
// "question", system notices with from_id "joined"/"ended") and must be kept
// in step with them; seed_test.go proves that what it writes reads back
// through the Store API on both backends.
//
// The data: chats spread evenly over the year before Config.End, newest
// last; about 10 % missed, the newest 0.1 % queued or ongoing, the rest
// completed; 3 % of ended chats reopened; 40 % of completed chats rated
// (mostly 4–5); some notes and transfers; visitors with a few chats each
// (so "previous chats" is not empty), 40 % Japanese and 60 % English, each
// chat in its visitor's language. Texts come from templates with order
// numbers, places and products, plus rare terms (RareEnglish, …) in about
// one message in RareEvery, for search benchmarks.
package seed

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/auth"
	"github.com/switchboard-chat/switchboard/store"
)

// Config says how much to seed.
type Config struct {
	Chats       int // required, at least 1
	Messages    int // per chat, at least 1 (default 20)
	Departments int // default 5
	Operators   int // default 20, at least Departments
	// Seed makes the run repeatable (default 1); the ids are random anyway.
	Seed uint64
	// End is when the year of chats ends (default now).
	End time.Time
	// Sample is how many generated chats (spread over the run) Result keeps.
	Sample int
	// Batch is how many chats are written at a time (default 5000).
	Batch int
	Log   *slog.Logger // nil: discard
}

func (c *Config) defaults() error {
	c.Messages = cmp.Or(c.Messages, 20)
	c.Departments = cmp.Or(c.Departments, 5)
	c.Operators = cmp.Or(c.Operators, max(20, c.Departments))
	c.Seed = cmp.Or(c.Seed, 1)
	c.Batch = cmp.Or(c.Batch, 5000)
	if c.End.IsZero() {
		c.End = switchboard.Now()
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	switch {
	case c.Chats < 1:
		return errors.New("seed: chats must be at least 1")
	case c.Messages < 1:
		return errors.New("seed: messages must be at least 1")
	case c.Departments < 1 || c.Operators < c.Departments:
		return errors.New("seed: departments must be at least 1, operators at least departments")
	case c.Batch < 1:
		return errors.New("seed: batch must be at least 1")
	}
	return nil
}

// Result is what was seeded.
type Result struct {
	Departments []switchboard.Department
	Operators   []switchboard.Operator
	Visitors    int
	Chats       int
	Messages    int
	ByStatus    map[switchboard.ChatStatus]int
	Reopened    int
	Rated       int
	Sample      []Chat
	Elapsed     time.Duration
}

// sink writes rows of a table in bulk.
type sink interface {
	write(ctx context.Context, table string, cols []string, rows [][]any) error
}

var (
	visitorCols  = []string{"id", "name", "email", "ip", "user_agent", "page_url", "locale", "created_at", "last_seen_at"}
	chatCols     = []string{"id", "department_id", "department_name", "visitor_id", "operator_id", "status", "question", "page_url", "visitor_ip", "locale", "reopened", "reopened_at", "started_at", "answered_at", "ended_at", "last_seq", "rating"}
	messageCols  = []string{"chat_id", "seq", "client_msg_id", "from_kind", "from_id", "from_name", "body", "at"}
	feedbackCols = []string{"chat_id", "rating", "comment", "created_at"}
	noteCols     = []string{"id", "chat_id", "operator_id", "body", "created_at"}
	transferCols = []string{"id", "chat_id", "at", "from_department_id", "to_department_id", "from_operator_id", "to_operator_id", "note"}
)

// prepare creates the departments and operators through the store and
// returns a generator over them.
func prepare(ctx context.Context, st store.Store, cfg Config) (*generator, Result, error) {
	res := Result{ByStatus: map[switchboard.ChatStatus]int{}}
	g := &generator{r: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5eed)), cfg: cfg}
	hash, err := auth.HashPassword(auth.GeneratePassword()) // nobody logs in as them
	if err != nil {
		return nil, res, err
	}
	run := switchboard.NewID()[:6] // names are unique: a second seed of the same store gets its own
	for i := range cfg.Departments {
		d := switchboard.Department{Name: fmt.Sprintf("Bench %s %d", run, i+1), Visibility: switchboard.Public, Enabled: true}
		if err := st.CreateDepartment(ctx, &d); err != nil {
			return nil, res, fmt.Errorf("seed: create department: %w", err)
		}
		res.Departments = append(res.Departments, d)
	}
	g.depts = res.Departments
	g.deptOps = make([][]switchboard.Operator, len(g.depts))
	for i := range cfg.Operators {
		o := switchboard.Operator{Name: fmt.Sprintf("Operator %d", i+1), Email: fmt.Sprintf("op%d.%s@bench.example.com", i+1, run),
			Role: switchboard.RoleOperator, Enabled: true, PasswordHash: hash}
		if err := st.CreateOperator(ctx, &o); err != nil {
			return nil, res, fmt.Errorf("seed: create operator: %w", err)
		}
		// Every department gets operators; some operators serve two.
		ds := []int{i % len(g.depts)}
		if i%3 == 0 && len(g.depts) > 1 {
			ds = append(ds, (i+1)%len(g.depts))
		}
		for _, di := range ds {
			if err := st.AddDepartmentOperator(ctx, g.depts[di].ID, o.ID); err != nil {
				return nil, res, fmt.Errorf("seed: add operator to department: %w", err)
			}
			g.deptOps[di] = append(g.deptOps[di], o)
		}
		res.Operators = append(res.Operators, o)
	}
	year := 365 * 24 * time.Hour
	g.start = cfg.End.Add(-year)
	g.step = year / time.Duration(cfg.Chats)
	return g, res, nil
}

func msOf(t time.Time) int64 { return t.UnixMilli() }

func nullMS(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMilli()
}

// load generates and writes everything after prepare.
func load(ctx context.Context, g *generator, cfg Config, s sink, res *Result) error {
	start := time.Now()
	nv := max(cfg.Chats/3, 1)
	for i := 0; i < nv; i += cfg.Batch {
		var rows [][]any
		for j := i; j < min(i+cfg.Batch, nv); j++ {
			v := g.newVisitor(j)
			g.visitors = append(g.visitors, v)
			rows = append(rows, []any{v.ID, v.Name, v.Email, v.IP, "Mozilla/5.0 (bench)", "https://shop.example.com/",
				v.Locale, msOf(g.start), msOf(cfg.End)})
		}
		if err := s.write(ctx, "visitors", visitorCols, rows); err != nil {
			return err
		}
	}
	res.Visitors = nv
	every := max(cfg.Chats/max(cfg.Sample, 1), 1)
	lastLog, rowsDone := time.Now(), 0
	for i := 0; i < cfg.Chats; i += cfg.Batch {
		var chats, msgs, fbs, notes, transfers [][]any
		for j := i; j < min(i+cfg.Batch, cfg.Chats); j++ {
			c := g.chat(j)
			chats = append(chats, []any{c.ID, c.DepartmentID, c.DepartmentName, c.VisitorID, c.OperatorID, string(c.Status),
				c.Question, c.PageURL, c.VisitorIP, c.Locale, c.Reopened, nullMS(c.ReopenedAt), msOf(c.StartedAt),
				nullMS(c.AnsweredAt), nullMS(c.EndedAt), c.LastSeq, c.Rating})
			for _, m := range c.Messages {
				msgs = append(msgs, []any{m.ChatID, m.Seq, m.ClientMsgID, string(m.FromKind), m.FromID, m.FromName, m.Body, msOf(m.At)})
			}
			if f := c.Feedback; f != nil {
				fbs = append(fbs, []any{f.ChatID, f.Rating, f.Comment, msOf(f.CreatedAt)})
				res.Rated++
			}
			for _, n := range c.Notes {
				notes = append(notes, []any{n.ID, n.ChatID, n.OperatorID, n.Body, msOf(n.CreatedAt)})
			}
			if t := c.Transfer; t != nil {
				transfers = append(transfers, []any{t.ID, t.ChatID, msOf(t.At), t.FromDepartmentID, t.ToDepartmentID,
					t.FromOperatorID, t.ToOperatorID, t.Note})
			}
			res.ByStatus[c.Status]++
			if c.Reopened {
				res.Reopened++
			}
			if cfg.Sample > 0 && j%every == 0 && len(res.Sample) < cfg.Sample {
				res.Sample = append(res.Sample, c)
			}
		}
		for _, t := range []struct {
			name string
			cols []string
			rows [][]any
		}{{"chats", chatCols, chats}, {"messages", messageCols, msgs}, {"feedback", feedbackCols, fbs},
			{"notes", noteCols, notes}, {"transfers", transferCols, transfers}} {
			if len(t.rows) == 0 {
				continue
			}
			if err := s.write(ctx, t.name, t.cols, t.rows); err != nil {
				return fmt.Errorf("seed: write %s: %w", t.name, err)
			}
			rowsDone += len(t.rows)
		}
		res.Chats += len(chats)
		res.Messages += len(msgs)
		if time.Since(lastLog) >= 2*time.Second || res.Chats == cfg.Chats {
			lastLog = time.Now()
			el := time.Since(start)
			eta := time.Duration(float64(el) / float64(res.Chats) * float64(cfg.Chats-res.Chats))
			cfg.Log.Info("seed: writing", "chats", res.Chats, "of", cfg.Chats, "messages", res.Messages,
				"rows_per_s", int(float64(rowsDone)/el.Seconds()), "eta", eta.Round(time.Second).String())
		}
	}
	return nil
}
