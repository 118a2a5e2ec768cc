package loadgen

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard/auth"
	"github.com/switchboard-chat/switchboard/internal/testenv"
	"github.com/switchboard-chat/switchboard/internal/teststore"
	"github.com/switchboard-chat/switchboard/server"
	"github.com/switchboard-chat/switchboard/session"
	"github.com/switchboard-chat/switchboard/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	adminEmail    = "admin@example.com"
	adminPassword = "admin-password"
)

// noLimits turns every WebSocket limit off, as switchboard bench does.
var noLimits = session.Config{Rate: 0, IPMaxSockets: 1 << 30, IPMaxChatsPerHour: 1 << 30}

// startServer runs a server over a fresh store of the backend on a
// loopback port and returns its URL.
func startServer(t *testing.T, backend string, live session.Config) string {
	t.Helper()
	st := teststore.Open(t, backend)
	hash, err := auth.HashPassword(adminPassword)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Setup(t.Context(), store.Setup{PortalName: "Bench", AdminEmail: adminEmail, AdminName: "Admin", AdminPasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(nil)
	srv, err := server.New(context.Background(), server.Config{Store: st, PublicURL: "http://" + hs.Listener.Addr().String(), Live: live})
	if err != nil {
		t.Fatal(err)
	}
	hs.Config.Handler = srv
	hs.Start()
	t.Cleanup(func() {
		hs.CloseClientConnections()
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Drain(ctx)
		srv.Close()
	})
	return hs.URL
}

// syncBuffer collects log output from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func checkResult(t *testing.T, res Result, err error, chats, acked int) {
	t.Helper()
	if err != nil {
		t.Fatalf("Run: %v (result %+v)", err, res)
	}
	for _, w := range res.Warnings {
		t.Logf("warning: %s", w)
	}
	if len(res.Violations) > 0 {
		t.Fatalf("%d violations:\n%s", len(res.Violations), strings.Join(res.Violations, "\n"))
	}
	if res.Chats != chats || res.Acked != acked || res.Sent != acked || res.Received != acked {
		t.Fatalf("chats %d, sent %d, acked %d, received %d; want %d chats and %d messages sent, acked and received",
			res.Chats, res.Sent, res.Acked, res.Received, chats, acked)
	}
	if res.AckLatency.P50 <= 0 || res.AckLatency.Max < res.AckLatency.P99 || res.Delivery.P50 <= 0 || res.AckedPerSec <= 0 {
		t.Fatalf("implausible figures: %+v", res)
	}
}

// TestRun drives 20 chats × 10 messages each way through a real server on
// both store backends and expects every guarantee to hold.
func TestRun(t *testing.T) {
	for _, backend := range teststore.Backends {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			url := startServer(t, backend, noLimits)
			res, err := Run(t.Context(), Config{
				URL: url, AdminEmail: adminEmail, AdminPassword: adminPassword,
				Chats: 20, Operators: 2, Messages: 10, Replies: true, Window: 4, Ramp: 8,
				Timeout: time.Minute, Log: testLog(t),
			})
			checkResult(t, res, err, 20, 20*10*2)
		})
	}
}

// TestRunOneWay: without replies, one operator takes every chat.
func TestRunOneWay(t *testing.T) {
	t.Parallel()
	url := startServer(t, "sqlite", noLimits)
	res, err := Run(t.Context(), Config{
		URL: url, AdminEmail: adminEmail, AdminPassword: adminPassword,
		Chats: 10, Operators: 1, Messages: 5, Window: 1, Timeout: time.Minute, Log: testLog(t),
	})
	checkResult(t, res, err, 10, 10*5)
}

// TestRunRateLimited: a server with a low frame rate refuses part of the
// load; the generator waits as told, says how to start the server,
// and still proves every guarantee.
func TestRunRateLimited(t *testing.T) {
	t.Parallel()
	url := startServer(t, "sqlite", session.Config{Rate: 10, Burst: 10, IPMaxSockets: 1 << 30, IPMaxChatsPerHour: 1 << 30})
	var logs syncBuffer
	res, err := Run(t.Context(), Config{
		URL: url, AdminEmail: adminEmail, AdminPassword: adminPassword,
		Chats: 4, Operators: 1, Messages: 10, Replies: true, Window: 4, Timeout: time.Minute,
		Log: slog.New(slog.NewTextHandler(io.MultiWriter(&logs, t.Output()), &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	checkResult(t, res, err, 4, 4*10*2)
	if !strings.Contains(logs.String(), "--ws-rate 0") {
		t.Fatalf("no hint about --ws-rate in the log:\n%s", logs.String())
	}
}

func TestRunRefusesRemoteServers(t *testing.T) {
	_, err := Run(t.Context(), Config{URL: "http://192.0.2.1:8080", AdminEmail: "a@example.com", AdminPassword: "x"})
	if err == nil || !strings.Contains(err.Error(), "not a loopback address") {
		t.Fatalf("Run against 192.0.2.1: %v, want a refusal", err)
	}
}

func msgs(v *view, seqs ...int64) {
	for _, s := range seqs {
		v.add(message{Seq: s, ClientMsgID: idOf(s), Body: "body " + idOf(s), FromKind: "visitor"})
	}
}

func idOf(seq int64) string { return "v-" + string(rune('a'+seq)) }

func TestCheckView(t *testing.T) {
	tests := []struct {
		name string
		make func(v *view)
		want []string // substrings, one per violation
	}{
		{"in order", func(v *view) { v.resumed(0, 3); msgs(v, 1, 2, 3, 4, 5) }, nil},
		{"live then resume from 0", func(v *view) { msgs(v, 2, 3); v.resumed(0, 3); msgs(v, 1, 2, 3, 4) }, nil},
		{"gap", func(v *view) { v.resumed(0, 2); msgs(v, 1, 2, 4, 5) }, []string{"gap: seq 3 never arrived"}},
		{"duplicate", func(v *view) { v.resumed(0, 2); msgs(v, 1, 2, 2, 3) }, []string{"duplicate: seq 2"}},
		{"reorder", func(v *view) { v.resumed(0, 1); msgs(v, 1, 3, 2, 4) }, []string{"out of order: seq 2 arrived after seq 3"}},
		{"live duplicate", func(v *view) { msgs(v, 5, 6, 6) }, []string{"duplicate: seq 6"}},
		{"short backlog", func(v *view) { v.resumed(2, 6); msgs(v, 3, 4) }, []string{"up to seq 6 (last_seq) but delivered only up to seq 4"}},
		{"short backlog, connection lost", func(v *view) { v.resumed(2, 6); msgs(v, 3, 4); v.dropped = true }, nil},
		{"backlog starts late", func(v *view) { v.resumed(2, 4); msgs(v, 4) }, []string{"gap: seq 3"}},
		{"one seq, two messages", func(v *view) {
			v.resumed(0, 1)
			msgs(v, 1)
			v.resumed(0, 1)
			v.add(message{Seq: 1, ClientMsgID: "other", Body: "other"})
		}, []string{"seq 1 carried two different messages"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &view{who: "visitor 1", chatID: "c1"}
			tt.make(v)
			got := checkView(v)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d violations %q, want %d like %q", len(got), got, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) || !strings.Contains(got[i], "chat c1, visitor 1") {
					t.Errorf("violation %d = %q, want it to contain %q and name the chat and connection", i, got[i], w)
				}
			}
		})
	}
}

func TestCheckChat(t *testing.T) {
	facts := func() *chatFacts {
		f := &chatFacts{chatID: "c1", acked: map[string]int64{}, bodies: map[string]string{}, delivered: map[string]bool{}}
		for s := int64(1); s <= 4; s++ {
			f.acked[idOf(s)] = s
			f.bodies[idOf(s)] = "body " + idOf(s)
			f.delivered[idOf(s)] = true
		}
		return f
	}
	good := func() *view {
		v := &view{who: "final", chatID: "c1"}
		v.resumed(0, 4)
		msgs(v, 1, 2, 3, 4)
		return v
	}
	tests := []struct {
		name  string
		facts func(f *chatFacts)
		final func(v *view) *view
		live  func(v *view)
		want  []string
	}{
		{"all held", nil, nil, nil, nil},
		{"acked message lost", nil, func(*view) *view {
			v := &view{who: "final", chatID: "c1"}
			v.resumed(0, 3)
			msgs(v, 1, 2, 3)
			return v
		}, nil, []string{`acked message "v-e" (seq 4) is missing after resume`}},
		{"acked seq differs", func(f *chatFacts) { f.acked[idOf(2)] = 3 }, nil, nil,
			[]string{`"v-c" was acked as seq 3 but is stored as seq 2`}},
		{"stored twice", nil, func(*view) *view {
			v := &view{who: "final", chatID: "c1"}
			v.resumed(0, 5)
			msgs(v, 1, 2, 3, 4)
			v.add(message{Seq: 5, ClientMsgID: idOf(4), Body: "body " + idOf(4)})
			return v
		}, nil, []string{`client_msg_id "v-e" is stored 2 times (seqs 4..5)`}},
		{"body changed", func(f *chatFacts) { f.bodies[idOf(1)] = "else" }, nil, nil,
			[]string{`"v-b" (seq 1) is stored with another body`}},
		{"not delivered", func(f *chatFacts) { delete(f.delivered, idOf(3)) }, nil, nil,
			[]string{`acked message "v-d" (seq 3) never reached the other side`}},
		{"live view disagrees with the store", nil, nil, func(v *view) {
			v.resumed(0, 1)
			msgs(v, 1)
			v.add(message{Seq: 2, ClientMsgID: "ghost", Body: "ghost"})
		}, []string{`operator 1 saw seq 2 as "ghost", the store has "v-c"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := facts()
			if tt.facts != nil {
				tt.facts(f)
			}
			final := good()
			if tt.final != nil {
				final = tt.final(final)
			}
			var live []*view
			if tt.live != nil {
				v := &view{who: "operator 1", chatID: "c1"}
				tt.live(v)
				live = append(live, v)
			}
			got := checkChat(f, final, live, true)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d violations %q, want %d like %q", len(got), got, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("violation %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

func TestPercentiles(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	got := percentiles(d)
	want := Percentiles{P50: 50 * time.Millisecond, P90: 90 * time.Millisecond, P99: 99 * time.Millisecond, Max: 100 * time.Millisecond}
	if got != want {
		t.Fatalf("percentiles = %+v, want %+v", got, want)
	}
	if (percentiles(nil) != Percentiles{}) {
		t.Fatal("percentiles of nothing should be zero")
	}
}
