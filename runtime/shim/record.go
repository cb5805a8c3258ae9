package shim

import (
	"bytes"
	"fmt"
	"strconv"
)

// A record is the one text encoding of the shim's files and control
// messages: one "key=value" per line. A value that is not plain printable
// ASCII without spaces (or that is empty, or starts with a quote) is written
// as a Go-quoted string, so any text survives the round trip. Readers ignore
// keys they do not know, which is how records gain fields without a version
// bump. encoding/json would do, but this costs nothing in the shim's memory
// and an operator can read it with cat.
type record []byte

func (r *record) add(key, value string) {
	*r = append(*r, key...)
	*r = append(*r, '=')
	if plain(value) {
		*r = append(*r, value...)
	} else {
		*r = strconv.AppendQuote(*r, value)
	}
	*r = append(*r, '\n')
}

func (r *record) addInt(key string, v int64) {
	*r = append(*r, key...)
	*r = append(*r, '=')
	*r = strconv.AppendInt(*r, v, 10)
	*r = append(*r, '\n')
}

func (r *record) addUint(key string, v uint64) {
	*r = append(*r, key...)
	*r = append(*r, '=')
	*r = strconv.AppendUint(*r, v, 10)
	*r = append(*r, '\n')
}

func (r *record) addBool(key string, v bool) {
	if v {
		r.add(key, "1")
	} else {
		r.add(key, "0")
	}
}

func plain(s string) bool {
	if s == "" || s[0] == '"' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// fields is a parsed record.
type fields map[string]string

func parseRecord(b []byte) (fields, error) {
	f := fields{}
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if len(line) == 0 {
			continue
		}
		eq := bytes.IndexByte(line, '=')
		if eq <= 0 {
			return nil, fmt.Errorf("%w: line %q has no key", ErrMalformed, line)
		}
		key, val := string(line[:eq]), string(line[eq+1:])
		if len(val) > 0 && val[0] == '"' {
			u, err := strconv.Unquote(val)
			if err != nil {
				return nil, fmt.Errorf("%w: key %s: %v", ErrMalformed, key, err)
			}
			val = u
		}
		if _, dup := f[key]; dup {
			return nil, fmt.Errorf("%w: key %s repeated", ErrMalformed, key)
		}
		f[key] = val
	}
	return f, nil
}

func (f fields) str(key string) string { return f[key] }

func (f fields) int(key string) (int64, error) {
	v, ok := f[key]
	if !ok {
		return 0, fmt.Errorf("%w: key %s missing", ErrMalformed, key)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: key %s: %v", ErrMalformed, key, err)
	}
	return n, nil
}

// optInt is int for a key that may be absent (then 0).
func (f fields) optInt(key string) (int64, error) {
	if _, ok := f[key]; !ok {
		return 0, nil
	}
	return f.int(key)
}

func (f fields) optUint(key string) (uint64, error) {
	v, ok := f[key]
	if !ok {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: key %s: %v", ErrMalformed, key, err)
	}
	return n, nil
}

func (f fields) bool(key string) bool { return f[key] == "1" }
