package api

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"strings"

	"github.com/switchboard-chat/switchboard"
)

// departmentView is a department as the API shows it: times in the wire
// format, widget_key null for private departments and
// fallback_department_id null when there is none.
type departmentView struct {
	switchboard.Department
	WidgetKey            *string `json:"widget_key"`
	FallbackDepartmentID *string `json:"fallback_department_id"`
	CreatedAt            string  `json:"created_at"`
	UpdatedAt            string  `json:"updated_at"`
}

func viewDepartment(d switchboard.Department) departmentView {
	v := departmentView{
		Department: d,
		CreatedAt:  d.CreatedAt.UTC().Format(switchboard.TimeFormat),
		UpdatedAt:  d.UpdatedAt.UTC().Format(switchboard.TimeFormat),
	}
	if d.Visibility == switchboard.Public && d.WidgetKey != "" {
		v.WidgetKey = &d.WidgetKey
	}
	v.FallbackDepartmentID = nullable(d.FallbackDepartmentID)
	return v
}

// departmentInput is what a client may set on a department.
type departmentInput struct {
	Name           string                      `json:"name"`
	Description    string                      `json:"description"`
	Visibility     switchboard.Visibility      `json:"visibility"`
	Enabled        bool                        `json:"enabled"`
	Routing        switchboard.Routing         `json:"routing"`
	AllowedOrigins []string                    `json:"allowed_origins"`
	OperatorIDs    []string                    `json:"operator_ids"`
	RingTimeoutS   int                         `json:"ring_timeout_s"`
	WaitTimeoutS   int                         `json:"wait_timeout_s"`
	Locale         string                      `json:"locale"`
	Email          switchboard.EmailSettings   `json:"email"`
	Prechat        switchboard.PrechatSettings `json:"prechat"`
	// FallbackDepartmentID is null (or "") for none.
	FallbackDepartmentID *string `json:"fallback_department_id"`
}

// nullable is nil for "", else &s.
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

var departmentReadOnly = []string{"id", "widget_key", "created_at", "updated_at"}

func inputOf(d switchboard.Department) departmentInput {
	return departmentInput{
		Name: d.Name, Description: d.Description, Visibility: d.Visibility, Enabled: d.Enabled,
		Routing: d.Routing, AllowedOrigins: d.AllowedOrigins, OperatorIDs: d.OperatorIDs,
		RingTimeoutS: d.RingTimeoutS, WaitTimeoutS: d.WaitTimeoutS, Locale: d.Locale, Email: d.Email,
		Prechat: d.Prechat, FallbackDepartmentID: nullable(d.FallbackDepartmentID),
	}
}

func (in departmentInput) applyTo(d *switchboard.Department) {
	d.Name, d.Description, d.Visibility, d.Enabled = in.Name, in.Description, in.Visibility, in.Enabled
	d.Routing, d.AllowedOrigins, d.OperatorIDs = in.Routing, in.AllowedOrigins, in.OperatorIDs
	d.RingTimeoutS, d.WaitTimeoutS, d.Locale, d.Email = in.RingTimeoutS, in.WaitTimeoutS, in.Locale, in.Email
	d.Prechat = in.Prechat
	d.FallbackDepartmentID = ""
	if in.FallbackDepartmentID != nil {
		d.FallbackDepartmentID = *in.FallbackDepartmentID
	}
}

// mergeDepartment applies a create or patch body onto d: the body may give
// address lists and allowed origins as one comma-separated string.
func mergeDepartment(d *switchboard.Department, body map[string]any) error {
	if err := refuseFields(body, departmentReadOnly...); err != nil {
		return err
	}
	splitLists(body)
	merged := toMap(inputOf(*d))
	mergePatch(merged, body)
	var in departmentInput
	if err := decodeInto(merged, &in); err != nil {
		return err
	}
	in.applyTo(d)
	d.Tidy() // no defaults: d had them before the merge, so a zero here was sent on purpose
	return d.Validate()
}

// splitLists turns comma-separated strings into lists where the API accepts
// either: every email setting's "to" and "allowed_origins".
func splitLists(body map[string]any) {
	if s, ok := body["allowed_origins"].(string); ok {
		body["allowed_origins"] = toAnySlice(switchboard.SplitAddresses(s))
	}
	email, ok := body["email"].(map[string]any)
	if !ok {
		return
	}
	for _, name := range switchboard.EmailSettingNames {
		setting, ok := email[name].(map[string]any)
		if !ok {
			continue
		}
		if s, ok := setting["to"].(string); ok {
			setting["to"] = toAnySlice(switchboard.SplitAddresses(s))
		}
	}
}

func toAnySlice(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func (s *Server) handleListDepartments(w http.ResponseWriter, r *http.Request, c *caller) {
	p, err := pageFromQuery(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	items, next, err := s.store.Departments(r.Context(), p)
	if err != nil {
		s.fail(w, r, badQuery(err))
		return
	}
	views := make([]departmentView, len(items))
	for i, d := range items {
		views[i] = viewDepartment(d)
	}
	writeJSON(w, http.StatusOK, newList(views, next))
}

func (s *Server) handleCreateDepartment(w http.ResponseWriter, r *http.Request, c *caller) {
	body, err := readBody(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if _, ok := body["name"]; !ok {
		s.fail(w, r, switchboard.Invalid("name", "is required"))
		return
	}
	d := switchboard.Department{Enabled: true}
	d.Normalize()
	if err := mergeDepartment(&d, body); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.store.CreateDepartment(r.Context(), &d); err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("department created", "department_id", d.ID, "by", c.ID)
	writeJSON(w, http.StatusCreated, viewDepartment(d))
}

func (s *Server) handleGetDepartment(w http.ResponseWriter, r *http.Request, c *caller) {
	d, err := s.store.Department(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewDepartment(d))
}

func (s *Server) handlePatchDepartment(w http.ResponseWriter, r *http.Request, c *caller) {
	body, err := readBody(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d, err := s.store.UpdateDepartment(r.Context(), r.PathValue("id"), func(d *switchboard.Department) error {
		return mergeDepartment(d, body)
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewDepartment(d))
}

func (s *Server) handleDeleteDepartment(w http.ResponseWriter, r *http.Request, c *caller) {
	if r.URL.Query().Get("confirm") != "true" {
		s.fail(w, r, errorf(http.StatusBadRequest, "bad_request", "confirm",
			"confirm: deleting a department cannot be undone; repeat the request with ?confirm=true"))
		return
	}
	if err := s.store.DeleteDepartment(r.Context(), r.PathValue("id"), c.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("department deleted", "department_id", r.PathValue("id"), "by", c.ID)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleAddDepartmentOperator(w http.ResponseWriter, r *http.Request, c *caller) {
	s.changeMembership(w, r, s.store.AddDepartmentOperator)
}

func (s *Server) handleRemoveDepartmentOperator(w http.ResponseWriter, r *http.Request, c *caller) {
	s.changeMembership(w, r, s.store.RemoveDepartmentOperator)
}

func (s *Server) changeMembership(w http.ResponseWriter, r *http.Request, change func(ctx context.Context, dep, op string) error) {
	dep, op := r.PathValue("id"), r.PathValue("operator_id")
	// Both must exist, so a typo is a 404 rather than a silent no-op.
	if _, err := s.store.Department(r.Context(), dep); err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := s.store.Operator(r.Context(), op); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := change(r.Context(), dep, op); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// embedView is the answer of GET /api/departments/{id}/embed.
type embedView struct {
	WidgetKey string `json:"widget_key"`
	ScriptURL string `json:"script_url"`
	Snippet   string `json:"snippet"`
}

func (s *Server) handleEmbed(w http.ResponseWriter, r *http.Request, c *caller) {
	d, err := s.store.Department(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if d.Visibility != switchboard.Public || d.WidgetKey == "" {
		s.fail(w, r, errorf(http.StatusConflict, "conflict", "visibility", "private departments have no widget; make the department public to embed it"))
		return
	}
	src := strings.TrimRight(s.publicURL.String(), "/") + "/widget/" + d.WidgetKey + ".js"
	// The name goes in an HTML comment: escape it and break any "--".
	name := strings.ReplaceAll(html.EscapeString(d.Name), "--", "- -")
	// The loader finds its server from its own src; data-locale="en" or "ja"
	// on the tag fixes the widget's language (else the page's lang, else the
	// browser's).
	snippet := fmt.Sprintf("<!-- Switchboard chat: %s -->\n<script src=\"%s\" async></script>\n", name, html.EscapeString(src))
	writeJSON(w, http.StatusOK, embedView{WidgetKey: d.WidgetKey, ScriptURL: src, Snippet: snippet})
}

// publicWidgetView is what a visitor's widget learns about its department.
type publicWidgetView struct {
	Department struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"department"`
	Online  bool                        `json:"online"`
	Locale  string                      `json:"locale"` // "en", "ja" or "auto"
	Prechat switchboard.PrechatSettings `json:"prechat"`
}

func (s *Server) handlePublicWidget(w http.ResponseWriter, r *http.Request) {
	d, err := s.store.DepartmentByWidgetKey(r.Context(), r.PathValue("key"))
	if err == nil && (d.Visibility != switchboard.Public || !d.Enabled) {
		err = switchboard.ErrNotFound // never tell a private or disabled department exists
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var v publicWidgetView
	v.Department.ID, v.Department.Name = d.ID, d.Name
	v.Online = s.presence != nil && s.presence.DepartmentOnline(d.ID)
	v.Locale = d.Locale
	v.Prechat = d.Prechat
	if v.Locale == "" {
		v.Locale = "auto"
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, v)
}
