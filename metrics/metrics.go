// Package metrics owns Switchboard's Prometheus registry and every
// collector in it. The parts of the server never see Prometheus: each
// defines a small observer interface where its events happen
// (session.Metrics, router.Metrics, mailer.Metrics, sqlstore.Metrics),
// and this package's Set implements them all with plain-typed methods, so
// it depends on nothing of Switchboard and nothing depends on it but the
// composition (server/).
//
// Naming follows Prometheus conventions: the switchboard_ prefix, base
// units (seconds), _total for counters, histograms for latencies. Label
// values are fixed words chosen by the code, department ids (random ids
// made by the server) and the node name; never anything a visitor or
// operator typed.
//
// Gauges of state (queues, chats, operators, pending mail) are read at
// scrape time from Sources rather than kept in step with events, so they
// cannot drift from what the router and the store hold.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace is the prefix of every Switchboard metric.
const Namespace = "switchboard"

// Config configures New.
type Config struct {
	// Node names this process in switchboard_build_info and
	// switchboard_open_connections; "" means "local".
	Node string
	// Version is the build's version for switchboard_build_info; "" means "dev".
	Version string
	// Log receives errors of scrape-time reads; nil discards them.
	Log *slog.Logger
}

// Set is one node's registry with every Switchboard collector in it, plus
// the Go runtime and process collectors. Its methods are safe for
// concurrent use and cheap enough to call under the callers' locks (they
// only touch Prometheus' atomic counters).
type Set struct {
	reg    *prometheus.Registry
	labels map[string][]string // every switchboard_ metric declared → its label names
	node   string
	log    *slog.Logger

	srcMu   sync.RWMutex
	sources Sources

	// session
	openConns     *prometheus.GaugeVec
	connsOpened   *prometheus.CounterVec
	relayed       *prometheus.CounterVec
	ackLatency    prometheus.Histogram
	slowConsumers prometheus.Counter
	rateLimited   *prometheus.CounterVec

	// router
	chatsStarted  *prometheus.CounterVec
	offers        *prometheus.CounterVec
	offerOutcomes *prometheus.CounterVec
	queueWait     *prometheus.HistogramVec
	assignLatency *prometheus.HistogramVec
	missed        *prometheus.CounterVec
	transfers     *prometheus.CounterVec

	// mailer
	mailAttempts *prometheus.CounterVec

	// store
	storeErrors *prometheus.CounterVec
	txDuration  prometheus.Histogram
	batchSize   prometheus.Histogram

	// redis (cluster mode)
	redisErrors   *prometheus.CounterVec
	redisDuration *prometheus.HistogramVec
}

// Label values used by the observers.
const (
	KindVisitor  = "visitor"
	KindOperator = "operator"
)

// Offer outcomes (switchboard_offer_outcomes_total{outcome}).
const (
	OfferAccepted = "accepted"
	OfferDeclined = "declined"
	OfferTimeout  = "timeout"
	OfferTaken    = "taken"
	OfferEnded    = "ended"
)

// Mail outcomes (switchboard_mail_attempts_total{outcome}).
const (
	MailSent   = "sent"
	MailRetry  = "retry"
	MailFailed = "failed"
)

// Latency buckets, in seconds.
var (
	// fastBuckets: a message's ack or a store transaction, 0.5 ms to 10 s.
	fastBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	// humanBuckets: how long a visitor waits for an operator, 1 s to 30 min.
	humanBuckets = []float64{1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200, 1800}
	// batchBuckets: messages per group commit (at most 256 by default).
	batchBuckets = []float64{1, 2, 4, 8, 16, 32, 64, 128, 256}
)

// New returns a Set on a registry of its own (never Prometheus' global
// one, so tests and several servers in one process do not collide).
func New(c Config) *Set {
	node := c.Node
	if node == "" {
		node = "local"
	}
	version := c.Version
	if version == "" {
		version = "dev"
	}
	log := c.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Set{reg: prometheus.NewRegistry(), labels: map[string][]string{}, node: node, log: log.With("component", "metrics")}
	s.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	info := s.gaugeVec("build_info", "Always 1; labels say the build's version and the node's name.", "version", "node")
	info.WithLabelValues(version, node).Set(1)

	s.openConns = s.gaugeVec("open_connections", "WebSocket connections open on this node, by kind (visitor, operator).", "kind", "node")
	s.connsOpened = s.counterVec("connections_opened_total", "WebSocket connections accepted, by kind (visitor, operator).", "kind")
	s.relayed = s.counterVec("messages_relayed_total", "Chat messages stored and published, by sender kind (visitor, operator, system); retries are not counted again.", "from")
	s.ackLatency = s.histogram("message_ack_latency_seconds", "Time from handling a message.send to queueing its ack (after the store committed it).", fastBuckets)
	s.slowConsumers = s.counter("slow_consumer_disconnects_total", "Connections closed with 4008 because their send queue was full.")
	s.rateLimited = s.counterVec("rate_limited_total", "Requests refused by a rate limit: frames (per connection), chats_per_ip (new chats per hour), sockets_per_ip (open sockets).", "limit")

	s.chatsStarted = s.counterVec("chats_started_total", "Chats started by visitors, by department.", "department")
	s.offers = s.counterVec("offers_total", "Offers of a chat (new or transferred) made to an operator, by department.", "department")
	s.offerOutcomes = s.counterVec("offer_outcomes_total", "How offers ended, by department and outcome (accepted, declined, timeout, taken, ended).", "department", "outcome")
	s.queueWait = s.histogramVec("queue_wait_seconds", "How long chats stayed in a department's queue, observed when they left it (assigned, missed, ended or moved).", humanBuckets, "department")
	s.assignLatency = s.histogramVec("assignment_latency_seconds", "Time from a chat entering the queue to an operator's accept being committed: how long a visitor waits for an answer.", humanBuckets, "department")
	s.missed = s.counterVec("missed_chats_total", "Chats missed (nobody online at the start, or nobody accepted within the wait timeout), by department.", "department")
	s.transfers = s.counterVec("transfers_total", "Transfers by target department and outcome (completed, taken_over, declined, timeout, no_operators).", "department", "outcome")

	s.mailAttempts = s.counterVec("mail_attempts_total", "Mail deliveries tried, by kind (transcript, missed, feedback, blocked_ip, visitor) and outcome (sent, retry, failed).", "kind", "outcome")

	s.storeErrors = s.counterVec("store_errors_total", "Store operations that failed for a reason other than the caller's input, by kind (unavailable, timeout, other).", "kind")
	s.txDuration = s.histogram("store_transaction_duration_seconds", "Duration of the store's write transactions, committed or not (group commits of messages included).", fastBuckets)
	s.batchSize = s.histogram("store_append_batch_size", "Messages carried by one group-commit transaction.", batchBuckets)

	s.redisErrors = s.counterVec("redis_errors_total", "Redis commands that failed, by operation (cluster mode).", "op")
	s.redisDuration = s.histogramVec("redis_command_duration_seconds", "Duration of Redis commands, by operation (cluster mode).", fastBuckets, "op")

	s.reg.MustRegister(stateCollector{s})
	for name, labels := range stateLabels {
		s.labels[name] = labels
	}

	// Series that exist from the start, so that rates and alerts see a 0
	// rather than nothing before the first event.
	for _, k := range []string{KindVisitor, KindOperator} {
		s.openConns.WithLabelValues(k, node)
		s.connsOpened.WithLabelValues(k)
	}
	for _, from := range []string{"visitor", "operator", "system"} {
		s.relayed.WithLabelValues(from)
	}
	for _, l := range []string{"frames", "chats_per_ip", "sockets_per_ip"} {
		s.rateLimited.WithLabelValues(l)
	}
	for _, k := range []string{"unavailable", "timeout", "other"} {
		s.storeErrors.WithLabelValues(k)
	}
	// The first failed mail must be an increase from 0 for the alert on it.
	for _, k := range mailKinds {
		for _, o := range []string{MailSent, MailRetry, MailFailed} {
			s.mailAttempts.WithLabelValues(k, o)
		}
	}
	return s
}

// Registry returns the Set's registry (for tests and extra collectors).
func (s *Set) Registry() *prometheus.Registry { return s.reg }

// Handler serves the registry in the Prometheus text (or OpenMetrics)
// format. Errors of a collector are logged and the rest is still served.
func (s *Set) Handler() http.Handler {
	return promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{
		ErrorLog:          slogPrinter{s.log},
		ErrorHandling:     promhttp.ContinueOnError,
		Registry:          s.reg, // promhttp_metric_handler_errors_total
		EnableOpenMetrics: true,
	})
}

// Names lists every switchboard_ metric the Set declares (histograms by
// their base name), sorted; tests check dashboards and alert rules
// against it.
func (s *Set) Names() []string {
	names := make([]string, 0, len(s.labels))
	for n := range s.labels {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Labels returns the label names of a switchboard_ metric and whether the
// Set declares it.
func (s *Set) Labels(name string) ([]string, bool) {
	l, ok := s.labels[name]
	return slices.Clone(l), ok
}

func (s *Set) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help})
	s.register(name, c, nil)
	return c
}

func (s *Set) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, labels)
	s.register(name, c, labels)
	return c
}

func (s *Set) gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help}, labels)
	s.register(name, g, labels)
	return g
}

func (s *Set) histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: name, Help: help, Buckets: buckets})
	s.register(name, h, nil)
	return h
}

func (s *Set) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: name, Help: help, Buckets: buckets}, labels)
	s.register(name, h, labels)
	return h
}

func (s *Set) register(name string, c prometheus.Collector, labels []string) {
	s.reg.MustRegister(c)
	s.labels[Namespace+"_"+name] = slices.Clone(labels)
}

// slogPrinter adapts a slog.Logger to promhttp's error log.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Println(v ...any) {
	p.log.Error("serving metrics", "err", fmt.Sprint(v...))
}

// ---- session.Metrics ----

// ConnOpened counts a WebSocket connection of kind (visitor, operator) as open.
func (s *Set) ConnOpened(kind string) {
	s.openConns.WithLabelValues(kind, s.node).Inc()
	s.connsOpened.WithLabelValues(kind).Inc()
}

// ConnClosed counts a WebSocket connection of kind as closed.
func (s *Set) ConnClosed(kind string) { s.openConns.WithLabelValues(kind, s.node).Dec() }

// MessageRelayed counts a message stored and published; from is its sender's kind.
func (s *Set) MessageRelayed(from string) { s.relayed.WithLabelValues(from).Inc() }

// MessageAcked observes the time a message.send took until its ack.
func (s *Set) MessageAcked(d time.Duration) { s.ackLatency.Observe(d.Seconds()) }

// SlowConsumer counts a connection closed with 4008.
func (s *Set) SlowConsumer() { s.slowConsumers.Inc() }

// RateLimited counts a refusal by the limit named (frames, chats_per_ip, sockets_per_ip).
func (s *Set) RateLimited(limit string) { s.rateLimited.WithLabelValues(limit).Inc() }

// ---- router.Metrics ----

// ChatStarted counts a chat started in a department.
func (s *Set) ChatStarted(departmentID string) { s.chatsStarted.WithLabelValues(departmentID).Inc() }

// Offered counts an offer made.
func (s *Set) Offered(departmentID string) { s.offers.WithLabelValues(departmentID).Inc() }

// OfferOutcome counts how an offer ended (accepted, declined, timeout, taken, ended).
func (s *Set) OfferOutcome(departmentID, outcome string) {
	s.offerOutcomes.WithLabelValues(departmentID, outcome).Inc()
}

// LeftQueue observes how long a chat waited in its department's queue.
func (s *Set) LeftQueue(departmentID string, waited time.Duration) {
	s.queueWait.WithLabelValues(departmentID).Observe(waited.Seconds())
}

// Assigned observes the time from queueing a chat to its accepted assignment.
func (s *Set) Assigned(departmentID string, latency time.Duration) {
	s.assignLatency.WithLabelValues(departmentID).Observe(latency.Seconds())
}

// Missed counts a missed chat.
func (s *Set) Missed(departmentID string) { s.missed.WithLabelValues(departmentID).Inc() }

// Transfer counts a transfer's end (completed, taken_over, declined, timeout, no_operators).
func (s *Set) Transfer(departmentID, outcome string) {
	s.transfers.WithLabelValues(departmentID, outcome).Inc()
}

// ---- mailer.Metrics ----

// MailAttempt counts a delivery of a mail of kind with its outcome (sent, retry, failed).
func (s *Set) MailAttempt(kind, outcome string) { s.mailAttempts.WithLabelValues(kind, outcome).Inc() }

// ---- sqlstore.Metrics ----

// StoreTransaction observes a write transaction's duration.
func (s *Set) StoreTransaction(d time.Duration) { s.txDuration.Observe(d.Seconds()) }

// StoreError counts a store failure of kind (unavailable, timeout, other).
func (s *Set) StoreError(kind string) { s.storeErrors.WithLabelValues(kind).Inc() }

// AppendBatch observes the size of one group-commit transaction.
func (s *Set) AppendBatch(size int) { s.batchSize.Observe(float64(size)) }

// ---- Redis (cluster mode) ----

// RedisCommand observes a Redis command named op (a fixed word such as
// "publish" or "presence", never a key) and counts it as an error when
// err is not nil.
func (s *Set) RedisCommand(op string, d time.Duration, err error) {
	s.redisDuration.WithLabelValues(op).Observe(d.Seconds())
	if err != nil && !errors.Is(err, context.Canceled) {
		s.redisErrors.WithLabelValues(op).Inc()
	}
}
