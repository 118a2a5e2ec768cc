package store

import (
	"context"
	"net/netip"
	"time"

	"github.com/switchboard-chat/switchboard"
)

// BlockStore keeps blocked visitor IPs (addresses or CIDRs, optionally per
// department). Every Store implements it.
type BlockStore interface {
	// CreateBlock stores a block and fills its ID and CreatedAt. IP is an
	// address or a CIDR (kept as given, trimmed; else a ValidationError for
	// "ip"); a non-empty DepartmentID must name a live department (else a
	// ValidationError for "department_id"); an ExpiresAt not after now is a
	// ValidationError for "expires_at"; Reason is at most 1000 characters
	// ("reason"). When the block has a department whose blocked-IP email is
	// enabled with addresses, a pending mail of kind blocked_ip to those
	// addresses is queued in the same transaction.
	CreateBlock(ctx context.Context, b *switchboard.BlockedIP) error
	// Blocks lists blocks, newest first, expired ones included.
	Blocks(ctx context.Context, p Page) (items []switchboard.BlockedIP, next string, err error)
	// DeleteBlock removes a block; ErrNotFound when there is none.
	DeleteBlock(ctx context.Context, id string) error
	// IPBlocked reports whether ip is blocked for the department at now: a
	// block without department applies to every department, and a block
	// whose ExpiresAt is not after now no longer counts.
	IPBlocked(ctx context.Context, ip netip.Addr, departmentID string, now time.Time) (bool, error)
	// ChatMails lists the outbox rows of a chat ("" for mail without a
	// chat), oldest first. (The mailer issue owns the outbox; this read is
	// here for the blocked-IP notification and its tests.)
	ChatMails(ctx context.Context, chatID string) ([]switchboard.Mail, error)
}
