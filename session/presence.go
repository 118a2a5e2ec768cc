package session

import (
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// VisitorPresence is one visitor connection open now on this node.
type VisitorPresence struct {
	VisitorID    string
	Name         string
	DepartmentID string
	PageURL      string
	ChatID       string // an open chat of the connection, "" if none
	IP           string
	ConnectedAt  time.Time
}

// visitorRegistry keeps the open visitor connections of this node. Name
// and page are copies: the connection's own visitor belongs to its reader
// goroutine.
type visitorRegistry struct {
	mu    sync.Mutex
	conns map[*conn]*VisitorPresence
}

func (r *visitorRegistry) add(c *conn, p VisitorPresence) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conns == nil {
		r.conns = map[*conn]*VisitorPresence{}
	}
	r.conns[c] = &p
}

func (r *visitorRegistry) remove(c *conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.conns, c)
}

// update sets the name and page of c's visitor.
func (r *visitorRegistry) update(c *conn, name, pageURL string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.conns[c]; p != nil {
		p.Name, p.PageURL = name, pageURL
	}
}

// matching returns the connections for which keep is true.
func (r *visitorRegistry) matching(keep func(c *conn, p *VisitorPresence) bool) []*conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*conn
	for c, p := range r.conns {
		if keep(c, p) {
			out = append(out, c)
		}
	}
	return out
}

// openChat returns one chat the connection takes part in that has not
// ended, "" if none.
func (c *conn) openChat() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	best := ""
	for id, open := range c.chats {
		if open && (best == "" || id < best) {
			best = id
		}
	}
	return best
}

// OnlineVisitors lists the visitor connections open now on this node in
// the given departments (nil: every department), oldest connection first.
func (s *Server) OnlineVisitors(departmentIDs []string) []VisitorPresence {
	if s.hub.cl != nil {
		if vs, ok := s.clusterVisitors(departmentIDs); ok {
			return vs
		}
	}
	s.visitors.mu.Lock()
	type entry struct {
		c *conn
		p VisitorPresence
	}
	var found []entry
	for c, p := range s.visitors.conns {
		if departmentIDs == nil || slices.Contains(departmentIDs, p.DepartmentID) {
			found = append(found, entry{c, *p})
		}
	}
	s.visitors.mu.Unlock()
	out := make([]VisitorPresence, 0, len(found))
	for _, e := range found {
		e.p.ChatID = e.c.openChat()
		out = append(out, e.p)
	}
	slices.SortFunc(out, func(a, b VisitorPresence) int {
		if c := a.ConnectedAt.Compare(b.ConnectedAt); c != 0 {
			return c
		}
		return strings.Compare(a.VisitorID, b.VisitorID)
	})
	return out
}

// closeBlocked closes, with 1008, every visitor connection of this node
// whose address is in prefix and whose department the block covers
// (departmentID "" covers all). It returns how many it closed.
func (s *Server) closeBlocked(prefix netip.Prefix, departmentID string) int {
	conns := s.visitors.matching(func(c *conn, p *VisitorPresence) bool {
		if departmentID != "" && p.DepartmentID != departmentID {
			return false
		}
		a, err := netip.ParseAddr(p.IP)
		return err == nil && prefix.Contains(a.Unmap())
	})
	for _, c := range conns {
		c.shutdown(websocket.StatusPolicyViolation, "blocked")
	}
	if s.hub.cl != nil {
		return len(conns) + s.closeBlockedElsewhere(prefix, departmentID)
	}
	return len(conns)
}
