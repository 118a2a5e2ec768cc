package api_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store"
)

type blockJSON struct {
	ID           string  `json:"id"`
	IP           string  `json:"ip"`
	Reason       string  `json:"reason"`
	DepartmentID string  `json:"department_id"`
	ChatID       string  `json:"chat_id"`
	CreatedBy    string  `json:"created_by"`
	CreatedAt    string  `json:"created_at"`
	ExpiresAt    *string `json:"expires_at"`
}

type blockList struct {
	Items      []blockJSON `json:"items"`
	NextCursor *string     `json:"next_cursor"`
}

func TestBlockedIPs(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		sup, supC := e.newOperator("Sue Visor", switchboard.RoleSupervisor)
		_, opC := e.newOperator("Otto Op", switchboard.RoleOperator)

		// The department's blocked-IP email is on: a block queues a mail.
		e.admin.do("PATCH", "/api/departments/"+e.dept.ID, map[string]any{
			"email": map[string]any{"from_address": "desk@example.com", "blocked_ip": map[string]any{"enabled": true, "to": "sec@example.com, boss@example.com"}},
		}, 200, nil)

		var a blockJSON
		supC.do("POST", "/api/blocked-ips", map[string]any{"ip": "192.0.2.7", "reason": "spam", "department_id": e.dept.ID}, 201, &a)
		if a.ID == "" || a.IP != "192.0.2.7" || a.Reason != "spam" || a.DepartmentID != e.dept.ID || a.CreatedBy != sup.ID ||
			a.ExpiresAt != nil || !strings.HasSuffix(a.CreatedAt, "Z") || len(a.CreatedAt) != len("2026-11-24T09:15:02.123Z") {
			t.Fatalf("created = %+v", a)
		}
		mails, err := st.ChatMails(t.Context(), "")
		if err != nil || len(mails) != 1 || mails[0].Kind != switchboard.MailBlockedIP || mails[0].From != "desk@example.com" ||
			!slices.Contains(mails[0].To, "sec@example.com") || !slices.Contains(mails[0].To, "boss@example.com") {
			t.Fatalf("outbox = %+v, %v; want one blocked_ip mail to the department's addresses", mails, err)
		}

		time.Sleep(2 * time.Millisecond) // newest first is by creation time
		exp := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		var b blockJSON
		e.admin.do("POST", "/api/blocked-ips", map[string]any{"ip": "2001:db8::/32", "expires_at": exp}, 201, &b)
		if b.DepartmentID != "" || b.ExpiresAt == nil {
			t.Fatalf("created = %+v", b)
		}

		var list blockList
		supC.do("GET", "/api/blocked-ips", nil, 200, &list)
		if len(list.Items) != 2 || list.Items[0].ID != b.ID || list.Items[1].ID != a.ID || list.NextCursor != nil {
			t.Fatalf("list = %+v, want newest first", list)
		}
		supC.do("GET", "/api/blocked-ips?limit=1", nil, 200, &list)
		if len(list.Items) != 1 || list.NextCursor == nil {
			t.Fatalf("first page = %+v", list)
		}
		supC.do("GET", "/api/blocked-ips?limit=1&cursor="+*list.NextCursor, nil, 200, &list)
		if len(list.Items) != 1 || list.Items[0].ID != a.ID || list.NextCursor != nil {
			t.Fatalf("second page = %+v", list)
		}

		// Roles: operators may not list, block or unblock.
		opC.fails("GET", "/api/blocked-ips", nil, 403, "forbidden", "")
		opC.fails("POST", "/api/blocked-ips", map[string]any{"ip": "192.0.2.8"}, 403, "forbidden", "")
		opC.fails("DELETE", "/api/blocked-ips/"+a.ID, nil, 403, "forbidden", "")
		e.anon().fails("GET", "/api/blocked-ips", nil, 401, "unauthorized", "")

		// Bad input names the field.
		for _, tc := range []struct {
			body   any
			status int
			code   string
			field  string
		}{
			{map[string]any{"ip": "not-an-ip"}, 422, "bad_request", "ip"},
			{map[string]any{"ip": "10.0.0.0/33"}, 422, "bad_request", "ip"},
			{map[string]any{"ip": "10.0.0.1/8/2"}, 422, "bad_request", "ip"},
			{map[string]any{"ip": "10.0.0.1'; DROP TABLE blocked_ips; --"}, 422, "bad_request", "ip"},
			{map[string]any{"reason": "no ip"}, 422, "bad_request", "ip"},
			{map[string]any{"ip": 42}, 400, "bad_request", "ip"},
			{map[string]any{"ip": "10.0.0.1", "department_id": "no-such-department"}, 422, "bad_request", "department_id"},
			{map[string]any{"ip": "10.0.0.1", "expires_at": "tomorrow"}, 422, "bad_request", "expires_at"},
			{map[string]any{"ip": "10.0.0.1", "expires_at": "2001-01-01T00:00:00Z"}, 422, "bad_request", "expires_at"},
			{map[string]any{"ip": "10.0.0.1", "reason": strings.Repeat("x", 1001)}, 422, "bad_request", "reason"},
			{map[string]any{"ip": "10.0.0.1", "chat_id": "c"}, 400, "bad_request", "chat_id"},
			{"[1,2]", 400, "bad_request", ""},
		} {
			supC.fails("POST", "/api/blocked-ips", tc.body, tc.status, tc.code, tc.field)
		}
		supC.fails("GET", "/api/blocked-ips?limit=1000", nil, 400, "bad_request", "limit")
		supC.fails("GET", "/api/blocked-ips?cursor=nope", nil, 400, "bad_request", "cursor")

		// Unblock.
		supC.do("DELETE", "/api/blocked-ips/"+a.ID, nil, http.StatusNoContent, nil)
		supC.fails("DELETE", "/api/blocked-ips/"+a.ID, nil, 404, "not_found", "")
		supC.do("GET", "/api/blocked-ips", nil, 200, &list)
		if len(list.Items) != 1 || list.Items[0].ID != b.ID {
			t.Fatalf("after delete = %+v", list)
		}
	})
}

func TestVisitorsOnlineQuery(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		_, opC := e.newOperator("Otto Op", switchboard.RoleOperator)
		var list struct {
			Items      []map[string]any `json:"items"`
			NextCursor *string          `json:"next_cursor"`
		}
		opC.do("GET", "/api/visitors?online=true", nil, 200, &list)
		if list.Items == nil || len(list.Items) != 0 || list.NextCursor != nil {
			t.Fatalf("visitors without a session server = %+v", list)
		}
		opC.fails("GET", "/api/visitors", nil, 400, "bad_request", "online")
		e.anon().fails("GET", "/api/visitors?online=true", nil, 401, "unauthorized", "")
	})
}
