package router

import (
	"time"

	"github.com/switchboard-chat/switchboard"
)

// Metrics observes the router's decisions (metrics.Set implements it).
// Its methods are called with the router's mutex held: they must be quick
// and must not call the Router.
type Metrics interface {
	// ChatStarted counts a chat a visitor started in the department.
	ChatStarted(departmentID string)
	// Offered counts an offer (of a queued chat or of a transfer).
	Offered(departmentID string)
	// OfferOutcome counts how an offer ended: "accepted", "declined", or a
	// revocation reason (ReasonTaken, ReasonTimeout, ReasonEnded).
	OfferOutcome(departmentID, outcome string)
	// LeftQueue observes how long a chat waited in the department's queue
	// before it left it (assigned, missed, ended or moved).
	LeftQueue(departmentID string, waited time.Duration)
	// Assigned observes the time from queueing a chat to the commit of an
	// operator's accept.
	Assigned(departmentID string, latency time.Duration)
	// Missed counts a chat missed in the department.
	Missed(departmentID string)
	// Transfer counts the end of a transfer to the department: "completed",
	// "taken_over", or a failure (TransferDeclined, TransferTimeout,
	// TransferNoOperators).
	Transfer(departmentID, outcome string)
}

type nopMetrics struct{}

func (nopMetrics) ChatStarted(string)              {}
func (nopMetrics) Offered(string)                  {}
func (nopMetrics) OfferOutcome(string, string)     {}
func (nopMetrics) LeftQueue(string, time.Duration) {}
func (nopMetrics) Assigned(string, time.Duration)  {}
func (nopMetrics) Missed(string)                   {}
func (nopMetrics) Transfer(string, string)         {}

// Stats is the router's state at one moment, for the scrape-time gauges.
type Stats struct {
	Queued    map[string]int        // queued chats by department id
	Ongoing   map[string]int        // ongoing chats (known to this router) by department id
	Operators map[OperatorCount]int // operators this router knows, by department and status
}

// OperatorCount is a department id and a status; an operator in several
// departments counts in each, one in none is not counted.
type OperatorCount struct {
	DepartmentID string
	Status       switchboard.Status
}

// Stats returns the router's queues, ongoing chats and operator presence.
func (r *Router) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := Stats{Queued: map[string]int{}, Ongoing: map[string]int{}, Operators: map[OperatorCount]int{}}
	for dept, q := range r.queues {
		st.Queued[dept] = len(q)
	}
	for _, op := range r.ops {
		for _, w := range op.chats {
			st.Ongoing[w.chat.DepartmentID]++
		}
		status := op.status
		if status == "" {
			status = switchboard.StatusOffline
		}
		for _, dept := range op.rec.DepartmentIDs {
			st.Operators[OperatorCount{DepartmentID: dept, Status: status}]++
		}
	}
	return st
}
