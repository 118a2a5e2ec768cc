package api_test

import (
	"strings"
	"testing"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store"
)

func TestOperators(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		var o struct {
			ID          string
			Name        string
			Email       string
			Role        string
			MaxChats    int `json:"max_chats"`
			Enabled     bool
			Status      string
			ActiveChats int `json:"active_chats"`
		}
		resp, data := e.admin.raw("POST", "/api/operators", map[string]any{"name": "Kim", "email": "KIM@example.com", "password": "kim-password", "role": "supervisor", "max_chats": 3}, nil)
		if resp.StatusCode != 201 || strings.Contains(string(data), "password") {
			t.Fatalf("create operator: %d %s", resp.StatusCode, data)
		}
		e.admin.do("GET", "/api/operators/"+idOf(t, data), nil, 200, &o)
		if o.Email != "kim@example.com" || o.Role != "supervisor" || o.MaxChats != 3 || !o.Enabled || o.Status != "offline" {
			t.Fatalf("operator = %+v", o)
		}
		var list struct {
			Items      []map[string]any
			NextCursor *string `json:"next_cursor"`
		}
		e.admin.do("GET", "/api/operators?limit=1", nil, 200, &list)
		if len(list.Items) != 1 || list.NextCursor == nil {
			t.Fatalf("first page = %+v", list)
		}
		e.admin.do("PATCH", "/api/operators/"+o.ID, map[string]any{"max_chats": 8}, 200, &o)
		if o.MaxChats != 8 || o.Role != "supervisor" || o.Name != "Kim" {
			t.Fatalf("after patch = %+v", o)
		}

		before := e.admin.getJSON("/api/operators/" + o.ID)
		for _, c := range []struct {
			body   string
			status int
			field  string
		}{
			{`{"role": "owner"}`, 422, "role"},
			{`{"max_chats": 0}`, 422, "max_chats"},
			{`{"max_chats": "5"}`, 400, "max_chats"},
			{`{"email": "not-an-email"}`, 422, "email"},
			{`{"email": "admin@example.com"}`, 409, "email"},
			{`{"password": "short"}`, 422, "password"},
			{`{"status": "online"}`, 400, "status"},
			{`{"nickname": "k"}`, 400, "nickname"},
		} {
			code := "bad_request"
			if c.status == 409 {
				code = "conflict"
			}
			e.admin.fails("PATCH", "/api/operators/"+o.ID, c.body, c.status, code, c.field)
		}
		if after := e.admin.getJSON("/api/operators/" + o.ID); after != before {
			t.Fatalf("refused patches changed the operator:\n%s\n%s", before, after)
		}
		e.admin.fails("POST", "/api/operators", `{"name": "X", "email": "x@example.com"}`, 422, "bad_request", "password")
		e.admin.fails("POST", "/api/operators", `{"name": "X", "password": "long-enough"}`, 422, "bad_request", "email")
		e.admin.fails("POST", "/api/operators", `{"name": "X", "email": "kim@EXAMPLE.com", "password": "long-enough"}`, 409, "conflict", "email")
		e.admin.fails("GET", "/api/operators/nosuch", nil, 404, "not_found", "")

		// Operators cannot manage operators.
		_, opc := e.newOperator("Lee", switchboard.RoleOperator)
		opc.do("GET", "/api/operators", nil, 200, nil)
		opc.fails("POST", "/api/operators", map[string]any{"name": "Y", "email": "y@example.com", "password": "long-enough"}, 403, "forbidden", "")
		opc.fails("PATCH", "/api/operators/"+o.ID, map[string]any{"max_chats": 1}, 403, "forbidden", "")
		opc.fails("DELETE", "/api/operators/"+o.ID, nil, 403, "forbidden", "")

		// The last enabled admin can be neither demoted, disabled nor deleted.
		var me struct{ ID string }
		e.admin.do("GET", "/api/me", nil, 200, &me)
		e.admin.fails("PATCH", "/api/operators/"+me.ID, map[string]any{"role": "operator"}, 409, "conflict", "role")
		e.admin.fails("PATCH", "/api/operators/"+me.ID, map[string]any{"enabled": false}, 409, "conflict", "enabled")
		e.admin.fails("DELETE", "/api/operators/"+me.ID, nil, 409, "conflict", "")

		e.admin.do("DELETE", "/api/operators/"+o.ID, nil, 204, nil)
		e.admin.fails("GET", "/api/operators/"+o.ID, nil, 404, "not_found", "")
		var audit struct {
			Items []struct {
				Action   string `json:"action"`
				ObjectID string `json:"object_id"`
			}
		}
		e.admin.do("GET", "/api/audit", nil, 200, &audit)
		if len(audit.Items) == 0 || audit.Items[0].Action != "operator.delete" || audit.Items[0].ObjectID != o.ID {
			t.Fatalf("audit = %+v", audit)
		}
	})
}

func idOf(t *testing.T, data []byte) string {
	t.Helper()
	i := strings.Index(string(data), `"id":"`)
	if i < 0 {
		t.Fatalf("no id in %s", data)
	}
	rest := string(data[i+6:])
	return rest[:strings.IndexByte(rest, '"')]
}
