package api

import (
	"net/http"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/session"
)

// Visitors is what the API asks of the session server about visitors on
// the site now (session.Server is one).
type Visitors interface {
	// OnlineVisitors lists the open visitor connections of the given
	// departments (nil: every department).
	OnlineVisitors(departmentIDs []string) []session.VisitorPresence
}

// visitorView is an online visitor on the wire.
type visitorView struct {
	ID           string  `json:"id"`
	Name         string  `json:"name"`
	DepartmentID string  `json:"department_id"`
	PageURL      string  `json:"page_url"`
	ChatID       *string `json:"chat_id"`
	ConnectedAt  string  `json:"connected_at"`
}

// handleListVisitors serves GET /api/visitors?online=true: operators see
// their departments' visitors, supervisors and admins everyone's. Only
// online visitors are listed (one page: next_cursor is always null).
func (s *Server) handleListVisitors(w http.ResponseWriter, r *http.Request, c *caller) {
	if r.URL.Query().Get("online") != "true" {
		s.fail(w, r, errorf(http.StatusBadRequest, "bad_request", "online", "online: only online=true is supported"))
		return
	}
	var depts []string // nil: all
	if !c.Role.AtLeast(switchboard.RoleSupervisor) {
		depts = append([]string{}, c.DepartmentIDs...)
	}
	var online []session.VisitorPresence
	if s.visitors != nil {
		online = s.visitors.OnlineVisitors(depts)
	}
	views := make([]visitorView, len(online))
	for i, v := range online {
		views[i] = visitorView{ID: v.VisitorID, Name: v.Name, DepartmentID: v.DepartmentID, PageURL: v.PageURL,
			ConnectedAt: v.ConnectedAt.UTC().Format(switchboard.TimeFormat)}
		if v.ChatID != "" {
			id := v.ChatID
			views[i].ChatID = &id
		}
	}
	writeJSON(w, http.StatusOK, newList(views, ""))
}
