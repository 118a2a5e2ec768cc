package switchboard_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard-chat/switchboard"
)

func TestParseAddress(t *testing.T) {
	for _, ok := range []string{"a@example.com", " b.c+tag@sub.example.co.jp ", "ops@localhost"} {
		if got, err := switchboard.ParseAddress(ok); err != nil || got != strings.TrimSpace(ok) {
			t.Errorf("ParseAddress(%q) = %q, %v", ok, got, err)
		}
	}
	for _, bad := range []string{"", "a", "a@", "@example.com", "Name <a@example.com>", "a@example.com\r\nBcc: x@example.com",
		"a b@example.com", "a@example.com,b@example.com", "a@nodot", strings.Repeat("a", 250) + "@example.com"} {
		if _, err := switchboard.ParseAddress(bad); err == nil {
			t.Errorf("ParseAddress(%q) accepted", bad)
		}
	}
}

func TestSplitAddresses(t *testing.T) {
	got := switchboard.SplitAddresses(" a@x.com, ,b@x.com,")
	if !slices.Equal(got, []string{"a@x.com", "b@x.com"}) {
		t.Fatalf("got %q", got)
	}
	if got := switchboard.SplitAddresses(""); got == nil || len(got) != 0 {
		t.Fatalf("empty string gave %#v, want an empty list", got)
	}
}

func TestCanonicalOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"https://Example.com":     "https://example.com",
		"https://example.com:443": "https://example.com",
		"http://example.com:80/":  "http://example.com",
		"http://localhost:3000":   "http://localhost:3000",
		"http://[::1]:8080":       "http://[::1]:8080",
	} {
		if got, err := switchboard.CanonicalOrigin(in); err != nil || got != want {
			t.Errorf("CanonicalOrigin(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"example.com", "ftp://example.com", "https://example.com/path", "https://u@example.com", "https://example.com?q"} {
		if _, err := switchboard.CanonicalOrigin(bad); err == nil {
			t.Errorf("CanonicalOrigin(%q) accepted", bad)
		}
	}
}

func TestDepartmentValidateNamesTheField(t *testing.T) {
	base := func() switchboard.Department {
		d := switchboard.Department{Name: "Sales"}
		d.Normalize()
		return d
	}
	d := base()
	if err := d.Validate(); err != nil {
		t.Fatalf("valid department refused: %v", err)
	}
	if d.WidgetKey != "" || d.Routing != switchboard.RoutingAuto || d.RingTimeoutS != 30 || d.Email.CC.To == nil {
		t.Fatalf("defaults = %+v", d)
	}
	if d.Prechat != (switchboard.PrechatSettings{Name: "optional", Email: "optional", Question: "required"}) {
		t.Fatalf("prechat defaults = %+v", d.Prechat)
	}
	for field, mutate := range map[string]func(*switchboard.Department){
		"name":                func(d *switchboard.Department) { d.Name = "" },
		"visibility":          func(d *switchboard.Department) { d.Visibility = "hidden" },
		"routing":             func(d *switchboard.Department) { d.Routing = "x" },
		"wait_timeout_s":      func(d *switchboard.Department) { d.WaitTimeoutS = 3601 },
		"locale":              func(d *switchboard.Department) { d.Locale = "fr" },
		"allowed_origins":     func(d *switchboard.Department) { d.AllowedOrigins = []string{"nope"} },
		"email.from_address":  func(d *switchboard.Department) { d.Email.FromAddress = "x" },
		"email.feedback.to":   func(d *switchboard.Department) { d.Email.Feedback.To = []string{"ok@x.com", "bad"} },
		"email.blocked_ip.to": func(d *switchboard.Department) { d.Email.BlockedIP.To = []string{"a@x.com\nb"} },
		"prechat.name":        func(d *switchboard.Department) { d.Prechat.Name = "mandatory" },
		"prechat.email":       func(d *switchboard.Department) { d.Prechat.Email = "" },
		"prechat.question":    func(d *switchboard.Department) { d.Prechat.Question = "Off" },
		"fallback_department_id": func(d *switchboard.Department) {
			d.ID = "d1"
			d.FallbackDepartmentID = "d1"
		},
	} {
		d := base()
		mutate(&d)
		err := d.Validate()
		var ve *switchboard.ValidationError
		if !errors.As(err, &ve) || ve.Field != field || !errors.Is(err, switchboard.ErrInvalid) {
			t.Errorf("%s: got %v", field, err)
		}
	}
}

func TestEmailSettingRecipients(t *testing.T) {
	s := switchboard.EmailSetting{Enabled: false, To: []string{"a@x.com"}}
	if s.Recipients() != nil {
		t.Fatal("a switched-off setting has recipients")
	}
	s.Enabled = true
	if !slices.Equal(s.Recipients(), []string{"a@x.com"}) {
		t.Fatal("switched-on setting lost its recipients")
	}
}

func TestRoles(t *testing.T) {
	a, s, o := switchboard.RoleAdmin, switchboard.RoleSupervisor, switchboard.RoleOperator
	if !a.AtLeast(s) || !s.AtLeast(o) || o.AtLeast(s) || s.AtLeast(a) || switchboard.Role("x").AtLeast(o) {
		t.Fatal("role order is wrong")
	}
}

func TestNewIDIsRandom(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := switchboard.NewID()
		if len(id) != 26 || seen[id] {
			t.Fatalf("bad or repeated id %q", id)
		}
		seen[id] = true
	}
}
