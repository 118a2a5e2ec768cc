package storetest

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store"
)

func newBlock(t *testing.T, s store.Store, b switchboard.BlockedIP) switchboard.BlockedIP {
	t.Helper()
	if err := s.CreateBlock(t.Context(), &b); err != nil {
		t.Fatalf("CreateBlock(%q): %v", b.IP, err)
	}
	return b
}

func wantBlocked(t *testing.T, s store.Store, ip, dept string, at time.Time, want bool) {
	t.Helper()
	got, err := s.IPBlocked(t.Context(), netip.MustParseAddr(ip), dept, at)
	if err != nil {
		t.Fatalf("IPBlocked(%s, %q): %v", ip, dept, err)
	}
	if got != want {
		t.Errorf("IPBlocked(%s, %q) at %v = %v, want %v", ip, dept, at, got, want)
	}
}

var blockCases = []testCase{
	{"create, list newest first and delete", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		d := newDepartment(t, s, "Sales")
		op := newOperator(t, s, "ann@example.com", switchboard.RoleOperator)
		exp := time.Now().Add(time.Hour)
		a := newBlock(t, s, switchboard.BlockedIP{IP: " 192.0.2.7 ", Reason: "spam", DepartmentID: d.ID, ChatID: "chat-1", CreatedBy: op.ID, ExpiresAt: &exp})
		if a.ID == "" || a.CreatedAt.IsZero() || a.IP != "192.0.2.7" {
			t.Errorf("created block = %+v, want an id, a time and the trimmed ip", a)
		}
		time.Sleep(2 * time.Millisecond) // distinct creation times: the order is by time
		b := newBlock(t, s, switchboard.BlockedIP{IP: "2001:db8::/32"})
		time.Sleep(2 * time.Millisecond)
		c := newBlock(t, s, switchboard.BlockedIP{IP: "10.0.0.0/8", Reason: "理由"})
		var got []string
		var all []switchboard.BlockedIP
		cursor := ""
		for range 5 {
			items, next, err := s.Blocks(ctx, store.Page{Cursor: cursor, Limit: 2})
			noErr(t, err, "Blocks")
			all = append(all, items...)
			for _, it := range items {
				got = append(got, it.ID)
			}
			if next == "" {
				break
			}
			cursor = next
		}
		if want := []string{c.ID, b.ID, a.ID}; !slices.Equal(got, want) {
			t.Fatalf("Blocks = %v, want newest first %v", got, want)
		}
		first := all[2]
		if first.Reason != "spam" || first.DepartmentID != d.ID || first.ChatID != "chat-1" || first.CreatedBy != op.ID ||
			first.ExpiresAt == nil || !first.ExpiresAt.Equal(*a.ExpiresAt) || !first.CreatedAt.Equal(a.CreatedAt) {
			t.Errorf("stored block = %+v, want %+v", first, a)
		}
		if all[1].ExpiresAt != nil || all[0].Reason != "理由" {
			t.Errorf("stored blocks = %+v", all[:2])
		}
		noErr(t, s.DeleteBlock(ctx, b.ID), "DeleteBlock")
		wantNotFound(t, s.DeleteBlock(ctx, b.ID), "DeleteBlock twice")
		wantNotFound(t, s.DeleteBlock(ctx, "no-such-block"), "DeleteBlock of an unknown id")
		items, _, err := s.Blocks(ctx, store.Page{})
		noErr(t, err, "Blocks")
		if len(items) != 2 {
			t.Errorf("Blocks after a delete: %d items, want 2", len(items))
		}
		_, _, err = s.Blocks(ctx, store.Page{Cursor: "garbage!"})
		wantInvalid(t, err, "cursor", "Blocks with a bad cursor")
	}},
	{"bad input", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		past := time.Now().Add(-time.Minute)
		for _, tc := range []struct {
			b     switchboard.BlockedIP
			field string
		}{
			{switchboard.BlockedIP{IP: ""}, "ip"},
			{switchboard.BlockedIP{IP: "300.1.1.1"}, "ip"},
			{switchboard.BlockedIP{IP: "10.0.0.0/33"}, "ip"},
			{switchboard.BlockedIP{IP: "example.com"}, "ip"},
			{switchboard.BlockedIP{IP: "10.0.0.1'; DROP TABLE blocked_ips; --"}, "ip"},
			{switchboard.BlockedIP{IP: "10.0.0.1", DepartmentID: "no-such-department"}, "department_id"},
			{switchboard.BlockedIP{IP: "10.0.0.1", ExpiresAt: &past}, "expires_at"},
			{switchboard.BlockedIP{IP: "10.0.0.1", Reason: strings.Repeat("x", 1001)}, "reason"},
			{switchboard.BlockedIP{IP: "10.0.0.1", Reason: "a\x00b"}, "reason"},
		} {
			b := tc.b
			wantInvalid(t, s.CreateBlock(ctx, &b), tc.field, "CreateBlock "+tc.b.IP)
			if b.ID != "" {
				t.Errorf("a failed CreateBlock filled the id")
			}
		}
		items, _, err := s.Blocks(ctx, store.Page{})
		noErr(t, err, "Blocks")
		if len(items) != 0 {
			t.Errorf("Blocks after refused creates = %v, want none", items)
		}
	}},
	{"IPBlocked: addresses, CIDRs, departments, expiry", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		d1 := newDepartment(t, s, "One")
		d2 := newDepartment(t, s, "Two")
		now := time.Now()
		soon := now.Add(time.Minute)
		newBlock(t, s, switchboard.BlockedIP{IP: "192.0.2.7"})
		newBlock(t, s, switchboard.BlockedIP{IP: "198.51.100.0/24", DepartmentID: d1.ID})
		newBlock(t, s, switchboard.BlockedIP{IP: "2001:db8::/48"})
		newBlock(t, s, switchboard.BlockedIP{IP: "203.0.113.9", ExpiresAt: &soon})
		wantBlocked(t, s, "192.0.2.7", d1.ID, now, true)
		wantBlocked(t, s, "192.0.2.7", d2.ID, now, true)
		wantBlocked(t, s, "::ffff:192.0.2.7", d2.ID, now, true)
		wantBlocked(t, s, "192.0.2.8", d1.ID, now, false)
		wantBlocked(t, s, "198.51.100.200", d1.ID, now, true)
		wantBlocked(t, s, "198.51.100.200", d2.ID, now, false)
		wantBlocked(t, s, "198.51.101.1", d1.ID, now, false)
		wantBlocked(t, s, "2001:db8:0:1::5", d2.ID, now, true)
		wantBlocked(t, s, "2001:db9::5", d2.ID, now, false)
		wantBlocked(t, s, "203.0.113.9", d1.ID, now, true)
		wantBlocked(t, s, "203.0.113.9", d1.ID, soon, false)
		wantBlocked(t, s, "203.0.113.9", d1.ID, soon.Add(time.Hour), false)
		got, err := s.IPBlocked(ctx, netip.Addr{}, d1.ID, now)
		if err != nil || got {
			t.Errorf("IPBlocked(invalid address) = %v, %v; want false, nil", got, err)
		}
	}},
	{"the department's blocked-IP email is queued with the block", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		on := newDepartment(t, s, "Mailing", func(d *switchboard.Department) {
			d.Email.FromAddress = "desk@example.com"
			d.Email.BlockedIP = switchboard.EmailSetting{Enabled: true, To: []string{"sec@example.com", "boss@example.com"}}
		})
		off := newDepartment(t, s, "Quiet", func(d *switchboard.Department) {
			d.Email.BlockedIP = switchboard.EmailSetting{Enabled: false, To: []string{"sec@example.com"}}
		})
		op := newOperator(t, s, "ann@example.com", switchboard.RoleOperator)
		newBlock(t, s, switchboard.BlockedIP{IP: "192.0.2.7", Reason: "abuse <b>", DepartmentID: on.ID, ChatID: "chat-on", CreatedBy: op.ID})
		newBlock(t, s, switchboard.BlockedIP{IP: "192.0.2.8", DepartmentID: off.ID, ChatID: "chat-off", CreatedBy: op.ID})
		newBlock(t, s, switchboard.BlockedIP{IP: "192.0.2.9", ChatID: "chat-none", CreatedBy: op.ID})
		mails, err := s.ChatMails(ctx, "chat-on")
		noErr(t, err, "ChatMails")
		if len(mails) != 1 {
			t.Fatalf("ChatMails(chat-on) = %d mails, want 1", len(mails))
		}
		m := mails[0]
		if m.Kind != switchboard.MailBlockedIP || m.Status != switchboard.MailPending || m.DepartmentID != on.ID ||
			m.From != "desk@example.com" || !slices.Equal(m.To, []string{"boss@example.com", "sec@example.com"}) && !slices.Equal(m.To, []string{"sec@example.com", "boss@example.com"}) ||
			m.MessageID == "" || m.Attempts != 0 || m.SentAt != nil {
			t.Errorf("mail = %+v", m)
		}
		for _, want := range []string{"192.0.2.7", "abuse <b>", "chat-on", "ann@example.com", "ブロック", "blocked"} {
			if !strings.Contains(m.TextBody, want) {
				t.Errorf("mail body lacks %q:\n%s", want, m.TextBody)
			}
		}
		if !strings.Contains(m.Subject, "192.0.2.7") {
			t.Errorf("subject %q lacks the ip", m.Subject)
		}
		for _, chat := range []string{"chat-off", "chat-none"} {
			mails, err := s.ChatMails(ctx, chat)
			noErr(t, err, "ChatMails")
			if len(mails) != 0 {
				t.Errorf("ChatMails(%s) = %v, want none", chat, mails)
			}
		}
	}},
}
