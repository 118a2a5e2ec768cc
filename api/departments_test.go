package api_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store"
)

type deptJSON struct {
	ID             string                    `json:"id"`
	Name           string                    `json:"name"`
	Description    string                    `json:"description"`
	Visibility     string                    `json:"visibility"`
	Enabled        bool                      `json:"enabled"`
	Routing        string                    `json:"routing"`
	WidgetKey      *string                   `json:"widget_key"`
	AllowedOrigins []string                  `json:"allowed_origins"`
	OperatorIDs    []string                  `json:"operator_ids"`
	RingTimeoutS   int                       `json:"ring_timeout_s"`
	WaitTimeoutS   int                       `json:"wait_timeout_s"`
	Email          switchboard.EmailSettings `json:"email"`
	CreatedAt      string                    `json:"created_at"`
	UpdatedAt      string                    `json:"updated_at"`
}

type deptList struct {
	Items      []deptJSON `json:"items"`
	NextCursor *string    `json:"next_cursor"`
}

// TestDepartmentStory is the "done when": the first admin logs in,
// lists the default department, creates a private department, adds an
// operator, sets email settings from comma-separated strings, disables and
// deletes it.
func TestDepartmentStory(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		var list deptList
		e.admin.do("GET", "/api/departments", nil, 200, &list)
		if len(list.Items) != 1 || list.Items[0].Name != "Acme" || list.Items[0].Visibility != "public" || !list.Items[0].Enabled || list.NextCursor != nil {
			t.Fatalf("default departments = %+v", list)
		}
		if list.Items[0].WidgetKey == nil || *list.Items[0].WidgetKey == "" {
			t.Fatal("default department has no widget key")
		}

		var d deptJSON
		e.admin.do("POST", "/api/departments", map[string]any{
			"name": "  Escalations ", "description": "Second line", "visibility": "private",
		}, 201, &d)
		if d.Name != "Escalations" || d.Visibility != "private" || d.WidgetKey != nil || d.Routing != "auto" || d.RingTimeoutS != 30 || d.WaitTimeoutS != 120 {
			t.Fatalf("created = %+v", d)
		}
		if !strings.HasSuffix(d.CreatedAt, "Z") || len(d.CreatedAt) != len("2026-11-24T09:15:02.123Z") {
			t.Fatalf("created_at %q is not RFC 3339 with milliseconds in UTC", d.CreatedAt)
		}
		e.admin.fails("GET", "/api/departments/"+d.ID+"/embed", nil, 409, "conflict", "visibility")

		op, _ := e.newOperator("Dana Ops", switchboard.RoleOperator)
		e.admin.do("PUT", "/api/departments/"+d.ID+"/operators/"+op.ID, nil, 204, nil)
		e.admin.do("PUT", "/api/departments/"+d.ID+"/operators/"+op.ID, nil, 204, nil) // idempotent
		e.admin.do("GET", "/api/departments/"+d.ID, nil, 200, &d)
		if !slices.Equal(d.OperatorIDs, []string{op.ID}) {
			t.Fatalf("operator_ids = %v, want [%s]", d.OperatorIDs, op.ID)
		}
		var opView struct {
			DepartmentIDs []string `json:"department_ids"`
		}
		e.admin.do("GET", "/api/operators/"+op.ID, nil, 200, &opView)
		if !slices.Contains(opView.DepartmentIDs, d.ID) {
			t.Fatalf("operator's department_ids = %v, want %s among them", opView.DepartmentIDs, d.ID)
		}

		e.admin.do("PATCH", "/api/departments/"+d.ID, map[string]any{"email": map[string]any{
			"from_address": "support@example.com",
			"transcript":   map[string]any{"enabled": true, "to": " a@example.com, b@example.com ,"},
			"missed":       map[string]any{"enabled": true, "to": "lead@example.com"},
			"cc":           map[string]any{"enabled": true, "to": []string{"archive@example.com"}},
			"feedback":     map[string]any{"enabled": false, "to": ""},
		}}, 200, &d)
		if got := d.Email.Transcript.To; !slices.Equal(got, []string{"a@example.com", "b@example.com"}) {
			t.Fatalf("transcript.to = %q", got)
		}
		if d.Email.FromAddress != "support@example.com" || !d.Email.Missed.Enabled || d.Email.Feedback.To == nil || len(d.Email.Feedback.To) != 0 {
			t.Fatalf("email = %+v", d.Email)
		}

		// Switching one setting off keeps its addresses and everything else.
		e.admin.do("PATCH", "/api/departments/"+d.ID, map[string]any{"email": map[string]any{"transcript": map[string]any{"enabled": false}}}, 200, &d)
		if d.Email.Transcript.Enabled || !slices.Equal(d.Email.Transcript.To, []string{"a@example.com", "b@example.com"}) ||
			d.Email.FromAddress != "support@example.com" || !slices.Equal(d.Email.CC.To, []string{"archive@example.com"}) || d.Description != "Second line" {
			t.Fatalf("after switching transcript off: %+v", d)
		}

		e.admin.do("PATCH", "/api/departments/"+d.ID, map[string]any{"enabled": false}, 200, &d)
		if d.Enabled {
			t.Fatal("department still enabled")
		}
		e.admin.fails("DELETE", "/api/departments/"+d.ID, nil, 400, "bad_request", "confirm")
		e.admin.do("DELETE", "/api/departments/"+d.ID+"?confirm=true", nil, 204, nil)
		e.admin.fails("GET", "/api/departments/"+d.ID, nil, 404, "not_found", "")
		e.admin.do("GET", "/api/departments", nil, 200, &list)
		if len(list.Items) != 1 {
			t.Fatalf("after delete: %d departments, want 1", len(list.Items))
		}
		// The only department left cannot be deleted.
		e.admin.fails("DELETE", "/api/departments/"+list.Items[0].ID+"?confirm=true", nil, 409, "conflict", "")
		// A deleted department's name is free again.
		e.admin.do("POST", "/api/departments", map[string]any{"name": "Escalations", "visibility": "private"}, 201, nil)
	})
}

func TestDepartmentPublicWidgetAndEmbed(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		var pub, priv deptJSON
		e.admin.do("POST", "/api/departments", map[string]any{"name": "Sales", "visibility": "public", "allowed_origins": "https://shop.example.com, http://localhost:3000"}, 201, &pub)
		if pub.WidgetKey == nil || !slices.Equal(pub.AllowedOrigins, []string{"https://shop.example.com", "http://localhost:3000"}) {
			t.Fatalf("public department = %+v", pub)
		}
		key := *pub.WidgetKey
		var embed struct {
			WidgetKey string `json:"widget_key"`
			Snippet   string
		}
		e.admin.do("GET", "/api/departments/"+pub.ID+"/embed", nil, 200, &embed)
		if embed.WidgetKey != key || !strings.Contains(embed.Snippet, e.srv.URL+"/widget/"+key+".js") || !strings.Contains(embed.Snippet, "<script") {
			t.Fatalf("embed = %+v", embed)
		}

		var w struct {
			Department struct{ ID, Name string }
			Online     bool
			Locale     string
			Prechat    switchboard.PrechatSettings
		}
		e.anon().do("GET", "/api/public/widgets/"+key, nil, 200, &w)
		if w.Department.ID != pub.ID || w.Department.Name != "Sales" || w.Online || w.Locale == "" || w.Prechat != switchboard.DefaultPrechat {
			t.Fatalf("public widget = %+v", w)
		}
		// The pre-chat form is a department setting; PATCH changes one field
		// and keeps the others, and a bad value names its field.
		e.admin.do("PATCH", "/api/departments/"+pub.ID, map[string]any{"prechat": map[string]any{"email": "required"}}, 200, nil)
		e.admin.fails("PATCH", "/api/departments/"+pub.ID, map[string]any{"prechat": map[string]any{"name": "sometimes"}}, 422, "bad_request", "prechat.name")
		e.anon().do("GET", "/api/public/widgets/"+key, nil, 200, &w)
		if want := (switchboard.PrechatSettings{Name: "optional", Email: "required", Question: "required"}); w.Prechat != want {
			t.Fatalf("public widget prechat after PATCH = %+v, want %+v", w.Prechat, want)
		}

		// Private, disabled and unknown all look the same to visitors.
		unknownResp, unknownBody := e.anon().raw("GET", "/api/public/widgets/nosuchkey", nil, nil)
		e.admin.do("PATCH", "/api/departments/"+pub.ID, map[string]any{"enabled": false}, 200, nil)
		disResp, disBody := e.anon().raw("GET", "/api/public/widgets/"+key, nil, nil)
		e.admin.do("PATCH", "/api/departments/"+pub.ID, map[string]any{"enabled": true, "visibility": "private"}, 200, &priv)
		privResp, privBody := e.anon().raw("GET", "/api/public/widgets/"+key, nil, nil)
		for _, r := range []struct {
			name string
			code int
			body []byte
		}{{"disabled", disResp.StatusCode, disBody}, {"private", privResp.StatusCode, privBody}} {
			if r.code != 404 || string(r.body) != string(unknownBody) || unknownResp.StatusCode != 404 {
				t.Errorf("%s widget: %d %s; unknown: %d %s", r.name, r.code, r.body, unknownResp.StatusCode, unknownBody)
			}
		}
		if priv.WidgetKey != nil {
			t.Fatalf("private department kept widget key %q", *priv.WidgetKey)
		}
		// Public again: a new key, and the old one stays dead.
		e.admin.do("PATCH", "/api/departments/"+pub.ID, map[string]any{"visibility": "public"}, 200, &pub)
		if pub.WidgetKey == nil || *pub.WidgetKey == key {
			t.Fatalf("re-published department's widget key = %v (old %q)", pub.WidgetKey, key)
		}
	})
}

// TestDepartmentBadInput sends every kind of bad input to each department
// endpoint: each gets a 4xx JSON error naming the field, and nothing stored
// changes.
func TestDepartmentBadInput(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		var d deptJSON
		e.admin.do("POST", "/api/departments", map[string]any{"name": "Support", "visibility": "public", "email": map[string]any{"cc": map[string]any{"enabled": true, "to": "x@example.com"}}}, 201, &d)
		path := "/api/departments/" + d.ID
		before := e.admin.getJSON(path)
		beforeList := e.admin.getJSON("/api/departments")

		cases := []struct {
			name   string
			body   any
			status int
			field  string
		}{
			{"name wrong type", `{"name": 5}`, 400, "name"},
			{"enabled wrong type", `{"enabled": "yes"}`, 400, "enabled"},
			{"nested wrong type", `{"email": {"cc": {"enabled": "on"}}}`, 400, "email.cc.enabled"},
			{"unknown field", `{"colour": "red"}`, 400, "colour"},
			{"unknown nested field", `{"email": {"bcc": {"enabled": true}}}`, 400, "email.bcc"},
			{"read-only id", `{"id": "x"}`, 400, "id"},
			{"read-only widget key", `{"widget_key": "x"}`, 400, "widget_key"},
			{"not an object", `[1,2]`, 400, ""},
			{"not JSON", `{name:`, 400, ""},
			{"two objects", `{"name":"a"}{"name":"b"}`, 400, ""},
			{"empty name", `{"name": "   "}`, 422, "name"},
			{"long name", fmt.Sprintf(`{"name": %q}`, strings.Repeat("名", 101)), 422, "name"},
			{"bad visibility", `{"visibility": "secret"}`, 422, "visibility"},
			{"bad routing", `{"routing": "random"}`, 422, "routing"},
			{"bad ring timeout", `{"ring_timeout_s": -1}`, 422, "ring_timeout_s"},
			{"bad email", `{"email": {"transcript": {"to": "a@example.com, not-an-email"}}}`, 422, "email.transcript.to"},
			{"CRLF in email", `{"email": {"missed": {"to": ["a@example.com\r\nBcc: evil@example.com"]}}}`, 422, "email.missed.to"},
			{"bad from", `{"email": {"from_address": "Support <s@example.com>"}}`, 422, "email.from_address"},
			{"bad origin", `{"allowed_origins": ["https://example.com/path"]}`, 422, "allowed_origins"},
			{"unknown operator", `{"operator_ids": ["nosuchoperator"]}`, 422, "operator_ids"},
			{"duplicate name", `{"name": "acme"}`, 409, "name"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				code := "bad_request"
				if c.status == 409 {
					code = "conflict"
				}
				e.admin.fails("PATCH", path, c.body, c.status, code, c.field)
				if c.field != "" && c.field != "id" && c.field != "widget_key" && c.status != 409 {
					// The same body is refused on create too (name added so only the bad field is at fault).
					body, ok := c.body.(string)
					if ok && !strings.Contains(body, `"name"`) && strings.HasPrefix(body, "{") {
						e.admin.fails("POST", "/api/departments", `{"name":"Fresh",`+body[1:], c.status, code, c.field)
					}
				}
			})
		}
		e.admin.fails("POST", "/api/departments", `{"name": "ACME"}`, 409, "conflict", "name")
		e.admin.fails("POST", "/api/departments", `{"visibility": "public"}`, 422, "bad_request", "name")
		huge := `{"name":"x","description":"` + strings.Repeat("a", 1<<20) + `"}`
		e.admin.fails("POST", "/api/departments", huge, 413, "too_large", "")
		e.admin.fails("PATCH", path, huge, 413, "too_large", "")
		e.admin.fails("GET", "/api/departments?limit=0", nil, 400, "bad_request", "limit")
		e.admin.fails("GET", "/api/departments?limit=201", nil, 400, "bad_request", "limit")
		e.admin.fails("GET", "/api/departments?limit=ten", nil, 400, "bad_request", "limit")
		e.admin.fails("GET", "/api/departments?cursor=%21%21not-a-cursor", nil, 400, "bad_request", "cursor")
		e.admin.fails("GET", "/api/departments/nosuch", nil, 404, "not_found", "")
		e.admin.fails("PATCH", "/api/departments/nosuch", `{"name":"x"}`, 404, "not_found", "")
		e.admin.fails("DELETE", "/api/departments/nosuch?confirm=true", nil, 404, "not_found", "")
		e.admin.fails("PUT", path+"/operators/nosuch", nil, 404, "not_found", "")
		e.admin.fails("DELETE", path+"/operators/nosuch", nil, 404, "not_found", "")
		e.admin.fails("GET", "/api/departments/nosuch/embed", nil, 404, "not_found", "")

		if after := e.admin.getJSON(path); after != before {
			t.Fatalf("refused changes altered the department:\nbefore %s\nafter  %s", before, after)
		}
		if after := e.admin.getJSON("/api/departments"); after != beforeList {
			t.Fatalf("refused creates altered the list:\nbefore %s\nafter  %s", beforeList, after)
		}
	})
}

func TestDepartmentPagination(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		want := []string{"Acme"}
		for i := range 6 {
			name := fmt.Sprintf("Team %d", i)
			e.admin.do("POST", "/api/departments", map[string]any{"name": name}, 201, nil)
			want = append(want, name)
		}
		var got []string
		path := "/api/departments?limit=3"
		for pages := 0; ; pages++ {
			if pages > 5 {
				t.Fatal("pagination does not end")
			}
			var l deptList
			e.admin.do("GET", path, nil, 200, &l)
			for _, d := range l.Items {
				got = append(got, d.Name)
			}
			if l.NextCursor == nil {
				break
			}
			path = "/api/departments?limit=3&cursor=" + *l.NextCursor
		}
		// Oldest first; departments created in the same millisecond may come
		// in either order, but every one exactly once.
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("paged names = %q, want %q", got, want)
		}
	})
}

func TestDepartmentRoles(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		_, sup := e.newOperator("Sam Super", switchboard.RoleSupervisor)
		opUser, op := e.newOperator("Olga Op", switchboard.RoleOperator)
		path := "/api/departments/" + e.dept.ID
		for _, c := range []client{sup, op} {
			c.do("GET", "/api/departments", nil, 200, nil) // the transfer dialog lists them
			c.do("GET", path, nil, 200, nil)
			c.fails("POST", "/api/departments", map[string]any{"name": "X"}, 403, "forbidden", "")
			c.fails("PATCH", path, map[string]any{"name": "X"}, 403, "forbidden", "")
			c.fails("DELETE", path+"?confirm=true", nil, 403, "forbidden", "")
			c.fails("PUT", path+"/operators/"+opUser.ID, nil, 403, "forbidden", "")
		}
		e.anon().fails("GET", "/api/departments", nil, http.StatusUnauthorized, "unauthorized", "")
		e.anon().fails("POST", "/api/departments", map[string]any{"name": "X"}, http.StatusUnauthorized, "unauthorized", "")
	})
}
