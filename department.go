package switchboard

import (
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// Visibility says whether visitors can see a department.
type Visibility string

const (
	// Public departments have a widget and are visible to visitors.
	Public Visibility = "public"
	// Private departments are internal: reachable only by transfer.
	Private Visibility = "private"
)

// Routing is how the router offers a department's new chats.
type Routing string

const (
	// RoutingAuto offers a chat to one operator at a time: least active chats,
	// then longest idle.
	RoutingAuto Routing = "auto"
	// RoutingBroadcast offers a chat to every eligible operator; the first to
	// accept wins.
	RoutingBroadcast Routing = "broadcast"
)

// Defaults of a new department.
const (
	DefaultRingTimeout = 30  // seconds
	DefaultWaitTimeout = 120 // seconds
	MaxNameLength      = 100 // characters
	MaxDescription     = 2000
	MaxAddresses       = 50 // per email setting
	MaxOrigins         = 50
)

// Department is a team that takes chats. Public departments each have their
// own widget (WidgetKey); private ones are reachable only by transfer and
// have an empty WidgetKey.
type Department struct {
	ID             string        `json:"id"`
	Name           string        `json:"name"`
	Description    string        `json:"description"`
	Visibility     Visibility    `json:"visibility"`
	Enabled        bool          `json:"enabled"`
	Routing        Routing       `json:"routing"`
	WidgetKey      string        `json:"widget_key"`
	AllowedOrigins []string      `json:"allowed_origins"`
	OperatorIDs    []string      `json:"operator_ids"`
	RingTimeoutS   int           `json:"ring_timeout_s"`
	WaitTimeoutS   int           `json:"wait_timeout_s"`
	Locale         string        `json:"locale"` // "en", "ja", or "" to follow the visitor's browser
	Email          EmailSettings `json:"email"`
	// FallbackDepartmentID is "" or a live department other than this one
	// that takes this department's chats when nobody here is online or the
	// wait timeout passes, before they turn missed. The fallback's own
	// fallback is not followed.
	FallbackDepartmentID string `json:"fallback_department_id"`
	// Prechat says which fields the widget's pre-chat form asks for.
	Prechat   PrechatSettings `json:"prechat"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// FieldMode says whether the widget's pre-chat form asks for a field.
type FieldMode string

const (
	FieldRequired FieldMode = "required" // asked, and the form cannot be sent without it
	FieldOptional FieldMode = "optional" // asked, may be left empty
	FieldOff      FieldMode = "off"      // not asked
)

// PrechatSettings are the fields of the widget's pre-chat form. Defaults:
// name and email optional, question required (the question is the chat's
// first message, so an operator sees at once what it is about). The widget's
// offline form (nobody online, or the chat was missed) always asks for the
// email and a message, whatever these say: without them nobody can answer.
type PrechatSettings struct {
	Name     FieldMode `json:"name"`
	Email    FieldMode `json:"email"`
	Question FieldMode `json:"question"`
}

// DefaultPrechat is the pre-chat form of a new department.
var DefaultPrechat = PrechatSettings{Name: FieldOptional, Email: FieldOptional, Question: FieldRequired}

func (p *PrechatSettings) fields() []*FieldMode { return []*FieldMode{&p.Name, &p.Email, &p.Question} }

// PrechatFieldNames are the JSON names of the pre-chat fields, in the order
// of PrechatSettings.
var PrechatFieldNames = []string{"name", "email", "question"}

// EmailSettings are a department's six email settings (the seeds' メール設定).
type EmailSettings struct {
	// FromAddress is the sender of every email of the department; "" falls
	// back to the server's address.
	FromAddress string `json:"from_address"`
	// Transcript goes out when a chat ends.
	Transcript EmailSetting `json:"transcript"`
	// BlockedIP tells when an operator blocks a visitor's IP.
	BlockedIP EmailSetting `json:"blocked_ip"`
	// Feedback forwards a visitor's rating and comment.
	Feedback EmailSetting `json:"feedback"`
	// Missed tells when a chat was not answered.
	Missed EmailSetting `json:"missed"`
	// CC is copied on every email sent to a visitor.
	CC EmailSetting `json:"cc"`
}

// EmailSetting is one switchable list of recipients. Switching it off keeps
// the addresses.
type EmailSetting struct {
	Enabled bool     `json:"enabled"`
	To      []string `json:"to"`
}

// Recipients returns the addresses to send to: none when switched off.
func (s EmailSetting) Recipients() []string {
	if !s.Enabled {
		return nil
	}
	return s.To
}

// Normalize tidies the department (see Tidy) and fills defaults for zero
// values, so that stored and returned departments look the same.
func (d *Department) Normalize() {
	d.Tidy()
	if d.Visibility == "" {
		d.Visibility = Public
	}
	if d.Routing == "" {
		d.Routing = RoutingAuto
	}
	if d.RingTimeoutS == 0 {
		d.RingTimeoutS = DefaultRingTimeout
	}
	if d.WaitTimeoutS == 0 {
		d.WaitTimeoutS = DefaultWaitTimeout
	}
	defaults := DefaultPrechat
	for i, f := range d.Prechat.fields() {
		if *f == "" {
			*f = *defaults.fields()[i]
		}
	}
}

// Tidy trims text fields, makes nil lists empty and drops a private
// department's widget key, but fills no defaults: input that sets a field to
// its zero value explicitly is then refused by Validate.
func (d *Department) Tidy() {
	d.Name = strings.TrimSpace(d.Name)
	d.Description = strings.TrimSpace(d.Description)
	d.Email.FromAddress = strings.TrimSpace(d.Email.FromAddress)
	d.FallbackDepartmentID = strings.TrimSpace(d.FallbackDepartmentID)
	for _, s := range d.Email.settings() {
		if s.To == nil {
			s.To = []string{}
		}
	}
	if d.AllowedOrigins == nil {
		d.AllowedOrigins = []string{}
	}
	if d.OperatorIDs == nil {
		d.OperatorIDs = []string{}
	}
	if d.Visibility == Private {
		d.WidgetKey = ""
	}
}

func (e *EmailSettings) settings() []*EmailSetting {
	return []*EmailSetting{&e.Transcript, &e.BlockedIP, &e.Feedback, &e.Missed, &e.CC}
}

// EmailSettingNames are the JSON names of the five recipient settings, in the
// seeds' order.
var EmailSettingNames = []string{"transcript", "blocked_ip", "feedback", "missed", "cc"}

// Validate reports the first invalid field of a normalized department as a
// *ValidationError naming it.
func (d *Department) Validate() error {
	if d.Name == "" {
		return Invalid("name", "is required")
	}
	if n := utf8.RuneCountInString(d.Name); n > MaxNameLength {
		return Invalid("name", "is %d characters long; at most %d are allowed", n, MaxNameLength)
	}
	if strings.ContainsAny(d.Name, "\r\n\x00") {
		return Invalid("name", "must be one line")
	}
	if utf8.RuneCountInString(d.Description) > MaxDescription {
		return Invalid("description", "is longer than %d characters", MaxDescription)
	}
	if d.Visibility != Public && d.Visibility != Private {
		return Invalid("visibility", "must be %q or %q", Public, Private)
	}
	if d.Routing != RoutingAuto && d.Routing != RoutingBroadcast {
		return Invalid("routing", "must be %q or %q", RoutingAuto, RoutingBroadcast)
	}
	if d.RingTimeoutS < 1 || d.RingTimeoutS > 600 {
		return Invalid("ring_timeout_s", "must be between 1 and 600 seconds")
	}
	if d.WaitTimeoutS < 1 || d.WaitTimeoutS > 3600 {
		return Invalid("wait_timeout_s", "must be between 1 and 3600 seconds")
	}
	if d.Locale != "" && d.Locale != "en" && d.Locale != "ja" {
		return Invalid("locale", `must be "en", "ja" or "" (follow the visitor's browser)`)
	}
	for i, f := range d.Prechat.fields() {
		if *f != FieldRequired && *f != FieldOptional && *f != FieldOff {
			return Invalid("prechat."+PrechatFieldNames[i], "must be %q, %q or %q", FieldRequired, FieldOptional, FieldOff)
		}
	}
	if d.FallbackDepartmentID != "" && d.FallbackDepartmentID == d.ID {
		return Invalid("fallback_department_id", "must be another department than this one")
	}
	if len(d.AllowedOrigins) > MaxOrigins {
		return Invalid("allowed_origins", "has more than %d origins", MaxOrigins)
	}
	for i, o := range d.AllowedOrigins {
		canon, err := CanonicalOrigin(o)
		if err != nil {
			return Invalid("allowed_origins", "%q: %v", o, err)
		}
		d.AllowedOrigins[i] = canon
	}
	if d.Email.FromAddress != "" {
		addr, err := ParseAddress(d.Email.FromAddress)
		if err != nil {
			return Invalid("email.from_address", "%v", err)
		}
		d.Email.FromAddress = addr
	}
	for i, s := range d.Email.settings() {
		field := "email." + EmailSettingNames[i] + ".to"
		if len(s.To) > MaxAddresses {
			return Invalid(field, "has more than %d addresses", MaxAddresses)
		}
		for j, a := range s.To {
			addr, err := ParseAddress(a)
			if err != nil {
				return Invalid(field, "%v", err)
			}
			s.To[j] = addr
		}
	}
	return nil
}

// ParseAddress validates one bare email address (no display name, no
// CR/LF) and returns it trimmed. The error says what is wrong.
func ParseAddress(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("empty address")
	}
	if len(s) > 254 {
		return "", fmt.Errorf("address %.40q… is longer than 254 bytes", s)
	}
	if strings.ContainsAny(s, "\r\n\x00<>\" ,;") {
		return "", fmt.Errorf("%q is not a valid email address", s)
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return "", fmt.Errorf("%q is not a valid email address", s)
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || !strings.Contains(s[at+1:], ".") && s[at+1:] != "localhost" {
		return "", fmt.Errorf("%q is not a valid email address", s)
	}
	return s, nil
}

// SplitAddresses splits a comma-separated list of addresses, trims each and
// drops empty items, keeping their order. "" gives an empty, non-nil list.
func SplitAddresses(s string) []string {
	out := []string{}
	for part := range strings.SplitSeq(s, ",") {
		if p := strings.TrimSpace(part); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// CanonicalOrigin checks that s is a web origin (scheme://host[:port], no
// path) and returns it lower-cased with the default port dropped, so that
// comparison with a browser's Origin header is exact.
func CanonicalOrigin(s string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("not an origin (want scheme://host[:port])")
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("an origin has no path, query, fragment or user")
	}
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return u.Scheme + "://" + host, nil
}
