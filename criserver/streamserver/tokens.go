package streamserver

import (
	"container/list"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"sync"
	"time"
)

// tokenBytes is the entropy of a token: 128 bits, so a token cannot be
// guessed within its minute of life (the library's own cache uses 48).
const tokenBytes = 16

// tokens holds the requests handed out as URLs until their one use. Every
// token lives for the same ttl, so insertion order is expiry order: the
// list is oldest first, and each insert drops the expired head. A token is
// removed when it is used, whether or not it had expired, so it can never
// be used twice.
type tokens struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu    sync.Mutex
	byKey map[string]*list.Element // guarded by mu
	order *list.List               // guarded by mu; of *tokenEntry, oldest first
}

type tokenEntry struct {
	token   string
	req     any
	expires time.Time
}

func newTokens(ttl time.Duration, max int, now func() time.Time) *tokens {
	return &tokens{ttl: ttl, max: max, now: now, byKey: map[string]*list.Element{}, order: list.New()}
}

// insert stores req and returns its token. ErrTooManySessions when max
// unexpired tokens are outstanding.
func (t *tokens) insert(req any) (string, error) {
	var raw [tokenBytes]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	tok := base64.RawURLEncoding.EncodeToString(raw[:])
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	t.expire(now)
	if t.order.Len() >= t.max {
		return "", fmt.Errorf("%w: %d streaming URLs are outstanding", ErrTooManySessions, t.max)
	}
	if _, dup := t.byKey[tok]; dup {
		// 2^-128: the random source is broken.
		return "", fmt.Errorf("streaming token collision")
	}
	t.byKey[tok] = t.order.PushBack(&tokenEntry{token: tok, req: req, expires: now.Add(t.ttl)})
	return tok, nil
}

// consume removes token and returns its request, if it was outstanding
// and has not expired.
func (t *tokens) consume(token string) (any, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	el, ok := t.byKey[token]
	if !ok {
		return nil, false
	}
	t.order.Remove(el)
	delete(t.byKey, token)
	e := el.Value.(*tokenEntry)
	if !t.now().Before(e.expires) {
		return nil, false
	}
	return e.req, true
}

// expire drops the tokens expired at now (mu held).
func (t *tokens) expire(now time.Time) {
	for el := t.order.Front(); el != nil; el = t.order.Front() {
		e := el.Value.(*tokenEntry)
		if now.Before(e.expires) {
			return
		}
		t.order.Remove(el)
		delete(t.byKey, e.token)
	}
}

// len is the number of tokens held (expired ones not yet dropped count).
func (t *tokens) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.order.Len()
}
