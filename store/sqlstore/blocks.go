package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/clientip"
	"github.com/switchboard-chat/switchboard/store"
)

// maxBlockReason is the longest reason of a block, in characters.
const maxBlockReason = 1000

const blockColumns = `id, ip, reason, department_id, chat_id, created_by, created_at, expires_at`

func scanBlock(s scanner) (switchboard.BlockedIP, error) {
	var (
		b       switchboard.BlockedIP
		created int64
		expires sql.NullInt64
	)
	if err := s.Scan(&b.ID, &b.IP, &b.Reason, &b.DepartmentID, &b.ChatID, &b.CreatedBy, &created, &expires); err != nil {
		return b, err
	}
	b.CreatedAt, b.ExpiresAt = fromMS(created), fromNullMS(expires)
	return b, nil
}

// checkBlock normalizes and validates the fields of a new block.
func checkBlock(b *switchboard.BlockedIP, now time.Time) error {
	b.IP = strings.TrimSpace(b.IP)
	if b.IP == "" {
		return switchboard.Invalid("ip", "is required (an address or a CIDR)")
	}
	if _, err := clientip.ParsePrefix(b.IP); err != nil || len(b.IP) > 64 {
		return switchboard.Invalid("ip", "%q is not an IP address or CIDR", truncateRunes(b.IP, 64))
	}
	b.Reason = strings.TrimSpace(b.Reason)
	if !utf8.ValidString(b.Reason) || strings.ContainsRune(b.Reason, 0) {
		return switchboard.Invalid("reason", "must be valid UTF-8 text")
	}
	if n := utf8.RuneCountInString(b.Reason); n > maxBlockReason {
		return switchboard.Invalid("reason", "is %d characters long; at most %d are allowed", n, maxBlockReason)
	}
	if b.ExpiresAt != nil {
		t := b.ExpiresAt.UTC().Truncate(time.Millisecond)
		if !t.After(now) {
			return switchboard.Invalid("expires_at", "must be in the future")
		}
		b.ExpiresAt = &t
	}
	for _, f := range []struct{ name, v string }{{"department_id", b.DepartmentID}, {"chat_id", b.ChatID}, {"created_by", b.CreatedBy}} {
		if len(f.v) > 64 || !utf8.ValidString(f.v) || strings.ContainsRune(f.v, 0) {
			return switchboard.Invalid(f.name, "is not an id")
		}
	}
	return nil
}

func truncateRunes(s string, n int) string {
	s = strings.ToValidUTF8(s, "")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// CreateBlock stores a block and, in the same transaction, its notification
// mail (see store.BlockStore).
func (db *DB) CreateBlock(ctx context.Context, b *switchboard.BlockedIP) error {
	c := *b
	now := switchboard.Now()
	if err := checkBlock(&c, now); err != nil {
		return err
	}
	c.ID = switchboard.NewID()
	c.CreatedAt = now
	err := db.inTx(ctx, func(t *tx) error {
		var dept switchboard.Department
		if c.DepartmentID != "" {
			var err error
			dept, err = getDepartment(ctx, t.conn, t.forShare(), `id = ?`, c.DepartmentID)
			if errors.Is(err, sql.ErrNoRows) {
				return switchboard.Invalid("department_id", "department %q does not exist", c.DepartmentID)
			}
			if err != nil {
				return err
			}
		}
		if _, err := t.exec(ctx, `INSERT INTO blocked_ips (`+blockColumns+`) VALUES (`+placeholders(8)+`)`,
			c.ID, c.IP, c.Reason, c.DepartmentID, c.ChatID, c.CreatedBy, ms(c.CreatedAt), nullMS(c.ExpiresAt)); err != nil {
			return err
		}
		if c.DepartmentID == "" || !dept.Email.BlockedIP.Enabled || len(dept.Email.BlockedIP.To) == 0 {
			return nil
		}
		by := c.CreatedBy
		if by != "" {
			var name, email string
			err := t.queryRow(ctx, `SELECT name, email FROM operators WHERE id = ?`, by).Scan(&name, &email)
			if err == nil {
				by = fmt.Sprintf("%s <%s>", name, email)
			} else if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		m, err := db.composer().BlockedIP(dept, c, by)
		if err != nil {
			err = composeError{fmt.Errorf("compose blocked-IP mail: %w", err)}
		}
		return db.insertEventMail(ctx, t.conn, &m, err)
	})
	if err != nil {
		return db.wrap("create block", err)
	}
	*b = c
	return nil
}

// ChatMails lists a chat's outbox rows, oldest first.
func (db *DB) ChatMails(ctx context.Context, chatID string) ([]switchboard.Mail, error) {
	out, err := func() ([]switchboard.Mail, error) {
		rows, err := db.reader().query(ctx, `SELECT `+mailColumns+` FROM mail_outbox WHERE chat_id = ? ORDER BY created_at, id`, chatID)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := []switchboard.Mail{}
		for rows.Next() {
			m, err := scanMail(rows)
			if err != nil {
				return nil, err
			}
			out = append(out, m)
		}
		return out, rows.Err()
	}()
	if err != nil {
		return nil, db.wrap("list chat mails", err)
	}
	return out, nil
}

// Blocks lists blocks, newest first.
func (db *DB) Blocks(ctx context.Context, p store.Page) ([]switchboard.BlockedIP, string, error) {
	pg, err := decodePage(p)
	if err != nil {
		return nil, "", err
	}
	q := `SELECT ` + blockColumns + ` FROM blocked_ips`
	var args []any
	if pg.more {
		q += ` WHERE (created_at, id) < (?, ?)`
		args = append(args, pg.after.T, pg.after.ID)
	}
	q += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	args = append(args, pg.limit+1)
	items, err := db.queryBlockList(ctx, q, args...)
	if err != nil {
		return nil, "", db.wrap("list blocks", err)
	}
	items, next := cut(items, pg.limit, func(b switchboard.BlockedIP) key { return key{ms(b.CreatedAt), b.ID} })
	return items, next, nil
}

func (db *DB) queryBlockList(ctx context.Context, q string, args ...any) ([]switchboard.BlockedIP, error) {
	rows, err := db.reader().query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var items []switchboard.BlockedIP
	for rows.Next() {
		b, err := scanBlock(rows)
		if err != nil {
			return nil, err
		}
		items = append(items, b)
	}
	return items, rows.Err()
}

// DeleteBlock removes a block.
func (db *DB) DeleteBlock(ctx context.Context, id string) error {
	res, err := db.writer().exec(ctx, `DELETE FROM blocked_ips WHERE id = ?`, id)
	if err == nil {
		var n int64
		if n, err = res.RowsAffected(); err == nil && n == 0 {
			err = switchboard.ErrNotFound
		}
	}
	if err != nil {
		return db.wrap("delete block", err)
	}
	return nil
}

// IPBlocked reports whether ip is blocked for the department at now.
//
// The active blocks that apply to the department are read and matched in
// Go: SQLite has no address type, the table is small (blocks are made by
// hand), and one matcher (clientip.ParsePrefix, the same parser that
// validated the block) serves both backends, IPv4-mapped IPv6 included.
func (db *DB) IPBlocked(ctx context.Context, ip netip.Addr, departmentID string, now time.Time) (bool, error) {
	if !ip.IsValid() {
		return false, nil
	}
	ip = ip.Unmap()
	found, err := func() (bool, error) {
		rows, err := db.reader().query(ctx, `SELECT ip FROM blocked_ips
			WHERE (department_id = '' OR department_id = ?) AND (expires_at IS NULL OR expires_at > ?)`,
			departmentID, ms(now))
		if err != nil {
			return false, err
		}
		defer rows.Close()
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				return false, err
			}
			if p, err := clientip.ParsePrefix(s); err == nil && p.Contains(ip) {
				return true, nil
			}
		}
		return false, rows.Err()
	}()
	if err != nil {
		return false, db.wrap("check blocked ip", err)
	}
	return found, nil
}
