package server_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/switchboard-chat/switchboard/internal/teststore"
	"github.com/switchboard-chat/switchboard/session"
	"github.com/switchboard-chat/switchboard/store"
)

// scrape is one parsed GET /metrics.
type scrape struct {
	raw      []byte
	families map[string]*dto.MetricFamily
}

// scrape fetches /metrics in the text format and parses it.
func (n *node) scrape() scrape {
	n.t.Helper()
	resp, err := http.Get(n.http.URL + "/metrics")
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		n.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		n.t.Fatalf("GET /metrics: %s %s\n%s", resp.Status, resp.Header.Get("Content-Type"), raw)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(raw))
	if err != nil {
		n.t.Fatalf("GET /metrics is not the text format: %v\n%s", err, raw)
	}
	return scrape{raw: raw, families: fams}
}

// value returns the value of the series name{labels} (a counter's or
// gauge's value, a histogram's sample count) and whether it exists.
// labels are "k=v" pairs; the series must have exactly these labels.
func (s scrape) value(name string, labels ...string) (float64, bool) {
	f := s.families[name]
	if f == nil {
		return 0, false
	}
	want := slices.Clone(labels)
	sort.Strings(want)
	for _, m := range f.GetMetric() {
		var have []string
		for _, lp := range m.GetLabel() {
			have = append(have, lp.GetName()+"="+lp.GetValue())
		}
		sort.Strings(have)
		if !slices.Equal(have, want) {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		case m.Untyped != nil:
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

// get is value, failing when the series is missing.
func (s scrape) get(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	v, ok := s.value(name, labels...)
	if !ok {
		t.Fatalf("no series %s%v in /metrics:\n%s", name, labels, grepLines(s.raw, name))
	}
	return v
}

// grepLines returns the lines of raw that mention name, for failure messages.
func grepLines(raw []byte, name string) string {
	var out []string
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.Contains(l, name) {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		return "(no line mentions " + name + ")"
	}
	return strings.Join(out, "\n")
}

// expect is one series and the value it must have.
type expect struct {
	name   string
	labels []string
	want   float64
}

func (e expect) String() string { return fmt.Sprintf("%s%v = %v", e.name, e.labels, e.want) }

// waitMetrics scrapes until every expectation holds (some are observed
// just after the frame a test waits for, or by a background worker), and
// returns the last scrape.
func (n *node) waitMetrics(es ...expect) scrape {
	n.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		s := n.scrape()
		var wrong []string
		for _, e := range es {
			if v, ok := s.value(e.name, e.labels...); !ok || v != e.want {
				wrong = append(wrong, fmt.Sprintf("%v (have %v, present %v)", e, v, ok))
			}
		}
		if len(wrong) == 0 {
			return s
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("metrics did not reach:\n  %s", strings.Join(wrong, "\n  "))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// promtool returns the path of promtool, failing with the install command
// when it is missing.
func promtool(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool is not installed (it checks the metrics and alert rules): apt-get install -y --no-install-recommends prometheus (or run scripts/test, which installs it): %v", err)
	}
	return path
}

// promtoolCheckMetrics runs `promtool check metrics` on a scrape and fails
// on any complaint.
func promtoolCheckMetrics(t testing.TB, raw []byte) {
	t.Helper()
	cmd := exec.Command(promtool(t), "check", "metrics")
	cmd.Stdin = bytes.NewReader(raw)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestMetricsFollowAConversation scripts a conversation over real
// WebSockets on both store backends and checks that /metrics moved as it
// went: connections, chats by status, queues, offers and their outcomes,
// assignment and queue-wait histograms, messages relayed and acked,
// group commits, a missed chat, a rate-limited chat, the transcript mail.
// promtool must accept the output.
func TestMetricsFollowAConversation(t *testing.T) {
	teststore.Each(t, func(t *testing.T, st store.Store) {
		// Two chats per IP per hour: the third start is refused.
		n := newNode(t, st, nodeOptions{live: session.Config{IPMaxChatsPerHour: 2}})
		dept := n.dept.ID
		n.api(n.adminToken, "PATCH", "/api/departments/"+dept, map[string]any{"email": map[string]any{
			"transcript": map[string]any{"enabled": true, "to": "archive@example.com"},
		}}, 200, nil)
		// Sales rings for 1 s and misses after 2 s.
		sales := n.department("Sales", 1, 2)

		s0 := n.scrape()
		for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "switchboard_build_info"} {
			if _, ok := s0.families[name]; !ok {
				t.Fatalf("%s missing from /metrics", name)
			}
		}
		for _, e := range []expect{
			{name: "switchboard_open_connections", labels: []string{"kind=operator", "node=local"}},
			{name: "switchboard_open_connections", labels: []string{"kind=visitor", "node=local"}},
			{name: "switchboard_chats", labels: []string{"status=queued"}},
			{name: "switchboard_chats", labels: []string{"status=ongoing"}},
			{name: "switchboard_slow_consumer_disconnects_total"},
			{name: "switchboard_store_errors_total", labels: []string{"kind=unavailable"}},
			{name: "switchboard_mail_pending", labels: []string{"kind=transcript"}},
		} {
			if v := s0.get(t, e.name, e.labels...); v != 0 {
				t.Fatalf("before anything happened: %s%v = %v, want 0", e.name, e.labels, v)
			}
		}

		_, tok := n.operator("alice", 5, dept, sales.ID)
		op := n.operatorConn("alice", tok)
		op.waitType("hello", wait)
		op.ok(frame{"type": "status.set", "status": "online"})
		n.waitMetrics(
			expect{"switchboard_open_connections", []string{"kind=operator", "node=local"}, 1},
			expect{"switchboard_connections_opened_total", []string{"kind=operator"}, 1},
			expect{"switchboard_operators", []string{"department=" + dept, "status=online"}, 1},
			expect{"switchboard_operators", []string{"department=" + sales.ID, "status=online"}, 1},
		)

		// A chat is queued and offered...
		v := n.visitor("yuki", n.dept.WidgetKey, "")
		v.waitType("hello", wait)
		chatID := v.ok(frame{"type": "chat.start", "name": "Yuki", "question": "hello?"}).str("chat_id")
		op.wait(wait, "offer", func(f frame) bool { return f.str("type") == "chat.offer" && f.str("chat_id") == chatID })
		s1 := n.waitMetrics(
			expect{"switchboard_open_connections", []string{"kind=visitor", "node=local"}, 1},
			expect{"switchboard_chats_started_total", []string{"department=" + dept}, 1},
			expect{"switchboard_chats", []string{"status=queued"}, 1},
			expect{"switchboard_chats", []string{"status=ongoing"}, 0},
			expect{"switchboard_queue_length", []string{"department=" + dept}, 1},
			expect{"switchboard_offers_total", []string{"department=" + dept}, 1},
		)

		// ... accepted, and talked in: 3 visitor and 2 operator messages.
		time.Sleep(100 * time.Millisecond) // a measurable wait
		op.ok(frame{"type": "chat.accept", "chat_id": chatID})
		v.waitType("chat.assigned", wait)
		for i := range 3 {
			v.ok(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": "v" + itoa(i), "body": "visitor " + itoa(i)})
		}
		for i := range 2 {
			op.ok(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": "o" + itoa(i), "body": "operator " + itoa(i)})
		}
		// A retry is acked again but not relayed again.
		v.ok(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": "v0", "body": "visitor 0"})
		s2 := n.waitMetrics(
			expect{"switchboard_chats", []string{"status=queued"}, 0},
			expect{"switchboard_chats", []string{"status=ongoing"}, 1},
			expect{"switchboard_offer_outcomes_total", []string{"department=" + dept, "outcome=accepted"}, 1},
			expect{"switchboard_assignment_latency_seconds", []string{"department=" + dept}, 1},
			expect{"switchboard_queue_wait_seconds", []string{"department=" + dept}, 1},
			expect{"switchboard_messages_relayed_total", []string{"from=visitor"}, 3},
			expect{"switchboard_messages_relayed_total", []string{"from=operator"}, 2},
			expect{"switchboard_message_ack_latency_seconds", nil, 6},
		)
		if _, ok := s2.value("switchboard_queue_length", "department="+dept); ok {
			t.Fatalf("an empty queue is still reported:\n%s", grepLines(s2.raw, "queue_length"))
		}
		if s2.get(t, "switchboard_messages_relayed_total", "from=system") < 1 {
			t.Fatal("the joined notice was not counted as relayed")
		}
		// Every message went through a group commit; the accept and the
		// chat's creation through write transactions.
		if b1, b2 := s1.get(t, "switchboard_store_append_batch_size"), s2.get(t, "switchboard_store_append_batch_size"); b2-b1 < 5 {
			t.Fatalf("group commits: %v before, %v after 5 messages", b1, b2)
		}
		if tx := s2.get(t, "switchboard_store_transaction_duration_seconds"); tx < 1 {
			t.Fatalf("store transactions observed: %v", tx)
		}
		// The visitor waited at least the 100 ms slept above.
		if h := s2.families["switchboard_assignment_latency_seconds"].GetMetric()[0].GetHistogram(); h.GetSampleSum() < 0.1 {
			t.Fatalf("assignment latency sum %v s, want ≥ 0.1 s", h.GetSampleSum())
		}

		// A chat in Sales is declined and then missed at its wait timeout.
		v2 := n.visitor("kenji", sales.WidgetKey, "")
		v2.waitType("hello", wait)
		chat2 := v2.ok(frame{"type": "chat.start", "question": "price?"}).str("chat_id")
		op.wait(wait, "offer", func(f frame) bool { return f.str("type") == "chat.offer" && f.str("chat_id") == chat2 })
		op.ok(frame{"type": "chat.decline", "chat_id": chat2})
		v2.waitType("chat.missed", wait)
		n.waitMetrics(
			expect{"switchboard_offer_outcomes_total", []string{"department=" + sales.ID, "outcome=declined"}, 1},
			expect{"switchboard_missed_chats_total", []string{"department=" + sales.ID}, 1},
			expect{"switchboard_queue_wait_seconds", []string{"department=" + sales.ID}, 1},
			expect{"switchboard_chats", []string{"status=queued"}, 0},
		)

		// A third chat from the same address is over the hourly limit.
		v2.refused(frame{"type": "chat.start", "question": "again"}, "rate_limited")

		// Ending the chat queues its transcript, which the worker sends.
		op.ok(frame{"type": "chat.end", "chat_id": chatID})
		v.ws.Close(1000, "bye")
		v2.ws.Close(1000, "bye")
		s3 := n.waitMetrics(
			expect{"switchboard_rate_limited_total", []string{"limit=chats_per_ip"}, 1},
			expect{"switchboard_chats", []string{"status=ongoing"}, 0},
			expect{"switchboard_mail_attempts_total", []string{"kind=transcript", "outcome=sent"}, 1},
			expect{"switchboard_mail_pending", []string{"kind=transcript"}, 0},
			expect{"switchboard_open_connections", []string{"kind=visitor", "node=local"}, 0},
			expect{"switchboard_connections_opened_total", []string{"kind=visitor"}, 2},
			expect{"switchboard_open_connections", []string{"kind=operator", "node=local"}, 1},
			expect{"switchboard_store_errors_total", []string{"kind=unavailable"}, 0},
			expect{"switchboard_store_errors_total", []string{"kind=other"}, 0},
			expect{"switchboard_slow_consumer_disconnects_total", nil, 0},
		)
		promtoolCheckMetrics(t, s3.raw)

		// Label values are fixed words, department ids and the node name:
		// nothing the visitor typed.
		for _, typed := range []string{"Yuki", "hello?", "price?", "visitor 0", "archive@example.com"} {
			if bytes.Contains(s3.raw, []byte(typed)) {
				t.Fatalf("user input %q appears in /metrics:\n%s", typed, grepLines(s3.raw, typed))
			}
		}
	})
}
