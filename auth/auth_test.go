package auth

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("s3cret-パスワード")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not argon2id with the expected parameters", h)
	}
	if err := CheckPassword(h, "s3cret-パスワード"); err != nil {
		t.Fatalf("right password refused: %v", err)
	}
	if err := CheckPassword(h, "s3cret"); !errors.Is(err, ErrMismatch) {
		t.Fatalf("wrong password: %v", err)
	}
	h2, _ := HashPassword("s3cret-パスワード")
	if h2 == h {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
	for _, bad := range []string{"", "$2a$10$abc", "$argon2id$v=19$m=x$a$b", "$argon2id$v=19$m=1,t=1,p=1$!!$!!"} {
		if err := CheckPassword(bad, "x"); err == nil || errors.Is(err, ErrMismatch) {
			t.Errorf("malformed hash %q: %v", bad, err)
		}
	}
}

func TestHashTokenAndGeneratePassword(t *testing.T) {
	if HashToken("a") == HashToken("b") || len(HashToken("a")) != 64 {
		t.Fatal("token hash is not a SHA-256 hex digest")
	}
	p1, p2 := GeneratePassword(), GeneratePassword()
	if p1 == p2 || len(p1) != 20 {
		t.Fatalf("generated passwords %q %q", p1, p2)
	}
}

func TestLimiter(t *testing.T) {
	l := NewLimiter(time.Second, 3)
	now := time.Unix(1000, 0)
	for i := range 3 {
		if ok, _ := l.Allow("k", now); !ok {
			t.Fatalf("attempt %d refused inside the burst", i)
		}
	}
	ok, wait := l.Allow("k", now)
	if ok || wait <= 0 || wait > time.Second {
		t.Fatalf("4th attempt: ok=%v wait=%v", ok, wait)
	}
	if ok, _ := l.Allow("other", now); !ok {
		t.Fatal("another key was limited")
	}
	if ok, _ := l.Allow("k", now.Add(time.Second)); !ok {
		t.Fatal("a token did not come back after the interval")
	}
	// Idle buckets are dropped.
	l.Allow("k", now.Add(time.Hour))
	if len(l.buckets) != 1 {
		t.Fatalf("%d buckets after an hour idle, want 1", len(l.buckets))
	}
}

func TestVisitorTokens(t *testing.T) {
	key := []byte(strings.Repeat("k", 32))
	v, err := NewVisitorTokens(key, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	tok := v.Sign("visitor1", now)
	if id, err := v.Verify(tok, now.Add(59*time.Minute)); err != nil || id != "visitor1" {
		t.Fatalf("Verify = %q, %v", id, err)
	}
	if _, err := v.Verify(tok, now.Add(61*time.Minute)); !errors.Is(err, ErrBadToken) {
		t.Fatal("expired token accepted")
	}
	other, _ := NewVisitorTokens([]byte(strings.Repeat("x", 32)), time.Hour)
	forged := []string{"", "abc", tok + "x", strings.Replace(tok, "visitor1", "visitor2", 1), other.Sign("visitor1", now)}
	for _, f := range forged {
		if _, err := v.Verify(f, now); !errors.Is(err, ErrBadToken) {
			t.Errorf("forged token %q accepted", f)
		}
	}
	if _, err := NewVisitorTokens([]byte("short"), 0); err == nil {
		t.Fatal("short key accepted")
	}
}
