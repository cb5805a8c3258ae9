package streamserver

import (
	"errors"
	"regexp"
	"testing"
	"time"
)

// clock is a settable clock for token expiry.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestTokensAreSingleUse(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	tk := newTokens(time.Minute, 10, c.now)
	a, err := tk.insert("a")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := tk.insert("b")
	if a == b {
		t.Fatalf("two requests got the same token %q", a)
	}
	if !regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`).MatchString(a) {
		t.Errorf("token %q is not 128 bits of URL-safe base64", a)
	}
	if v, ok := tk.consume(a); !ok || v != "a" {
		t.Fatalf("first use of a = %v, %v", v, ok)
	}
	if _, ok := tk.consume(a); ok {
		t.Error("a token worked twice")
	}
	if _, ok := tk.consume("never-issued"); ok {
		t.Error("an unknown token worked")
	}
	if v, ok := tk.consume(b); !ok || v != "b" {
		t.Errorf("b = %v, %v", v, ok)
	}
	if n := tk.len(); n != 0 {
		t.Errorf("%d tokens held after every one was used", n)
	}
}

func TestTokensExpire(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	tk := newTokens(time.Minute, 10, c.now)
	early, _ := tk.insert("early")
	c.advance(30 * time.Second)
	late, _ := tk.insert("late")
	c.advance(30*time.Second - time.Nanosecond)
	if _, ok := tk.consume(early); !ok {
		t.Error("a token failed a nanosecond before its expiry")
	}
	c.advance(time.Nanosecond + 30*time.Second)
	if _, ok := tk.consume(late); ok {
		t.Error("a token worked at its expiry")
	}
	if n := tk.len(); n != 0 {
		t.Errorf("an expired token that was tried is still held (%d)", n)
	}
}

func TestTokensBoundPendingAndExpiryFreesRoom(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	tk := newTokens(time.Minute, 3, c.now)
	var toks []string
	for i := range 3 {
		tok, err := tk.insert(i)
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, tok)
		c.advance(10 * time.Second)
	}
	if _, err := tk.insert("one too many"); !errors.Is(err, ErrTooManySessions) {
		t.Fatalf("insert past the bound: %v, want ErrTooManySessions", err)
	}
	// Using one frees its place.
	tk.consume(toks[1])
	if _, err := tk.insert("after a use"); err != nil {
		t.Fatalf("insert after a use: %v", err)
	}
	// The oldest expires (60 s after it was issued) and frees its place.
	c.advance(31 * time.Second)
	if _, err := tk.insert("after an expiry"); err != nil {
		t.Fatalf("insert after the oldest expired: %v", err)
	}
	if _, ok := tk.consume(toks[0]); ok {
		t.Error("the expired oldest token still works")
	}
	if v, ok := tk.consume(toks[2]); !ok || v != 2 {
		t.Errorf("an unexpired token = %v, %v", v, ok)
	}
}
