package session

import "time"

// Metrics observes the session layer's events (metrics.Set implements it).
// Its methods are called on hot paths, some under the chat lock: they must
// be quick and must not block.
type Metrics interface {
	// ConnOpened and ConnClosed bracket a WebSocket connection of kind
	// "visitor" or "operator".
	ConnOpened(kind string)
	ConnClosed(kind string)
	// MessageRelayed counts a message stored and published (not a retry);
	// from is the sender's kind: visitor, operator or system.
	MessageRelayed(from string)
	// MessageAcked observes how long a message.send took until its ack.
	MessageAcked(d time.Duration)
	// SlowConsumer counts a connection closed with 4008.
	SlowConsumer()
	// RateLimited counts a refusal by a limit: "frames" (per connection),
	// "chats_per_ip" or "sockets_per_ip".
	RateLimited(limit string)
}

// nopMetrics is the default Metrics: it observes nothing.
type nopMetrics struct{}

func (nopMetrics) ConnOpened(string)          {}
func (nopMetrics) ConnClosed(string)          {}
func (nopMetrics) MessageRelayed(string)      {}
func (nopMetrics) MessageAcked(time.Duration) {}
func (nopMetrics) SlowConsumer()              {}
func (nopMetrics) RateLimited(string)         {}

// kind is the label of a connection's kind.
func (c *conn) kind() string {
	if c.operator != nil {
		return "operator"
	}
	return "visitor"
}
