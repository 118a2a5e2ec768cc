package switchboard

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Role is what an operator may do. Each role includes the ones below it:
// admin ⊃ supervisor ⊃ operator.
type Role string

const (
	RoleOperator   Role = "operator"   // own departments' chats and history
	RoleSupervisor Role = "supervisor" // all chats and history, monitoring, no settings
	RoleAdmin      Role = "admin"      // everything
)

func (r Role) rank() int {
	switch r {
	case RoleAdmin:
		return 3
	case RoleSupervisor:
		return 2
	case RoleOperator:
		return 1
	}
	return 0
}

// Valid reports whether r is one of the three roles.
func (r Role) Valid() bool { return r.rank() > 0 }

// AtLeast reports whether r includes min (an admin is at least a supervisor).
func (r Role) AtLeast(min Role) bool { return r.rank() >= min.rank() && r.rank() > 0 }

// Status is an operator's availability.
type Status string

const (
	StatusOnline  Status = "online"
	StatusAway    Status = "away"
	StatusOffline Status = "offline"
)

// DefaultMaxChats is how many chats an operator holds at once unless set.
const DefaultMaxChats = 5

// Operator is a person who answers chats in the console.
type Operator struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	Email         string    `json:"email"`
	Role          Role      `json:"role"`
	MaxChats      int       `json:"max_chats"`
	Enabled       bool      `json:"enabled"`
	Locale        string    `json:"locale"` // console language: "en", "ja" or "" (browser)
	DepartmentIDs []string  `json:"department_ids"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	// PasswordHash is never serialized.
	PasswordHash string `json:"-"`
}

// Normalize tidies the operator (see Tidy) and fills defaults for zero values.
func (o *Operator) Normalize() {
	o.Tidy()
	if o.Role == "" {
		o.Role = RoleOperator
	}
	if o.MaxChats == 0 {
		o.MaxChats = DefaultMaxChats
	}
}

// Tidy trims the name, lower-cases the email and makes nil lists empty, but
// fills no defaults.
func (o *Operator) Tidy() {
	o.Name = strings.TrimSpace(o.Name)
	o.Email = strings.ToLower(strings.TrimSpace(o.Email))
	if o.DepartmentIDs == nil {
		o.DepartmentIDs = []string{}
	}
}

// Validate reports the first invalid field as a *ValidationError.
func (o *Operator) Validate() error {
	if o.Name == "" {
		return Invalid("name", "is required")
	}
	if utf8.RuneCountInString(o.Name) > MaxNameLength || strings.ContainsAny(o.Name, "\r\n\x00") {
		return Invalid("name", "must be one line of at most %d characters", MaxNameLength)
	}
	if o.Email == "" {
		return Invalid("email", "is required")
	}
	if _, err := ParseAddress(o.Email); err != nil {
		return Invalid("email", "%v", err)
	}
	if !o.Role.Valid() {
		return Invalid("role", `must be "admin", "supervisor" or "operator"`)
	}
	if o.MaxChats < 1 || o.MaxChats > 100 {
		return Invalid("max_chats", "must be between 1 and 100")
	}
	if o.Locale != "" && o.Locale != "en" && o.Locale != "ja" {
		return Invalid("locale", `must be "en", "ja" or ""`)
	}
	return nil
}

// ValidatePassword checks a new password: 8 to 256 bytes.
func ValidatePassword(p string) error {
	if len(p) < 8 {
		return Invalid("password", "must be at least 8 characters")
	}
	if len(p) > 256 {
		return Invalid("password", "must be at most 256 bytes")
	}
	return nil
}

// Session is a logged-in operator's session. The token itself is never
// stored, only its hash.
type Session struct {
	TokenHash  string
	OperatorID string
	CreatedAt  time.Time
	ExpiresAt  time.Time
}
