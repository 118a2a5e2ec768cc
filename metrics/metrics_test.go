package metrics_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/switchboard-chat/switchboard/metrics"
)

// exercise calls every observer once or more, so that every metric has a series.
func exercise(s *metrics.Set) {
	s.ConnOpened(metrics.KindVisitor)
	s.ConnOpened(metrics.KindOperator)
	s.ConnOpened(metrics.KindVisitor)
	s.ConnClosed(metrics.KindVisitor)
	s.MessageRelayed("visitor")
	s.MessageAcked(3 * time.Millisecond)
	s.SlowConsumer()
	s.RateLimited("frames")
	s.ChatStarted("d1")
	s.Offered("d1")
	s.OfferOutcome("d1", metrics.OfferAccepted)
	s.LeftQueue("d1", 4*time.Second)
	s.Assigned("d1", 4*time.Second)
	s.Missed("d2")
	s.Transfer("d1", "completed")
	s.MailAttempt("transcript", metrics.MailSent)
	s.StoreTransaction(2 * time.Millisecond)
	s.StoreError("unavailable")
	s.AppendBatch(17)
	s.RedisCommand("publish", time.Millisecond, nil)
	s.RedisCommand("publish", time.Millisecond, errors.New("connection refused"))
	s.RedisCommand("publish", time.Millisecond, context.Canceled) // the caller gave up: no error
	s.SetSources(metrics.Sources{
		Router: func() metrics.RouterState {
			return metrics.RouterState{
				Queued:    map[string]int{"d1": 2, "d2": 1},
				Ongoing:   map[string]int{"d1": 4},
				Operators: map[metrics.OperatorKey]int{{Department: "d1", Status: "online"}: 3, {Department: "d1", Status: "away"}: 1},
			}
		},
		PendingMail: func(context.Context) (map[string]int, error) { return map[string]int{"missed": 5}, nil },
	})
}

func gather(t *testing.T, s *metrics.Set) map[string]*dto.MetricFamily {
	t.Helper()
	fams, err := s.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

// value finds the series of name whose labels include every k=v given.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("no metric %s", name)
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		for _, kv := range labels {
			k, v, _ := strings.Cut(kv, "=")
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return 0
}

// TestNamingConventions: every Switchboard metric has the prefix and help,
// counters end in _total, histograms are in seconds (or a batch size),
// gauges do not pretend to be counters; the Go runtime and process
// collectors are registered.
func TestNamingConventions(t *testing.T) {
	s := metrics.New(metrics.Config{})
	exercise(s)
	fams := gather(t, s)
	for _, n := range s.Names() {
		f := fams[n]
		if f == nil {
			t.Errorf("%s is declared but has no series after every observer was called", n)
			continue
		}
		if f.GetHelp() == "" {
			t.Errorf("%s has no help", n)
		}
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			if !strings.HasSuffix(n, "_total") {
				t.Errorf("counter %s does not end in _total", n)
			}
		case dto.MetricType_HISTOGRAM:
			if !strings.HasSuffix(n, "_seconds") && !strings.HasSuffix(n, "_size") {
				t.Errorf("histogram %s is in neither seconds nor a size", n)
			}
		case dto.MetricType_GAUGE:
			if strings.HasSuffix(n, "_total") {
				t.Errorf("gauge %s ends in _total", n)
			}
		}
	}
	for name := range fams {
		if strings.HasPrefix(name, "switchboard_") {
			if _, ok := s.Labels(name); !ok {
				t.Errorf("%s is registered but not declared (Names would miss it)", name)
			}
		}
	}
	for _, n := range []string{"go_goroutines", "go_memstats_heap_inuse_bytes", "process_cpu_seconds_total", "process_open_fds"} {
		if fams[n] == nil {
			t.Errorf("runtime or process metric %s is missing", n)
		}
	}
}

// TestObserversMoveTheirMetrics checks each observer against its series.
func TestObserversMoveTheirMetrics(t *testing.T) {
	s := metrics.New(metrics.Config{Node: "node-a", Version: "1.2.3"})
	exercise(s)
	f := gather(t, s)
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"switchboard_build_info", []string{"version=1.2.3", "node=node-a"}, 1},
		{"switchboard_open_connections", []string{"kind=visitor", "node=node-a"}, 1},
		{"switchboard_open_connections", []string{"kind=operator", "node=node-a"}, 1},
		{"switchboard_connections_opened_total", []string{"kind=visitor"}, 2},
		{"switchboard_messages_relayed_total", []string{"from=visitor"}, 1},
		{"switchboard_messages_relayed_total", []string{"from=system"}, 0},
		{"switchboard_message_ack_latency_seconds", nil, 1},
		{"switchboard_slow_consumer_disconnects_total", nil, 1},
		{"switchboard_rate_limited_total", []string{"limit=frames"}, 1},
		{"switchboard_rate_limited_total", []string{"limit=chats_per_ip"}, 0},
		{"switchboard_chats_started_total", []string{"department=d1"}, 1},
		{"switchboard_offers_total", []string{"department=d1"}, 1},
		{"switchboard_offer_outcomes_total", []string{"department=d1", "outcome=accepted"}, 1},
		{"switchboard_queue_wait_seconds", []string{"department=d1"}, 1},
		{"switchboard_assignment_latency_seconds", []string{"department=d1"}, 1},
		{"switchboard_missed_chats_total", []string{"department=d2"}, 1},
		{"switchboard_transfers_total", []string{"department=d1", "outcome=completed"}, 1},
		{"switchboard_mail_attempts_total", []string{"kind=transcript", "outcome=sent"}, 1},
		{"switchboard_mail_attempts_total", []string{"kind=feedback", "outcome=failed"}, 0}, // exists before the first failure
		{"switchboard_store_transaction_duration_seconds", nil, 1},
		{"switchboard_store_errors_total", []string{"kind=unavailable"}, 1},
		{"switchboard_store_errors_total", []string{"kind=other"}, 0},
		{"switchboard_store_append_batch_size", nil, 1},
		{"switchboard_redis_command_duration_seconds", []string{"op=publish"}, 3},
		{"switchboard_redis_errors_total", []string{"op=publish"}, 1},
		{"switchboard_chats", []string{"status=queued"}, 3},
		{"switchboard_chats", []string{"status=ongoing"}, 4},
		{"switchboard_queue_length", []string{"department=d1"}, 2},
		{"switchboard_operators", []string{"department=d1", "status=online"}, 3},
		{"switchboard_operators", []string{"department=d1", "status=away"}, 1},
		{"switchboard_mail_pending", []string{"kind=missed"}, 5},
		{"switchboard_mail_pending", []string{"kind=transcript"}, 0},
	}
	for _, c := range checks {
		if got := value(t, f, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if sum := f["switchboard_store_append_batch_size"].GetMetric()[0].GetHistogram().GetSampleSum(); sum != 17 {
		t.Errorf("batch size sum %v, want 17", sum)
	}
}

// TestPendingMailLeftOutOnError: a store that cannot count does not make
// the gauge read 0 (an alert on the backlog must not clear); the rest of
// the scrape is served.
func TestPendingMailLeftOutOnError(t *testing.T) {
	s := metrics.New(metrics.Config{})
	s.SetSources(metrics.Sources{PendingMail: func(context.Context) (map[string]int, error) {
		return nil, errors.New("database is down")
	}})
	f := gather(t, s)
	if f["switchboard_mail_pending"] != nil {
		t.Fatalf("pending mail reported while the store fails: %v", f["switchboard_mail_pending"])
	}
	if f["switchboard_build_info"] == nil {
		t.Fatal("the rest of the scrape is missing")
	}
}

// TestHandlerPassesPromtool serves the exercised registry and has
// `promtool check metrics` lint it, in both formats a scraper may ask for.
func TestHandlerPassesPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool is not installed: apt-get install -y --no-install-recommends prometheus (scripts/test installs it): %v", err)
	}
	s := metrics.New(metrics.Config{Node: "n1"})
	exercise(s)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	for _, accept := range []string{"", "text/plain;version=0.0.4"} {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Contains(body, []byte("switchboard_redis_errors_total")) {
			t.Fatalf("Accept %q: %d\n%.300s", accept, resp.StatusCode, body)
		}
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = bytes.NewReader(body)
		if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Fatalf("promtool check metrics (Accept %q): %v\n%s", accept, err, out)
		}
	}
}
