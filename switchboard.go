// Package switchboard holds the nouns of the Switchboard live-chat server:
// departments, operators, visitors, chats and messages, and the errors every
// layer shares. It does no I/O; the store, router, session and API packages
// build on it.
package switchboard

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
	"time"
)

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewID returns a random, opaque identifier of 26 lower-case characters
// (128 random bits). IDs are never sequential, so they reveal nothing about
// how many objects exist.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms.
	return idEncoding.EncodeToString(b[:])
}

// NewToken returns a random secret of 32 bytes, URL-safe, for session tokens,
// widget keys and tickets.
func NewToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return strings.ToLower(idEncoding.EncodeToString(b[:]))
}

// TimeFormat is the wire format of every time: RFC 3339, UTC, exactly three
// fractional digits.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// Now returns the current time truncated to the millisecond precision that
// the store and the wire keep, in UTC.
func Now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }
