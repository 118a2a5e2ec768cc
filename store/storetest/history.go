package storetest

import (
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store"
)

// listChats returns the ids of every chat matching f, walking pages of limit.
func listChats(t *testing.T, s store.Store, f store.ChatFilter, limit int) []string {
	t.Helper()
	rows := allPages(t, limit, func(p store.Page) ([]store.ChatRow, string, error) {
		return s.ListChats(t.Context(), f, p)
	})
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.ID
	}
	return out
}

// newestFirst returns the ids of chats in started_at, id order, newest first.
func newestFirst(chats ...switchboard.Chat) []string {
	old := oldestFirst(chats...)
	out := make([]string, len(old))
	for i, id := range old {
		out[len(old)-1-i] = id
	}
	return out
}

// historyFixture is one chat in each status, in two departments.
type historyFixture struct {
	sales, support                     switchboard.Department
	op                                 switchboard.Operator
	queued, ongoing, missed, completed switchboard.Chat
	supportChat                        switchboard.Chat
}

func newHistoryFixture(t *testing.T, s store.Store) historyFixture {
	ctx := t.Context()
	var f historyFixture
	f.sales = newDepartment(t, s, "Sales")
	f.support = newDepartment(t, s, "Support")
	f.op = newOperator(t, s, "olga@example.com", switchboard.RoleOperator)
	f.queued = newChat(t, s, f.sales, "")
	f.ongoing = newChat(t, s, f.sales, "")
	_, err := s.AssignChat(ctx, f.ongoing.ID, f.op.ID, time.Now())
	noErr(t, err, "AssignChat")
	f.missed = newChat(t, s, f.sales, "")
	_, err = s.MissChat(ctx, f.missed.ID, time.Now())
	noErr(t, err, "MissChat")
	f.completed = newChat(t, s, f.sales, "", func(nc *store.NewChat) {
		nc.Visitor.Name, nc.Visitor.Email = "Kenji 100%_Sato", "kenji@example.jp"
	})
	_, err = s.AssignChat(ctx, f.completed.ID, f.op.ID, time.Now())
	noErr(t, err, "AssignChat")
	_, err = s.EndChat(ctx, f.completed.ID, time.Now())
	noErr(t, err, "EndChat")
	noErr(t, s.SaveFeedback(ctx, switchboard.Feedback{ChatID: f.completed.ID, Rating: 4}), "SaveFeedback")
	f.supportChat = newChat(t, s, f.support, "", func(nc *store.NewChat) { nc.Visitor.Name = "Ann" })
	return f
}

var historyCases = []testCase{
	{"Categories", func(t *testing.T, s store.Store) {
		f := newHistoryFixture(t, s)
		for _, tc := range []struct {
			cat  switchboard.Category
			want []string
		}{
			{"", newestFirst(f.queued, f.ongoing, f.missed, f.completed, f.supportChat)},
			{switchboard.CategoryAll, newestFirst(f.queued, f.ongoing, f.missed, f.completed, f.supportChat)},
			{switchboard.CategoryOngoing, newestFirst(f.queued, f.ongoing, f.supportChat)},
			{switchboard.CategoryMissed, newestFirst(f.missed)},
			{switchboard.CategoryCompleted, newestFirst(f.completed)},
			{switchboard.CategoryReopened, []string{}}, // nothing reopens chats yet
			{switchboard.CategoryMonitored, []string{}},
		} {
			equal(t, listChats(t, s, store.ChatFilter{Category: tc.cat}, 2), tc.want, "category "+string(tc.cat))
		}
		got := listChats(t, s, store.ChatFilter{Category: switchboard.CategoryMonitored,
			ChatIDs: []string{f.missed.ID, f.ongoing.ID, "unknown"}}, 10)
		equal(t, got, newestFirst(f.missed, f.ongoing), "monitored with ids")
		_, _, err := s.ListChats(t.Context(), store.ChatFilter{Category: "bogus"}, store.Page{})
		wantInvalid(t, err, "category", "unknown category")
		_, _, err = s.ListChats(t.Context(), store.ChatFilter{Rating: 6}, store.Page{})
		wantInvalid(t, err, "rating", "rating 6")
		_, _, err = s.ListChats(t.Context(), store.ChatFilter{}, store.Page{Cursor: "garbage!"})
		wantInvalid(t, err, "cursor", "bad cursor")
	}},

	{"Row", func(t *testing.T, s store.Store) {
		f := newHistoryFixture(t, s)
		rows, next, err := s.ListChats(t.Context(), store.ChatFilter{Category: switchboard.CategoryCompleted}, store.Page{})
		noErr(t, err, "ListChats")
		equal(t, next, "", "next cursor")
		if len(rows) != 1 {
			t.Fatalf("rows = %+v; want the completed chat", rows)
		}
		c := chat(t, s, f.completed.ID)
		want := store.ChatRow{ID: c.ID, Status: switchboard.ChatCompleted, DepartmentID: f.sales.ID, DepartmentName: "Sales",
			VisitorID: c.VisitorID, VisitorName: "Kenji 100%_Sato", VisitorEmail: "kenji@example.jp",
			OperatorID: f.op.ID, OperatorName: f.op.Name, StartedAt: c.StartedAt, EndedAt: c.EndedAt, Rating: 4}
		equal(t, rows[0], want, "completed row")
		rows, _, err = s.ListChats(t.Context(), store.ChatFilter{Category: switchboard.CategoryMissed}, store.Page{})
		noErr(t, err, "ListChats")
		if len(rows) != 1 || rows[0].OperatorID != "" || rows[0].EndedAt != nil {
			t.Errorf("missed rows = %+v; want one without operator or ended_at", rows)
		}
	}},

	{"Filters", func(t *testing.T, s store.Store) {
		f := newHistoryFixture(t, s)
		for _, tc := range []struct {
			name string
			f    store.ChatFilter
			want []string
		}{
			{"department", store.ChatFilter{DepartmentID: f.support.ID}, []string{f.supportChat.ID}},
			{"departments", store.ChatFilter{DepartmentIDs: []string{f.support.ID}}, []string{f.supportChat.ID}},
			{"departments and department outside", store.ChatFilter{DepartmentIDs: []string{f.support.ID}, DepartmentID: f.sales.ID}, []string{}},
			{"operator", store.ChatFilter{OperatorID: f.op.ID}, newestFirst(f.ongoing, f.completed)},
			{"operator ongoing", store.ChatFilter{OperatorID: f.op.ID, Category: switchboard.CategoryOngoing}, []string{f.ongoing.ID}},
			{"rating", store.ChatFilter{Rating: 4}, []string{f.completed.ID}},
			{"rating 5", store.ChatFilter{Rating: 5}, []string{}},
			{"visitor name, any case", store.ChatFilter{Visitor: "kENJI"}, []string{f.completed.ID}},
			{"visitor email", store.ChatFilter{Visitor: "@EXAMPLE.jp"}, []string{f.completed.ID}},
			{"visitor percent literal", store.ChatFilter{Visitor: "100%_s"}, []string{f.completed.ID}},
			{"visitor percent alone", store.ChatFilter{Visitor: "%"}, []string{f.completed.ID}},
			{"visitor underscore alone", store.ChatFilter{Visitor: "_"}, []string{f.completed.ID}},
			{"visitor percent no match", store.ChatFilter{Visitor: "1%0"}, []string{}},
			{"visitor quote", store.ChatFilter{Visitor: "' OR 1=1 --"}, []string{}},
			{"visitor and department", store.ChatFilter{Visitor: "ann", DepartmentID: f.support.ID}, []string{f.supportChat.ID}},
			{"visitor and other department", store.ChatFilter{Visitor: "ann", DepartmentID: f.sales.ID}, []string{}},
			{"combined", store.ChatFilter{Category: switchboard.CategoryCompleted, DepartmentID: f.sales.ID,
				OperatorID: f.op.ID, Visitor: "kenji", Rating: 4, From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour)},
				[]string{f.completed.ID}},
		} {
			equal(t, listChats(t, s, tc.f, 3), tc.want, tc.name)
		}
	}},

	{"DateRange", func(t *testing.T, s store.Store) {
		d := newDepartment(t, s, "Sales")
		a := newChat(t, s, d, "")
		time.Sleep(5 * time.Millisecond)
		t1 := time.Now()
		time.Sleep(5 * time.Millisecond)
		b := newChat(t, s, d, "")
		time.Sleep(5 * time.Millisecond)
		t2 := time.Now()
		time.Sleep(5 * time.Millisecond)
		c := newChat(t, s, d, "")
		equal(t, listChats(t, s, store.ChatFilter{From: t1}, 10), newestFirst(b, c), "from")
		equal(t, listChats(t, s, store.ChatFilter{To: t1}, 10), []string{a.ID}, "to")
		equal(t, listChats(t, s, store.ChatFilter{From: t1, To: t2}, 10), []string{b.ID}, "from and to")
		equal(t, listChats(t, s, store.ChatFilter{From: t2, To: t1}, 10), []string{}, "to before from")
		bb := chat(t, s, b.ID)
		equal(t, listChats(t, s, store.ChatFilter{From: bb.StartedAt, To: bb.StartedAt.Add(time.Millisecond)}, 10),
			[]string{b.ID}, "from inclusive, to exclusive")
	}},

	{"PagesStableUnderInserts", func(t *testing.T, s store.Store) {
		d := newDepartment(t, s, "Sales")
		var chats []switchboard.Chat
		for range 7 {
			chats = append(chats, newChat(t, s, d, ""))
		}
		want := newestFirst(chats...)
		var got []string
		p := store.Page{Limit: 3}
		for i := 0; ; i++ {
			if i > 10 {
				t.Fatal("the cursor does not advance")
			}
			rows, next, err := s.ListChats(t.Context(), store.ChatFilter{}, p)
			noErr(t, err, "ListChats")
			for _, r := range rows {
				got = append(got, r.ID)
			}
			if next == "" {
				break
			}
			time.Sleep(2 * time.Millisecond) // started later than the listed ones, not in the same millisecond
			newChat(t, s, d, "")             // newer than everything listed: must not show up or shift the pages
			p.Cursor = next
		}
		equal(t, got, want, "pages with inserts between them")
		equal(t, len(listChats(t, s, store.ChatFilter{}, 4)), 9, "all chats afterwards")
	}},

	{"DeletedDepartmentName", func(t *testing.T, s store.Store) {
		newDepartment(t, s, "Sales") // the last department cannot be deleted
		d := newDepartment(t, s, "Old desk")
		c := newChat(t, s, d, "")
		admin := newOperator(t, s, "admin@example.com", switchboard.RoleAdmin)
		noErr(t, s.DeleteDepartment(t.Context(), d.ID, admin.ID), "DeleteDepartment")
		rows, _, err := s.ListChats(t.Context(), store.ChatFilter{DepartmentID: d.ID}, store.Page{})
		noErr(t, err, "ListChats")
		if len(rows) != 1 || rows[0].ID != c.ID || rows[0].DepartmentName != "Old desk" {
			t.Errorf("rows after deleting the department = %+v; want the chat with its department name", rows)
		}
	}},
}
