package console_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard/internal/browsertest"
)

// TestConsoleAdminDepartmentsAndOperators edits every kind of department
// setting through the form and checks the stored result, creates a private
// department, shows the embed code, deletes a department only after its
// name was typed, and creates and edits an operator.
func TestConsoleAdminDepartmentsAndOperators(t *testing.T) {
	e := newEnv(t)
	bob := e.operator("bob", "operator")
	ctx := browsertest.New(t)
	login(t, ctx, e.url, "admin@example.com", "admin-password")

	browsertest.Click(t, ctx, sb("nav-departments"))
	browsertest.Click(t, ctx, sb("dept-row", `[data-dept-id="`+e.dept.ID+`"] [data-sb="dept-edit"]`))
	form := sb("dept-form", `[data-dept-id="`+e.dept.ID+`"]`)
	browsertest.WaitJS(t, ctx, form+" != null", 10*time.Second, "the department form")
	in := func(hook string) string { return form + `.querySelector('[data-sb="` + hook + `"]')` }
	browsertest.SetValue(t, ctx, in("dept-description"), "お問い合わせ窓口")
	browsertest.SetValue(t, ctx, in("dept-routing"), "broadcast")
	browsertest.SetValue(t, ctx, in("dept-ring-timeout-s"), "45")
	browsertest.SetValue(t, ctx, in("dept-wait-timeout-s"), "300")
	browsertest.SetValue(t, ctx, in("dept-locale"), "ja")
	browsertest.SetValue(t, ctx, in("prechat-email"), "required")
	browsertest.SetValue(t, ctx, in("prechat-name"), "off")
	browsertest.SetValue(t, ctx, in("dept-allowed-origins"), "https://shop.example, https://www.shop.example")
	browsertest.Click(t, ctx, form+`.querySelector('[data-sb="dept-pool-operator"][data-operator-id="`+bob+`"]')`)
	browsertest.SetValue(t, ctx, in("dept-email-from-address"), "support@shop.example")
	browsertest.Click(t, ctx, in("email-transcript-enabled"))
	browsertest.SetValue(t, ctx, in("email-transcript-to"), "a@shop.example, b@shop.example")
	browsertest.Click(t, ctx, in("email-cc-enabled"))
	browsertest.SetValue(t, ctx, in("email-cc-to"), "archive@shop.example")
	browsertest.SetValue(t, ctx, in("email-missed-to"), "lead@shop.example")

	// A bad address is refused, naming the field, and nothing is stored.
	browsertest.SetValue(t, ctx, in("email-feedback-to"), "not-an-address")
	browsertest.Click(t, ctx, in("dept-save"))
	browsertest.WaitJS(t, ctx, in("dept-error")+`.hidden === false`, 10*time.Second, "the validation error")
	if got := browsertest.Attr(t, ctx, in("email-feedback-to"), "aria-invalid"); got != "true" {
		t.Errorf("the bad field is not marked (aria-invalid=%q); error: %s", got, browsertest.Text(t, ctx, in("dept-error")))
	}
	browsertest.SetValue(t, ctx, in("email-feedback-to"), "")
	browsertest.Click(t, ctx, in("dept-save"))
	browsertest.WaitJS(t, ctx, sb("toast")+` != null`, 10*time.Second, "saved")
	browsertest.Screenshot(t, ctx, "console-department")

	var d struct {
		Description    string   `json:"description"`
		Routing        string   `json:"routing"`
		RingTimeoutS   int      `json:"ring_timeout_s"`
		WaitTimeoutS   int      `json:"wait_timeout_s"`
		Locale         string   `json:"locale"`
		AllowedOrigins []string `json:"allowed_origins"`
		OperatorIDs    []string `json:"operator_ids"`
		Prechat        struct{ Name, Email, Question string }
		Email          struct {
			FromAddress string `json:"from_address"`
			Transcript  struct {
				Enabled bool
				To      []string
			}
			CC struct {
				Enabled bool
				To      []string
			}
			Missed struct {
				Enabled bool
				To      []string
			}
			Feedback struct {
				Enabled bool
				To      []string
			}
		}
	}
	e.api(e.adminToken, "GET", "/api/departments/"+e.dept.ID, nil, 200, &d)
	if d.Description != "お問い合わせ窓口" || d.Routing != "broadcast" || d.RingTimeoutS != 45 || d.WaitTimeoutS != 300 || d.Locale != "ja" {
		t.Errorf("stored department: %+v", d)
	}
	if !slices.Equal(d.AllowedOrigins, []string{"https://shop.example", "https://www.shop.example"}) || !slices.Contains(d.OperatorIDs, bob) {
		t.Errorf("origins %v, pool %v", d.AllowedOrigins, d.OperatorIDs)
	}
	if d.Prechat.Name != "off" || d.Prechat.Email != "required" || d.Prechat.Question != "required" {
		t.Errorf("stored prechat: %+v", d.Prechat)
	}
	em := d.Email
	if em.FromAddress != "support@shop.example" || !em.Transcript.Enabled || !slices.Equal(em.Transcript.To, []string{"a@shop.example", "b@shop.example"}) ||
		!em.CC.Enabled || !slices.Equal(em.CC.To, []string{"archive@shop.example"}) ||
		em.Missed.Enabled || !slices.Equal(em.Missed.To, []string{"lead@shop.example"}) || len(em.Feedback.To) != 0 {
		t.Errorf("stored email settings: %+v", em)
	}

	// Embed code of the public department.
	browsertest.Click(t, ctx, in("dept-embed"))
	browsertest.WaitJS(t, ctx, sb("snippet")+`?.value.includes('/widget/`+e.dept.WidgetKey+`.js')`, 10*time.Second, "the embed snippet")

	// Disable from the list, then a new private department.
	browsertest.Click(t, ctx, sb("dept-row", `[data-dept-id="`+e.dept.ID+`"] [data-sb="dept-toggle"]`))
	browsertest.WaitJS(t, ctx, sb("dept-row", `[data-dept-id="`+e.dept.ID+`"]`)+`?.dataset.enabled === 'false'`, 10*time.Second, "disabled")
	browsertest.Click(t, ctx, sb("dept-add"))
	form = sb("dept-form", `[data-dept-id=""]`)
	browsertest.WaitJS(t, ctx, form+" != null", 10*time.Second, "the new department form")
	browsertest.SetValue(t, ctx, in("dept-name"), "二次対応")
	browsertest.SetValue(t, ctx, in("dept-visibility"), "private")
	browsertest.Click(t, ctx, in("dept-save"))
	var list struct {
		Items []struct {
			ID, Name, Visibility string
			Enabled              bool
		}
	}
	browsertest.WaitJS(t, ctx, `[...document.querySelectorAll('[data-sb="dept-row"]')].length === 2`, 10*time.Second, "two departments")
	e.api(e.adminToken, "GET", "/api/departments", nil, 200, &list)
	var private string
	for _, it := range list.Items {
		if it.Name == "二次対応" && it.Visibility == "private" && it.Enabled {
			private = it.ID
		}
		if it.ID == e.dept.ID && it.Enabled {
			t.Error("the default department is still enabled")
		}
	}
	if private == "" {
		t.Fatalf("no private department stored: %+v", list.Items)
	}
	form = sb("dept-form", `[data-dept-id="`+private+`"]`)
	browsertest.Click(t, ctx, in("dept-embed"))
	browsertest.WaitJS(t, ctx, sb("embed-box")+`.textContent.length > 0 && `+sb("snippet")+` == null`, 10*time.Second, "no snippet for a private department")

	// Delete needs the name typed.
	browsertest.Click(t, ctx, in("dept-delete"))
	browsertest.Click(t, ctx, sb("confirm-ok"))
	browsertest.WaitJS(t, ctx, sb("confirm")+` != null`, 2*time.Second, "the dialog still open without the name")
	e.api(e.adminToken, "GET", "/api/departments/"+private, nil, 200, nil)
	browsertest.SetValue(t, ctx, sb("confirm-input"), "二次対応")
	browsertest.Click(t, ctx, sb("confirm-ok"))
	browsertest.WaitJS(t, ctx, sb("dept-row", `[data-dept-id="`+private+`"]`)+` == null`, 10*time.Second, "the department gone from the list")
	e.api(e.adminToken, "GET", "/api/departments/"+private, nil, 404, nil)

	// Operators: create one, then change its role and departments.
	browsertest.Click(t, ctx, sb("nav-operators"))
	browsertest.Click(t, ctx, sb("op-add"))
	browsertest.SetValue(t, ctx, sb("op-name"), "Carol")
	browsertest.SetValue(t, ctx, sb("op-email"), "carol@example.com")
	browsertest.SetValue(t, ctx, sb("op-password"), "carol-password")
	browsertest.SetValue(t, ctx, sb("op-max-chats"), "3")
	browsertest.Click(t, ctx, sb("op-department", `[data-dept-id="`+e.dept.ID+`"]`))
	browsertest.Click(t, ctx, sb("op-save"))
	browsertest.WaitJS(t, ctx, `[...document.querySelectorAll('[data-sb="op-row"]')].some(r => r.textContent.includes('carol@example.com'))`, 10*time.Second, "Carol listed")
	var ops struct {
		Items []struct {
			ID, Name, Email, Role string
			MaxChats              int      `json:"max_chats"`
			DepartmentIDs         []string `json:"department_ids"`
		}
	}
	e.api(e.adminToken, "GET", "/api/operators", nil, 200, &ops)
	var carol string
	for _, o := range ops.Items {
		if o.Email == "carol@example.com" {
			carol = o.ID
			if o.MaxChats != 3 || o.Role != "operator" || !slices.Equal(o.DepartmentIDs, []string{e.dept.ID}) {
				t.Errorf("carol stored as %+v", o)
			}
		}
	}
	if carol == "" {
		t.Fatal("carol not stored")
	}
	browsertest.Click(t, ctx, sb("op-row", `[data-operator-id="`+carol+`"] [data-sb="op-edit"]`))
	browsertest.SetValue(t, ctx, sb("op-role"), "supervisor")
	browsertest.Click(t, ctx, sb("op-department", `[data-dept-id="`+e.dept.ID+`"]`))
	browsertest.SetValue(t, ctx, sb("op-password"), "carol-new-password")
	browsertest.Click(t, ctx, sb("op-save"))
	browsertest.WaitJS(t, ctx, sb("op-row", `[data-operator-id="`+carol+`"]`)+`?.dataset.role === 'supervisor'`, 10*time.Second, "Carol a supervisor")
	var c struct {
		Role          string
		DepartmentIDs []string `json:"department_ids"`
	}
	e.api(e.adminToken, "GET", "/api/operators/"+carol, nil, 200, &c)
	if c.Role != "supervisor" || len(c.DepartmentIDs) != 0 {
		t.Errorf("carol after edit: %+v", c)
	}
	e.api("", "POST", "/api/login", map[string]string{"email": "carol@example.com", "password": "carol-new-password"}, 200, nil)
	browsertest.Screenshot(t, ctx, "console-operators")

	// Disable her.
	browsertest.Click(t, ctx, sb("op-row", `[data-operator-id="`+carol+`"] [data-sb="op-toggle"]`))
	browsertest.WaitJS(t, ctx, sb("op-row", `[data-operator-id="`+carol+`"]`)+`?.dataset.enabled === 'false'`, 10*time.Second, "Carol disabled")
	if strings.Contains(browsertest.Text(t, ctx, sb("op-list")), "undefined") {
		t.Error("the operator list shows 'undefined'")
	}
}
