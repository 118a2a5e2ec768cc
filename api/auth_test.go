package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store"
)

func TestLoginLogoutMe(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		resp, data := e.anon().raw("POST", "/api/login", map[string]string{"email": " Admin@Example.com ", "password": adminPassword}, nil)
		if resp.StatusCode != 200 || !strings.Contains(string(data), `"role":"admin"`) || strings.Contains(string(data), "argon2") {
			t.Fatalf("login: %d %s", resp.StatusCode, data)
		}
		var cookie *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == "switchboard_session" {
				cookie = c
			}
		}
		if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Value == "" {
			t.Fatalf("session cookie = %+v", cookie)
		}

		var me struct {
			Email  string
			Role   string
			Status string
		}
		e.admin.do("GET", "/api/me", nil, 200, &me)
		if me.Email != "admin@example.com" || me.Role != "admin" || me.Status != "offline" {
			t.Fatalf("me = %+v", me)
		}

		// Cookie auth: reads work; writes need our own Origin.
		ck := http.Header{"Cookie": {cookie.Name + "=" + cookie.Value}}
		if r, d := e.anon().raw("GET", "/api/me", nil, ck); r.StatusCode != 200 {
			t.Fatalf("cookie GET /api/me: %d %s", r.StatusCode, d)
		}
		body := map[string]any{"name": "Via Cookie"}
		for _, origin := range []string{"", "https://evil.example.com", "null"} {
			h := ck.Clone()
			if origin != "" {
				h.Set("Origin", origin)
			}
			if r, d := e.anon().raw("POST", "/api/departments", body, h); r.StatusCode != 403 || !strings.Contains(string(d), "forbidden") {
				t.Fatalf("cookie write with Origin %q: %d %s", origin, r.StatusCode, d)
			}
		}
		h := ck.Clone()
		h.Set("Origin", e.srv.URL)
		if r, d := e.anon().raw("POST", "/api/departments", body, h); r.StatusCode != 201 {
			t.Fatalf("cookie write with own Origin: %d %s", r.StatusCode, d)
		}

		e.admin.do("POST", "/api/logout", nil, 204, nil)
		e.admin.fails("GET", "/api/me", nil, 401, "unauthorized", "")
	})
}

func TestLoginFailures(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		a := e.anon()
		a.fails("POST", "/api/login", map[string]string{"email": "admin@example.com", "password": "wrong"}, 401, "unauthorized", "")
		a.fails("POST", "/api/login", map[string]string{"email": "nobody@example.com", "password": "whatever1"}, 401, "unauthorized", "")
		a.fails("POST", "/api/login", map[string]string{"password": "x"}, 422, "bad_request", "email")
		a.fails("POST", "/api/login", map[string]string{"email": "admin@example.com"}, 422, "bad_request", "password")
		a.fails("POST", "/api/login", `{"email": 1}`, 400, "bad_request", "email")
		a.fails("POST", "/api/login", `{"email":"a@example.com","password":"x","otp":1}`, 400, "bad_request", "otp")
		a.fails("POST", "/api/login", `nope`, 400, "bad_request", "")
		e.anon().fails("GET", "/api/me", nil, 401, "unauthorized", "")
		client{e: e, token: "forged"}.fails("GET", "/api/me", nil, 401, "unauthorized", "")
		if r, d := e.anon().raw("GET", "/api/me", nil, http.Header{"Authorization": {"Basic abc"}}); r.StatusCode != 401 {
			t.Fatalf("basic auth: %d %s", r.StatusCode, d)
		}

		// Guessing is throttled per email: a burst, then 429 with Retry-After,
		// even for the right password.
		limited := false
		for range 10 {
			r, _ := a.raw("POST", "/api/login", map[string]string{"email": "target@example.com", "password": "guess-guess"}, nil)
			if r.StatusCode == http.StatusTooManyRequests {
				limited = r.Header.Get("Retry-After") != ""
				break
			}
		}
		if !limited {
			t.Fatal("ten quick failed logins for one email were never rate limited")
		}
	})
}

func TestDisabledOperatorAndPasswordChangeEndSessions(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		op, opClient := e.newOperator("Pat Op", switchboard.RoleOperator)
		second := e.login(op.Email, "password-Pat Op")

		// The operator changes its own password: its other session ends, this one stays.
		opClient.fails("PATCH", "/api/me", map[string]any{"password": "brand-new-pass", "current_password": "wrong"}, 422, "bad_request", "current_password")
		opClient.do("PATCH", "/api/me", map[string]any{"password": "brand-new-pass", "current_password": "password-Pat Op"}, 200, nil)
		opClient.do("GET", "/api/me", nil, 200, nil)
		second.fails("GET", "/api/me", nil, 401, "unauthorized", "")

		// An admin resets it: every session of the operator ends.
		e.admin.do("PATCH", "/api/operators/"+op.ID, map[string]any{"password": "admin-set-pass"}, 200, nil)
		opClient.fails("GET", "/api/me", nil, 401, "unauthorized", "")
		again := e.login(op.Email, "admin-set-pass")

		e.admin.do("PATCH", "/api/operators/"+op.ID, map[string]any{"enabled": false}, 200, nil)
		again.fails("GET", "/api/me", nil, 401, "unauthorized", "")
		e.anon().fails("POST", "/api/login", map[string]string{"email": op.Email, "password": "admin-set-pass"}, 401, "unauthorized", "")
	})
}
