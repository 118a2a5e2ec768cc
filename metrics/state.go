package metrics

import (
	"context"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// RouterState is what the router holds in memory at one moment: this
// node's queues, ongoing chats and operator presence.
type RouterState struct {
	// Queued counts the chats waiting, by department id.
	Queued map[string]int
	// Ongoing counts the chats assigned to an operator, by department id.
	Ongoing map[string]int
	// Operators counts the operators the router knows, by department id and
	// status (online, away, offline). An operator in several departments
	// counts in each.
	Operators map[OperatorKey]int
}

// OperatorKey is a department id and an operator status.
type OperatorKey struct{ Department, Status string }

// Sources are read at scrape time. A nil field leaves its metrics out.
type Sources struct {
	// Router returns the router's state (switchboard_chats,
	// switchboard_queue_length, switchboard_operators).
	Router func() RouterState
	// PendingMail counts the outbox's pending mails by kind
	// (switchboard_mail_pending). The outbox is shared by every node, so
	// every node reports the same numbers: aggregate with max, not sum.
	PendingMail func(ctx context.Context) (map[string]int, error)
}

// SetSources sets what the scrape-time gauges read.
func (s *Set) SetSources(src Sources) {
	s.srcMu.Lock()
	s.sources = src
	s.srcMu.Unlock()
}

// scrapeTimeout bounds the store read of one scrape.
const scrapeTimeout = 3 * time.Second

var (
	chatsDesc = prometheus.NewDesc(Namespace+"_chats",
		"Open chats held by this node's router, by status (queued, ongoing).", []string{"status"}, nil)
	queueDesc = prometheus.NewDesc(Namespace+"_queue_length",
		"Chats waiting in a department's queue on this node.", []string{"department"}, nil)
	operatorsDesc = prometheus.NewDesc(Namespace+"_operators",
		"Operators known to this node's router, by department and status (online, away, offline).", []string{"department", "status"}, nil)
	pendingMailDesc = prometheus.NewDesc(Namespace+"_mail_pending",
		"Mails waiting in the outbox (shared by every node), by kind.", []string{"kind"}, nil)
)

// stateLabels are stateCollector's metrics and their labels, for Set.Labels.
var stateLabels = map[string][]string{
	Namespace + "_chats":        {"status"},
	Namespace + "_queue_length": {"department"},
	Namespace + "_operators":    {"department", "status"},
	Namespace + "_mail_pending": {"kind"},
}

// mailKinds are the outbox's kinds: each is reported, 0 when none is pending.
var mailKinds = []string{"transcript", "missed", "feedback", "blocked_ip", "visitor"}

// stateCollector reports the Sources at scrape time.
type stateCollector struct{ s *Set }

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- chatsDesc
	ch <- queueDesc
	ch <- operatorsDesc
	ch <- pendingMailDesc
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	c.s.srcMu.RLock()
	src := c.s.sources
	c.s.srcMu.RUnlock()
	if src.Router != nil {
		st := src.Router()
		queued, ongoing := 0, 0
		for _, dept := range sortedKeys(st.Queued) {
			n := st.Queued[dept]
			queued += n
			ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(n), dept)
		}
		for _, n := range st.Ongoing {
			ongoing += n
		}
		ch <- prometheus.MustNewConstMetric(chatsDesc, prometheus.GaugeValue, float64(queued), "queued")
		ch <- prometheus.MustNewConstMetric(chatsDesc, prometheus.GaugeValue, float64(ongoing), "ongoing")
		for k, n := range st.Operators {
			ch <- prometheus.MustNewConstMetric(operatorsDesc, prometheus.GaugeValue, float64(n), k.Department, k.Status)
		}
	}
	if src.PendingMail != nil {
		ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
		defer cancel()
		counts, err := src.PendingMail(ctx)
		if err != nil {
			// Left out rather than reported as 0: an alert on pending mail
			// must not clear because the store is down.
			c.s.log.Warn("count pending mail", "err", err)
			return
		}
		for _, k := range mailKinds {
			ch <- prometheus.MustNewConstMetric(pendingMailDesc, prometheus.GaugeValue, float64(counts[k]), k)
		}
	}
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
