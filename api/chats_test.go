package api_test

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store"
)

type chatRowOut struct {
	ID         string `json:"id"`
	Status     string `json:"status"`
	Department struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"department"`
	Visitor struct {
		ID    string `json:"id"`
		Name  string `json:"name"`
		Email string `json:"email"`
	} `json:"visitor"`
	Operator *struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"operator"`
	StartedAt string  `json:"started_at"`
	EndedAt   *string `json:"ended_at"`
	Reopened  bool    `json:"reopened"`
	Rating    int     `json:"rating"`
}

type chatListOut struct {
	Items      []chatRowOut `json:"items"`
	NextCursor *string      `json:"next_cursor"`
}

// chatIDs lists every page of path (which has a query) as c and returns the ids.
func (c client) chatIDs(path string) []string {
	c.e.t.Helper()
	var ids []string
	cursor := ""
	for range 100 {
		var out chatListOut
		p := path
		if cursor != "" {
			p += "&cursor=" + url.QueryEscape(cursor)
		}
		c.do("GET", p, nil, 200, &out)
		for _, r := range out.Items {
			ids = append(ids, r.ID)
		}
		if out.NextCursor == nil {
			return ids
		}
		cursor = *out.NextCursor
	}
	c.e.t.Fatal("the cursor does not advance")
	return nil
}

func (e *env) newChat(d switchboard.Department, name, email string) switchboard.Chat {
	e.t.Helper()
	ch, err := e.st.CreateChat(e.t.Context(), store.NewChat{DepartmentID: d.ID,
		Visitor: switchboard.Visitor{ID: switchboard.NewID(), Name: name, Email: email}})
	if err != nil {
		e.t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond) // distinct started_at, so newest-first order is known
	return ch
}

func TestListChats(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		ctx := t.Context()
		var other switchboard.Department
		e.admin.do("POST", "/api/departments", map[string]any{"name": "Support", "visibility": "public", "enabled": true}, 201, &other)
		op, opc := e.newOperator("Olga", switchboard.RoleOperator)
		_, supc := e.newOperator("Sam Super", switchboard.RoleSupervisor)
		e.admin.do("PUT", "/api/departments/"+e.dept.ID+"/operators/"+op.ID, nil, 204, nil)

		queued := e.newChat(e.dept, "Vera", "vera@example.com")
		missed := e.newChat(e.dept, "Mia", "mia@example.com")
		if _, err := st.MissChat(ctx, missed.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
		done := e.newChat(e.dept, "Kenji 50%", "kenji@example.jp")
		if _, err := st.AssignChat(ctx, done.ID, op.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := st.EndChat(ctx, done.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
		if err := st.SaveFeedback(ctx, switchboard.Feedback{ChatID: done.ID, Rating: 5}); err != nil {
			t.Fatal(err)
		}
		elsewhere := e.newChat(other, "Ann", "ann@example.com")

		all := []string{elsewhere.ID, done.ID, missed.ID, queued.ID}
		for _, tc := range []struct {
			c     client
			query string
			want  []string
		}{
			{e.admin, "", all},
			{e.admin, "category=all&limit=1", all},
			{supc, "limit=3", all},
			{e.admin, "category=ongoing", []string{elsewhere.ID, queued.ID}},
			{e.admin, "category=missed", []string{missed.ID}},
			{e.admin, "category=completed", []string{done.ID}},
			{e.admin, "category=reopened", nil},
			{e.admin, "category=monitored", nil}, // no Monitored in this Config: none
			{e.admin, "department_id=" + other.ID, []string{elsewhere.ID}},
			{e.admin, "operator_id=" + op.ID, []string{done.ID}},
			{e.admin, "visitor=" + url.QueryEscape("50%"), []string{done.ID}},
			{e.admin, "visitor=" + url.QueryEscape("%"), []string{done.ID}},
			{e.admin, "visitor=EXAMPLE.JP", []string{done.ID}},
			{e.admin, "rating=5", []string{done.ID}},
			{e.admin, "from=2000-01-01&to=2999-12-31", all},
			{e.admin, "to=2000-01-01", nil},
			{e.admin, "from=" + url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339)), nil},
			{opc, "limit=1", []string{done.ID, missed.ID, queued.ID}}, // own departments only
			{opc, "department_id=" + e.dept.ID + "&category=missed", []string{missed.ID}},
		} {
			got := tc.c.chatIDs("/api/chats?" + tc.query)
			if !slices.Equal(got, tc.want) {
				t.Errorf("GET /api/chats?%s = %v, want %v", tc.query, got, tc.want)
			}
		}

		var out chatListOut
		e.admin.do("GET", "/api/chats?category=completed", nil, 200, &out)
		r := out.Items[0]
		if r.Department.ID != e.dept.ID || r.Department.Name != e.dept.Name || r.Visitor.Name != "Kenji 50%" ||
			r.Visitor.Email != "kenji@example.jp" || r.Operator == nil || r.Operator.ID != op.ID || r.Operator.Name != "Olga" ||
			r.Status != "completed" || r.Rating != 5 || r.EndedAt == nil || r.Reopened {
			t.Errorf("completed row = %+v", r)
		}
		if _, err := time.Parse(switchboard.TimeFormat, r.StartedAt); err != nil || len(r.StartedAt) != len("2006-01-02T15:04:05.000Z") {
			t.Errorf("started_at = %q: not in the wire format", r.StartedAt)
		}
		e.admin.do("GET", "/api/chats?category=missed", nil, 200, &out)
		if r := out.Items[0]; r.Operator != nil || r.EndedAt != nil {
			t.Errorf("missed row = %+v; want operator and ended_at null", r)
		}

		// An operator asking for another department's chats is refused.
		opc.fails("GET", "/api/chats?department_id="+other.ID, nil, 403, "forbidden", "department_id")
		// An operator without departments sees nothing.
		_, lonely := e.newOperator("Lonely", switchboard.RoleOperator)
		if got := lonely.chatIDs("/api/chats?category=all"); len(got) != 0 {
			t.Errorf("operator without departments sees %v", got)
		}
		e.anon().fails("GET", "/api/chats", nil, 401, "unauthorized", "")
	})
}

func TestListChatsBadQuery(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		for _, tc := range []struct{ query, field string }{
			{"category=bogus", "category"},
			{"category=" + url.QueryEscape("all' OR 1=1"), "category"},
			{"from=yesterday", "from"},
			{"from=2026-13-01", "from"},
			{"to=2026-02-30", "to"},
			{"from=2026-02-01&to=2026-01-01", "to"},
			{"rating=0", "rating"},
			{"rating=6", "rating"},
			{"rating=five", "rating"},
			{"limit=0", "limit"},
			{"limit=100000", "limit"},
			{"limit=x", "limit"},
			{"cursor=not-a-cursor", "cursor"},
			{"q=" + strings.Repeat("x", store.MaxQueryRunes+1), "q"},
			{"q=" + url.QueryEscape(strings.Repeat("検", store.MaxQueryRunes+1)), "q"},
			{"q=%FF%FE", "q"},
			{"q=a%00b", "q"},
			{"q=" + strings.Repeat("x", store.MaxQueryRunes+1) + "&category=completed&rating=5", "q"},
		} {
			e.admin.fails("GET", "/api/chats?"+tc.query, nil, 400, "bad_request", tc.field)
		}
	})
}

func TestListChatsSearch(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		ctx := t.Context()
		op, opc := e.newOperator("Olga", switchboard.RoleOperator)
		e.admin.do("PUT", "/api/departments/"+e.dept.ID+"/operators/"+op.ID, nil, 204, nil)
		var other switchboard.Department
		e.admin.do("POST", "/api/departments", map[string]any{"name": "Support", "visibility": "public", "enabled": true}, 201, &other)
		say := func(ch switchboard.Chat, id string, kind switchboard.SenderKind, body string) {
			if _, _, err := st.AppendMessage(ctx, store.NewMessage{ChatID: ch.ID, ClientMsgID: id, FromKind: kind,
				FromID: ch.VisitorID, Body: body}); err != nil {
				t.Fatal(err)
			}
		}
		en := e.newChat(e.dept, "Vera", "vera@example.com")
		say(en, "1", switchboard.FromVisitor, `Where is my ORDER? 100% paid, ref a_b "x" \ it's`)
		ja := e.newChat(e.dept, "Kenji", "kenji@example.jp")
		say(ja, "1", switchboard.FromVisitor, "注文した商品がまだ届きません")
		say(ja, "2", switchboard.FromSystem, "order joined") // notices are not searched
		if _, err := st.MissChat(ctx, ja.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
		elsewhere := e.newChat(other, "Ann", "ann@example.com")
		say(elsewhere, "1", switchboard.FromVisitor, "my order and 注文")

		for _, tc := range []struct {
			c     client
			query string
			want  []string
		}{
			{e.admin, "q=order", []string{elsewhere.ID, en.ID}},
			{e.admin, "q=ORDER&limit=1", []string{elsewhere.ID, en.ID}},
			{e.admin, "q=" + url.QueryEscape("注文"), []string{elsewhere.ID, ja.ID}},
			{e.admin, "q=" + url.QueryEscape("届きません"), []string{ja.ID}},
			{e.admin, "q=" + url.QueryEscape("注文") + "&category=missed", []string{ja.ID}},
			{e.admin, "q=" + url.QueryEscape("注文") + "&department_id=" + other.ID, []string{elsewhere.ID}},
			{e.admin, "q=order&visitor=vera&category=ongoing&from=2000-01-01", []string{en.ID}},
			{e.admin, "q=joined", nil},
			{e.admin, "q=" + url.QueryEscape("100%"), []string{en.ID}},
			{e.admin, "q=" + url.QueryEscape("%"), []string{en.ID}},
			{e.admin, "q=" + url.QueryEscape("1%0"), nil},
			{e.admin, "q=" + url.QueryEscape("a_b"), []string{en.ID}},
			{e.admin, "q=" + url.QueryEscape("_"), []string{en.ID}},
			{e.admin, "q=" + url.QueryEscape("a_c"), nil},
			{e.admin, "q=" + url.QueryEscape(`"x" \`), []string{en.ID}},
			{e.admin, "q=" + url.QueryEscape("it's"), []string{en.ID}},
			{e.admin, "q=" + url.QueryEscape("'; DROP TABLE messages; --"), nil},
			{e.admin, "q=" + url.QueryEscape("' OR '1'='1"), nil},
			{e.admin, "q=" + url.QueryEscape("!"), nil},
			{e.admin, "q=+++", []string{elsewhere.ID, ja.ID, en.ID}}, // blank: no filter
			{opc, "q=" + url.QueryEscape("注文"), []string{ja.ID}},     // own departments only
		} {
			got := tc.c.chatIDs("/api/chats?" + tc.query)
			if !slices.Equal(got, tc.want) {
				t.Errorf("GET /api/chats?%s = %v, want %v", tc.query, got, tc.want)
			}
		}
		// The injection attempt above left the messages where they were.
		if got := e.admin.chatIDs("/api/chats?q=order"); len(got) != 2 {
			t.Errorf("after the injection attempts q=order = %v", got)
		}
		// An operator without departments gets the same 400 as anyone.
		_, lonely := e.newOperator("Lonely", switchboard.RoleOperator)
		lonely.fails("GET", "/api/chats?q="+strings.Repeat("x", store.MaxQueryRunes+1), nil, 400, "bad_request", "q")
	})
}
