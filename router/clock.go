package router

import "time"

// Clock is the router's source of time and timers. The zero Config uses the
// real clock; tests inject a fake one that they advance by hand.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc calls f in its own goroutine (or, for a fake clock, from the
	// goroutine that advances it) once d has elapsed, unless the returned
	// Timer is stopped first. d <= 0 fires as soon as possible.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc call.
type Timer interface {
	// Stop prevents the call if it has not started yet; it reports whether
	// it did. A false result does not wait for a call under way.
	Stop() bool
}

// realClock is the wall clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
