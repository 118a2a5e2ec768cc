package storetest

import (
	"strings"
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

	{"Participant", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		f := newHistoryFixture(t, s)
		// Olga hands her ongoing Sales chat to Tom in Support: both took
		// part in it, and Tom now answers it.
		tom := newOperator(t, s, "tom@example.com", switchboard.RoleOperator)
		_, _, err := s.TransferChat(ctx, f.ongoing.ID, f.op.ID, switchboard.Transfer{ToOperatorID: tom.ID, ToDepartmentID: f.support.ID})
		noErr(t, err, "TransferChat")
		ann := newOperator(t, s, "ann@example.com", switchboard.RoleOperator)
		for _, tc := range []struct {
			name string
			f    store.ChatFilter
			want []string
		}{
			{"olga alone", store.ChatFilter{Participant: f.op.ID}, newestFirst(f.ongoing, f.completed)},
			{"tom alone", store.ChatFilter{Participant: tom.ID}, []string{f.ongoing.ID}},
			{"ann alone", store.ChatFilter{Participant: ann.ID}, []string{}},
			{"tom or support", store.ChatFilter{Participant: tom.ID, DepartmentIDs: []string{f.support.ID}},
				newestFirst(f.ongoing, f.supportChat)},
			{"olga or support", store.ChatFilter{Participant: f.op.ID, DepartmentIDs: []string{f.support.ID}},
				newestFirst(f.ongoing, f.completed, f.supportChat)},
			{"olga or support, completed", store.ChatFilter{Participant: f.op.ID, DepartmentIDs: []string{f.support.ID},
				Category: switchboard.CategoryCompleted}, []string{f.completed.ID}},
		} {
			equal(t, listChats(t, s, tc.f, 2), tc.want, tc.name)
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

// searchFixture is historyFixture with messages in English and Japanese,
// SQL metacharacters, a system notice and a question.
type searchFixture struct {
	historyFixture
	question switchboard.Chat // in support, its question is its only message
}

func newSearchFixture(t *testing.T, s store.Store) searchFixture {
	f := searchFixture{historyFixture: newHistoryFixture(t, s)}
	op := func(ch switchboard.Chat, id, body string) store.NewMessage {
		return store.NewMessage{ChatID: ch.ID, ClientMsgID: id, FromKind: switchboard.FromOperator,
			FromID: f.op.ID, FromName: f.op.Name, Body: body}
	}
	appendOK(t, s, text(f.queued, "q1", "Do you ship to OSAKA? Thanks"))
	appendOK(t, s, text(f.ongoing, "o1", "東京タワーの予約をしたいです"))
	appendOK(t, s, op(f.ongoing, "o2", "かしこまりました。thanks!"))
	appendOK(t, s, op(f.ongoing, "o3", "Thanks again")) // a second match in the same chat
	appendOK(t, s, text(f.missed, "m1", `50% off_code! it's "quoted" \ back`))
	appendOK(t, s, op(f.completed, "c1", "Refund issued"))
	appendOK(t, s, store.NewMessage{ChatID: f.completed.ID, ClientMsgID: "c2", FromKind: switchboard.FromSystem,
		FromID: "ended", Body: "Olga ended the chat"})
	appendOK(t, s, text(f.supportChat, "s1", "Hello there, thanks"))
	f.question = newChat(t, s, f.support, "請求書について質問があります")
	return f
}

var searchCases = []testCase{
	{"Search", func(t *testing.T, s store.Store) {
		f := newSearchFixture(t, s)
		for _, tc := range []struct {
			name string
			f    store.ChatFilter
			want []string
		}{
			{"english word", store.ChatFilter{Query: "osaka"}, []string{f.queued.ID}},
			{"any ascii case", store.ChatFilter{Query: "oSaKa?"}, []string{f.queued.ID}},
			{"operator text", store.ChatFilter{Query: "REFUND"}, []string{f.completed.ID}},
			{"japanese 1 char", store.ChatFilter{Query: "東"}, []string{f.ongoing.ID}},
			{"japanese 2 chars", store.ChatFilter{Query: "予約"}, []string{f.ongoing.ID}},
			{"japanese 4 chars mid-sentence", store.ChatFilter{Query: "タワーの予"}, []string{f.ongoing.ID}},
			{"japanese operator text", store.ChatFilter{Query: "かしこまり"}, []string{f.ongoing.ID}},
			{"question", store.ChatFilter{Query: "請求書"}, []string{f.question.ID}},
			{"surrounding spaces ignored", store.ChatFilter{Query: "  予約 "}, []string{f.ongoing.ID}},
			{"blank does not filter", store.ChatFilter{Query: "   "},
				newestFirst(f.queued, f.ongoing, f.missed, f.completed, f.supportChat, f.question)},
			{"several chats, each once", store.ChatFilter{Query: "thanks"}, newestFirst(f.queued, f.ongoing, f.supportChat)},
			{"system notices not searched", store.ChatFilter{Query: "ended the chat"}, []string{}},
			{"no match", store.ChatFilter{Query: "zebra"}, []string{}},
			{"percent literal", store.ChatFilter{Query: "50%"}, []string{f.missed.ID}},
			{"percent alone", store.ChatFilter{Query: "%"}, []string{f.missed.ID}},
			{"percent no wildcard", store.ChatFilter{Query: "5%f"}, []string{}},
			{"underscore literal", store.ChatFilter{Query: "f_c"}, []string{f.missed.ID}},
			{"underscore no wildcard", store.ChatFilter{Query: "f_x"}, []string{}},
			{"underscore alone", store.ChatFilter{Query: "_"}, []string{f.missed.ID}},
			{"escape char", store.ChatFilter{Query: "code!"}, []string{f.missed.ID}},
			{"quote", store.ChatFilter{Query: "it's"}, []string{f.missed.ID}},
			{"double quotes", store.ChatFilter{Query: `"quoted"`}, []string{f.missed.ID}},
			{"backslash", store.ChatFilter{Query: `\ back`}, []string{f.missed.ID}},
			{"injection", store.ChatFilter{Query: "' OR 1=1 --"}, []string{}},
			{"injection 2", store.ChatFilter{Query: "%' OR '1'='1"}, []string{}},
			{"and category", store.ChatFilter{Query: "thanks", Category: switchboard.CategoryOngoing},
				newestFirst(f.queued, f.ongoing, f.supportChat)},
			{"and other category", store.ChatFilter{Query: "refund", Category: switchboard.CategoryMissed}, []string{}},
			{"and completed, rating, department, operator, visitor, dates", store.ChatFilter{Query: "refund",
				Category: switchboard.CategoryCompleted, Rating: 4, DepartmentID: f.sales.ID, OperatorID: f.op.ID,
				Visitor: "kenji", From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour)}, []string{f.completed.ID}},
			{"and department", store.ChatFilter{Query: "thanks", DepartmentID: f.support.ID}, []string{f.supportChat.ID}},
			{"and departments", store.ChatFilter{Query: "thanks", DepartmentIDs: []string{f.sales.ID}}, newestFirst(f.queued, f.ongoing)},
			{"and operator", store.ChatFilter{Query: "thanks", OperatorID: f.op.ID}, []string{f.ongoing.ID}},
			{"and visitor", store.ChatFilter{Query: "thanks", Visitor: "ann"}, []string{f.supportChat.ID}},
			{"and rating", store.ChatFilter{Query: "thanks", Rating: 4}, []string{}},
			{"and dates", store.ChatFilter{Query: "thanks", To: time.Now().Add(-time.Hour)}, []string{}},
			{"and monitored", store.ChatFilter{Query: "thanks", Category: switchboard.CategoryMonitored,
				ChatIDs: []string{f.ongoing.ID, f.missed.ID}}, []string{f.ongoing.ID}},
		} {
			equal(t, listChats(t, s, tc.f, 1), tc.want, tc.name)
			equal(t, listChats(t, s, tc.f, 50), tc.want, tc.name+" (one page)")
		}

		// Reopened, and a chat moves between categories under the same q.
		_, err := s.ReopenChat(t.Context(), f.completed.ID, "", time.Now())
		noErr(t, err, "ReopenChat")
		equal(t, listChats(t, s, store.ChatFilter{Query: "refund", Category: switchboard.CategoryReopened}, 1),
			[]string{f.completed.ID}, "reopened")
		equal(t, listChats(t, s, store.ChatFilter{Query: "refund", Category: switchboard.CategoryOngoing}, 1),
			[]string{f.completed.ID}, "reopened, now ongoing")
		equal(t, listChats(t, s, store.ChatFilter{Query: "refund", Category: switchboard.CategoryCompleted}, 1),
			[]string{}, "reopened, no longer completed")
	}},

	{"SearchBadQuery", func(t *testing.T, s store.Store) {
		newSearchFixture(t, s)
		long := strings.Repeat("予", store.MaxQueryRunes)
		rows, _, err := s.ListChats(t.Context(), store.ChatFilter{Query: long}, store.Page{})
		noErr(t, err, "ListChats with the longest q")
		equal(t, len(rows), 0, "rows of the longest q")
		for _, tc := range []struct{ name, q string }{
			{"too long", long + "x"},
			{"invalid UTF-8", "caf\xe9"},
			{"NUL", "a\x00b"},
		} {
			_, _, err := s.ListChats(t.Context(), store.ChatFilter{Query: tc.q}, store.Page{})
			wantInvalid(t, err, "q", tc.name)
		}
	}},
}
