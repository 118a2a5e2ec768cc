// Package store defines the durable storage of Switchboard: one SQL
// database holds departments, operators, sessions, visitors, chats,
// messages, transfers, notes, feedback, blocked IPs, the mail outbox and the
// audit log, so that a state change and the email it causes commit in one
// transaction.
//
// Two backends implement Store: store/sqlite (embedded, the single-node
// default) and store/postgres (production and cluster). Both pass the one
// conformance suite in store/storetest.
package store

import (
	"context"
	"time"

	"github.com/switchboard-chat/switchboard"
)

// DefaultLimit is the page size when Page.Limit is 0; MaxLimit is the largest.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

// Page asks for one page of a list. Cursor is "" for the first page, else
// the next cursor a previous call returned (opaque; a malformed one is a
// *switchboard.ValidationError for field "cursor"). Limit 0 means DefaultLimit.
type Page struct {
	Cursor string
	Limit  int
}

// Setup is the first-start configuration. Setup runs are idempotent and safe
// when several nodes start at once: exactly one of them creates the default
// department and the first admin.
type Setup struct {
	PortalName        string // name of the default public department; "" means DefaultPortalName
	AdminEmail        string
	AdminName         string // "" means DefaultAdminName
	AdminPasswordHash string
}

// Defaults of the zero fields of Setup.
const (
	DefaultPortalName = "Switchboard"
	DefaultAdminName  = "Administrator"
)

// SetupResult says what Setup found or created.
type SetupResult struct {
	// Created is true only for the call that created the first admin and
	// default department.
	Created    bool
	Department switchboard.Department // the default department (when Created)
	Admin      switchboard.Operator   // the first admin (when Created)
}

// Store is everything durable. Methods return switchboard.ErrNotFound for
// missing (or deleted) objects, a *switchboard.ValidationError naming the
// field for input the database refuses (an unknown operator id), and a
// *switchboard.ConflictError naming the field for uniqueness clashes.
// Other errors are wrapped with the operation's name.
type Store interface {
	ChatStore
	BlockStore
	TransferStore
	DetailStore
	OutboxStore

	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the connections; pending group commits are flushed first.
	Close() error

	// Setup performs first-start setup once per database (see Setup).
	Setup(ctx context.Context, s Setup) (SetupResult, error)
	// EnsureSetting stores value under key unless the key exists, and returns
	// the stored value either way (used for signing keys shared by all nodes).
	EnsureSetting(ctx context.Context, key, value string) (string, error)

	// CreateDepartment stores a new, normalized and validated department. It
	// fills ID, WidgetKey (public departments), CreatedAt and UpdatedAt.
	// Every d.OperatorIDs entry must exist (else a ValidationError for
	// "operator_ids"); a name already used by a live department (ignoring
	// case) is a ConflictError for "name".
	CreateDepartment(ctx context.Context, d *switchboard.Department) error
	// Department returns a live (not deleted) department.
	Department(ctx context.Context, id string) (switchboard.Department, error)
	// DepartmentByWidgetKey returns the live department with that widget key,
	// whatever its visibility or enabled state (callers decide what to show).
	DepartmentByWidgetKey(ctx context.Context, key string) (switchboard.Department, error)
	// Departments lists live departments, oldest first.
	Departments(ctx context.Context, p Page) (items []switchboard.Department, next string, err error)
	// UpdateDepartment reads the department, calls update on it and stores
	// the result, all in one transaction. update normalizes and validates.
	// Turning a department public gives it a widget key; private drops it;
	// clearing the key of a public department gives it a new one. ID and
	// CreatedAt cannot change. OperatorIDs replaces the pool (each must
	// exist, as for CreateDepartment). An error of update is returned as
	// it is, and nothing changes.
	UpdateDepartment(ctx context.Context, id string, update func(*switchboard.Department) error) (switchboard.Department, error)
	// DeleteDepartment removes a department from every list and lookup; its
	// chats stay in history with the department's name. Deleting the last
	// live department is a ConflictError. The deletion is audited as actorID.
	DeleteDepartment(ctx context.Context, id, actorID string) error
	// AddDepartmentOperator associates an operator (idempotent);
	// ErrNotFound when the department or the operator does not exist.
	AddDepartmentOperator(ctx context.Context, departmentID, operatorID string) error
	// RemoveDepartmentOperator dissociates an operator (idempotent);
	// ErrNotFound when the department or the operator does not exist.
	RemoveDepartmentOperator(ctx context.Context, departmentID, operatorID string) error

	// CreateOperator stores a new, normalized and validated operator with its
	// PasswordHash and fills ID and timestamps. A used email is a
	// ConflictError for "email". DepartmentIDs is ignored on create.
	CreateOperator(ctx context.Context, o *switchboard.Operator) error
	// Operator returns an operator with its DepartmentIDs.
	Operator(ctx context.Context, id string) (switchboard.Operator, error)
	// OperatorByEmail looks an operator up by (case-insensitive) email.
	OperatorByEmail(ctx context.Context, email string) (switchboard.Operator, error)
	// Operators lists operators, oldest first, with their DepartmentIDs.
	Operators(ctx context.Context, p Page) (items []switchboard.Operator, next string, err error)
	// UpdateOperator is UpdateDepartment for operators (PasswordHash included;
	// DepartmentIDs is read-only here). Demoting or disabling the last
	// enabled admin is a ConflictError (for "role" or "enabled").
	UpdateOperator(ctx context.Context, id string, update func(*switchboard.Operator) error) (switchboard.Operator, error)
	// DeleteOperator removes an operator, its sessions and memberships.
	// Deleting the last enabled admin is a ConflictError. Audited as actorID.
	DeleteOperator(ctx context.Context, id, actorID string) error

	// CreateSession stores a session (by token hash); ErrNotFound when its
	// operator does not exist.
	CreateSession(ctx context.Context, s switchboard.Session) error
	// SessionOperator returns the session with that token hash and its
	// operator; ErrNotFound when it does not exist, has expired (ExpiresAt
	// is not after now), or its operator is disabled or deleted.
	SessionOperator(ctx context.Context, tokenHash string, now time.Time) (switchboard.Session, switchboard.Operator, error)
	// DeleteSession ends one session (idempotent).
	DeleteSession(ctx context.Context, tokenHash string) error
	// DeleteOperatorSessions ends every session of an operator, but keep
	// (which may be "") — used on password change and disable.
	DeleteOperatorSessions(ctx context.Context, operatorID, keep string) error

	// CreateTicket stores a one-time WebSocket ticket (by hash) for an
	// operator's session; it is valid until expiresAt.
	CreateTicket(ctx context.Context, ticketHash, operatorID, sessionHash string, expiresAt time.Time) error
	// ConsumeTicket deletes the ticket and returns its operator and session
	// hash; ErrNotFound when it does not exist, was used, or expired before now.
	ConsumeTicket(ctx context.Context, ticketHash string, now time.Time) (operatorID, sessionHash string, err error)

	// AuditLog lists audit entries, newest first.
	AuditLog(ctx context.Context, p Page) (items []switchboard.AuditEntry, next string, err error)
}
