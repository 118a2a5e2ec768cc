package mailer

import "time"

// Backoff exposes the retry delay after n failed attempts to the tests.
func (w *Worker) Backoff(n int) time.Duration { return w.backoff(n) }
