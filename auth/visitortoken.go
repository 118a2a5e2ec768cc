package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// ErrBadToken is returned for a visitor token that is malformed, forged or
// expired.
var ErrBadToken = errors.New("auth: visitor token invalid or expired")

// VisitorTokens signs and verifies visitor tokens: "<visitor id>.<expiry
// unix seconds>.<HMAC-SHA256>", so a returning visitor keeps its identity
// without a server-side session. The key lives in the store, so every node
// verifies the tokens of every other.
type VisitorTokens struct {
	key []byte
	ttl time.Duration
}

// NewVisitorTokens uses key (at least 32 bytes) and gives tokens a lifetime
// of ttl (0 means 180 days).
func NewVisitorTokens(key []byte, ttl time.Duration) (*VisitorTokens, error) {
	if len(key) < 32 {
		return nil, errors.New("auth: visitor token key shorter than 32 bytes")
	}
	if ttl == 0 {
		ttl = 180 * 24 * time.Hour
	}
	return &VisitorTokens{key: key, ttl: ttl}, nil
}

// Sign returns a token for visitorID, valid from now for the lifetime.
func (v *VisitorTokens) Sign(visitorID string, now time.Time) string {
	payload := visitorID + "." + strconv.FormatInt(now.Add(v.ttl).Unix(), 10)
	return payload + "." + v.mac(payload)
}

// Verify returns the visitor id of a valid token, or ErrBadToken.
func (v *VisitorTokens) Verify(token string, now time.Time) (string, error) {
	i := strings.LastIndexByte(token, '.')
	if i < 0 || len(token) > 256 {
		return "", ErrBadToken
	}
	payload, sig := token[:i], token[i+1:]
	if !hmac.Equal([]byte(sig), []byte(v.mac(payload))) {
		return "", ErrBadToken
	}
	id, expStr, ok := strings.Cut(payload, ".")
	exp, err := strconv.ParseInt(expStr, 10, 64)
	if !ok || err != nil || id == "" || now.Unix() > exp {
		return "", ErrBadToken
	}
	return id, nil
}

func (v *VisitorTokens) mac(payload string) string {
	h := hmac.New(sha256.New, v.key)
	h.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}
