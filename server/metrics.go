package server

import (
	"context"

	"github.com/switchboard-chat/switchboard/metrics"
	"github.com/switchboard-chat/switchboard/store/sqlstore"
)

// newMetrics returns the node's metrics set (cfg.Metrics, or a fresh one)
// and points the store's observer at it.
func newMetrics(cfg Config) *metrics.Set {
	m := cfg.Metrics
	if m == nil {
		m = metrics.New(metrics.Config{Log: cfg.Log})
	}
	if st, ok := cfg.Store.(interface{ SetMetrics(sqlstore.Metrics) }); ok {
		st.SetMetrics(m)
	}
	return m
}

// serveMetrics gives the scrape-time gauges their sources (the router's
// memory, the outbox) and, unless cfg.NoMetricsRoute, serves GET /metrics
// on the server's handler.
func (s *Server) serveMetrics(cfg Config) {
	src := metrics.Sources{Router: s.routerState}
	if st, ok := cfg.Store.(interface {
		PendingMail(ctx context.Context) (map[string]int, error)
	}); ok {
		src.PendingMail = st.PendingMail
	}
	s.Metrics.SetSources(src)
	if !cfg.NoMetricsRoute {
		s.API.Handle("GET /metrics", s.Metrics.Handler())
	}
}

// routerState converts the router's Stats for the metrics.
func (s *Server) routerState() metrics.RouterState {
	st := s.Router.Stats()
	ops := make(map[metrics.OperatorKey]int, len(st.Operators))
	for k, n := range st.Operators {
		ops[metrics.OperatorKey{Department: k.DepartmentID, Status: string(k.Status)}] = n
	}
	return metrics.RouterState{Queued: st.Queued, Ongoing: st.Ongoing, Operators: ops}
}
