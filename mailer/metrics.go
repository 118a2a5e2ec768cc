package mailer

import "github.com/switchboard-chat/switchboard"

// Metrics observes the worker's deliveries (metrics.Set implements it).
type Metrics interface {
	// MailAttempt counts one delivery of a mail of kind (transcript,
	// missed, feedback, blocked_ip, visitor) and its outcome: "sent",
	// "retry" (a temporary failure, tried again later) or "failed" (for good).
	MailAttempt(kind, outcome string)
}

// observe reports a delivery to Config.Metrics, if any.
func (w *Worker) observe(kind switchboard.MailKind, outcome string) {
	if w.c.Metrics != nil {
		w.c.Metrics.MailAttempt(string(kind), outcome)
	}
}
