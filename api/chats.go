package api

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store"
)

// chatRowView is one chat of GET /api/chats.
type chatRowView struct {
	ID         string                 `json:"id"`
	Status     switchboard.ChatStatus `json:"status"`
	Department idName                 `json:"department"`
	Visitor    chatVisitorView        `json:"visitor"`
	Operator   *idName                `json:"operator"`
	StartedAt  string                 `json:"started_at"`
	EndedAt    *string                `json:"ended_at"`
	Reopened   bool                   `json:"reopened"`
	Rating     int                    `json:"rating"`
}

type idName struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type chatVisitorView struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

func viewChatRow(r store.ChatRow) chatRowView {
	v := chatRowView{
		ID:         r.ID,
		Status:     r.Status,
		Department: idName{ID: r.DepartmentID, Name: r.DepartmentName},
		Visitor:    chatVisitorView{ID: r.VisitorID, Name: r.VisitorName, Email: r.VisitorEmail},
		StartedAt:  r.StartedAt.UTC().Format(switchboard.TimeFormat),
		Reopened:   r.Reopened,
		Rating:     r.Rating,
	}
	if r.OperatorID != "" {
		v.Operator = &idName{ID: r.OperatorID, Name: r.OperatorName}
	}
	if r.EndedAt != nil {
		s := r.EndedAt.UTC().Format(switchboard.TimeFormat)
		v.EndedAt = &s
	}
	return v
}

// parseQueryTime reads an RFC 3339 time or a YYYY-MM-DD date (midnight UTC).
func parseQueryTime(field, s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, errorf(http.StatusBadRequest, "bad_request", field, field+": must be an RFC 3339 time or a YYYY-MM-DD date")
}

// chatFilterFromQuery reads the filters of GET /api/chats.
func chatFilterFromQuery(r *http.Request) (store.ChatFilter, error) {
	q := r.URL.Query()
	var f store.ChatFilter
	switch c := switchboard.Category(q.Get("category")); c {
	case "", switchboard.CategoryAll, switchboard.CategoryOngoing, switchboard.CategoryMissed,
		switchboard.CategoryCompleted, switchboard.CategoryReopened, switchboard.CategoryMonitored:
		f.Category = c
	default:
		return f, errorf(http.StatusBadRequest, "bad_request", "category",
			"category: must be one of all, ongoing, missed, reopened, completed, monitored")
	}
	f.DepartmentID, f.OperatorID, f.Visitor = q.Get("department_id"), q.Get("operator_id"), q.Get("visitor")
	// q is checked here as well as in the store, so that a caller who
	// sees nothing (an operator without departments) gets the same 400.
	f.Query = q.Get("q")
	switch {
	case !utf8.ValidString(f.Query) || strings.IndexByte(f.Query, 0) >= 0:
		return f, errorf(http.StatusBadRequest, "bad_request", "q", "q: must be UTF-8 text without NUL characters")
	case utf8.RuneCountInString(f.Query) > store.MaxQueryRunes:
		return f, errorf(http.StatusBadRequest, "bad_request", "q",
			"q: must be at most "+strconv.Itoa(store.MaxQueryRunes)+" characters")
	}
	var err error
	if s := q.Get("from"); s != "" {
		if f.From, err = parseQueryTime("from", s); err != nil {
			return f, err
		}
	}
	if s := q.Get("to"); s != "" {
		if f.To, err = parseQueryTime("to", s); err != nil {
			return f, err
		}
		if _, dateOnly := time.Parse(time.DateOnly, s); dateOnly == nil {
			f.To = f.To.AddDate(0, 0, 1) // a date includes its whole day
		}
	}
	if !f.From.IsZero() && !f.To.IsZero() && f.To.Before(f.From) {
		return f, errorf(http.StatusBadRequest, "bad_request", "to", "to: must not be before from")
	}
	if s := q.Get("rating"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 5 {
			return f, errorf(http.StatusBadRequest, "bad_request", "rating", "rating: must be a whole number from 1 to 5")
		}
		f.Rating = n
	}
	return f, nil
}

// handleListChats serves GET /api/chats: the chat history, newest first.
// Operators see their own departments' chats only; supervisors and admins
// see all.
func (s *Server) handleListChats(w http.ResponseWriter, r *http.Request, c *caller) {
	f, err := chatFilterFromQuery(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p, err := pageFromQuery(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !c.Role.AtLeast(switchboard.RoleSupervisor) {
		if f.DepartmentID != "" && !slices.Contains(c.DepartmentIDs, f.DepartmentID) {
			s.fail(w, r, errorf(http.StatusForbidden, "forbidden", "department_id", "department_id: not one of your departments"))
			return
		}
		// Their departments' chats, and the chats they handled elsewhere
		// (a transfer into or out of a department they are not in).
		f.DepartmentIDs = append([]string{}, c.DepartmentIDs...)
		f.Participant = c.ID
	}
	if f.Category == switchboard.CategoryMonitored && s.monitored != nil {
		f.ChatIDs = s.monitored()
	}
	rows, next, err := s.store.ListChats(r.Context(), f, p)
	if err != nil {
		s.fail(w, r, badQuery(err))
		return
	}
	views := make([]chatRowView, len(rows))
	for i, row := range rows {
		views[i] = viewChatRow(row)
	}
	writeJSON(w, http.StatusOK, newList(views, next))
}
