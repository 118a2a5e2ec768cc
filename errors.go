package switchboard

import (
	"errors"
	"fmt"
)

// Sentinel errors shared by every layer. Backends translate driver errors
// into these; the API and the WebSocket sessions map them to HTTP statuses
// and protocol error codes in one table each.
var (
	// ErrNotFound: the object does not exist (or the caller may not know it does).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the change clashes with the current state (a duplicate name,
	// deleting the last department, the same client_msg_id with another body).
	ErrConflict = errors.New("conflict")
	// ErrUnauthorized: no valid credentials.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden: valid credentials, but the role or membership does not allow it.
	ErrForbidden = errors.New("forbidden")
	// ErrAlreadyTaken: another operator accepted the chat first.
	ErrAlreadyTaken = errors.New("already taken")
	// ErrDepartmentDisabled: the department takes no new chats.
	ErrDepartmentDisabled = errors.New("department disabled")
	// ErrUnavailable: a dependency (the store) is down; the caller may retry.
	ErrUnavailable = errors.New("unavailable")
)

// ValidationError says which input field is wrong and why. It matches
// ErrInvalid with errors.Is.
type ValidationError struct {
	Field   string // the JSON name of the field, dotted for nested ones: "email.cc.to"
	Message string // human readable, lower case, no trailing period
}

// ErrInvalid matches every *ValidationError under errors.Is.
var ErrInvalid = errors.New("invalid input")

func (e *ValidationError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return fmt.Sprintf("%s: %s", e.Field, e.Message)
}

// Is makes errors.Is(err, ErrInvalid) true for validation errors.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// Invalid returns a *ValidationError for field with a formatted message.
func Invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// ConflictError is a conflict that names the field at fault (a duplicate
// name). It matches ErrConflict under errors.Is.
type ConflictError struct {
	Field   string
	Message string
}

func (e *ConflictError) Error() string        { return e.Message }
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }
