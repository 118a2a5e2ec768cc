package api

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/switchboard-chat/switchboard"
)

// apiError is the body of every error response:
// {"error":{"code":"...","message":"...","field":"..."}}.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func (e *apiError) Error() string { return e.Message }

// errorf builds an error for a specific HTTP status and protocol code.
func errorf(status int, code, field, msg string) error {
	return &apiError{Status: status, Code: code, Field: field, Message: msg}
}

// toAPIError is the one table from domain errors to HTTP statuses and
// protocol error codes.
func toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var ve *switchboard.ValidationError
	if errors.As(err, &ve) {
		return &apiError{Status: http.StatusUnprocessableEntity, Code: "bad_request", Field: ve.Field, Message: ve.Error()}
	}
	var ce *switchboard.ConflictError
	if errors.As(err, &ce) {
		return &apiError{Status: http.StatusConflict, Code: "conflict", Field: ce.Field, Message: ce.Message}
	}
	switch {
	case errors.Is(err, switchboard.ErrNotFound):
		return &apiError{Status: http.StatusNotFound, Code: "not_found", Message: "not found"}
	case errors.Is(err, switchboard.ErrConflict):
		return &apiError{Status: http.StatusConflict, Code: "conflict", Message: err.Error()}
	case errors.Is(err, switchboard.ErrUnauthorized):
		return &apiError{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "authentication required"}
	case errors.Is(err, switchboard.ErrForbidden):
		return &apiError{Status: http.StatusForbidden, Code: "forbidden", Message: "not allowed for your role"}
	case errors.Is(err, switchboard.ErrAlreadyTaken):
		return &apiError{Status: http.StatusConflict, Code: "already_taken", Message: "another operator took it"}
	case errors.Is(err, switchboard.ErrDepartmentDisabled):
		return &apiError{Status: http.StatusConflict, Code: "department_disabled", Message: "the department is disabled"}
	case errors.Is(err, switchboard.ErrUnavailable):
		return &apiError{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "the store is unavailable; retry"}
	}
	return &apiError{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error"}
}

// fail writes err as a JSON error. Internal errors are logged here, once,
// and their text never reaches the client.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	ae := toAPIError(err)
	if ae.Status >= 500 {
		s.log.LogAttrs(r.Context(), slog.LevelError, "request failed",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("err", err))
	}
	writeJSON(w, ae.Status, map[string]any{"error": ae})
}
