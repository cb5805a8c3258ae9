package shim

import (
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"
)

// Logger is what the shim logs through. *slog.Logger implements it, and so
// does TextLogger, which the shim binary uses: log/slog (with the JSON
// encoder it drags in) would be a sixth of the shim's resident memory, for a
// dozen log lines in a container's life.
type Logger interface {
	Debug(msg string, args ...any)
	Info(msg string, args ...any)
	Warn(msg string, args ...any)
	Error(msg string, args ...any)
}

var _ Logger = (*TextLogger)(nil)

// TextLogger writes lines in slog's text format
// (time=... level=... msg=... key=value ...) to w. Debug lines are written
// only when debug is set.
type TextLogger struct {
	debug  bool
	prefix []any // key/value pairs added to every line

	mu  sync.Mutex // guards w and buf
	w   io.Writer
	buf []byte
}

// NewTextLogger returns a logger writing to w, adding the key/value pairs
// of with to every line.
func NewTextLogger(w io.Writer, debug bool, with ...any) *TextLogger {
	return &TextLogger{w: w, debug: debug, prefix: with}
}

func (l *TextLogger) Debug(msg string, args ...any) {
	if l.debug {
		l.log("DEBUG", msg, args)
	}
}
func (l *TextLogger) Info(msg string, args ...any)  { l.log("INFO", msg, args) }
func (l *TextLogger) Warn(msg string, args ...any)  { l.log("WARN", msg, args) }
func (l *TextLogger) Error(msg string, args ...any) { l.log("ERROR", msg, args) }

func (l *TextLogger) log(level, msg string, args []any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := append(l.buf[:0], "time="...)
	b = time.Now().UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, " level="...)
	b = append(b, level...)
	b = append(b, " msg="...)
	b = appendLogValue(b, msg)
	b = appendPairs(b, l.prefix)
	b = appendPairs(b, args)
	b = append(b, '\n')
	l.w.Write(b)
	l.buf = b
}

func appendPairs(b []byte, kv []any) []byte {
	for i := 0; i < len(kv); i += 2 {
		key, _ := kv[i].(string)
		if key == "" {
			key = "!BADKEY"
		}
		b = append(b, ' ')
		b = append(b, key...)
		b = append(b, '=')
		if i+1 < len(kv) {
			b = appendLogValue(b, kv[i+1])
		}
	}
	return b
}

func appendLogValue(b []byte, v any) []byte {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case int:
		return strconv.AppendInt(b, int64(v), 10)
	case int64:
		return strconv.AppendInt(b, v, 10)
	case uint64:
		return strconv.AppendUint(b, v, 10)
	case bool:
		return strconv.AppendBool(b, v)
	case error:
		s = v.Error()
	case fmt.Stringer:
		s = v.String()
	default:
		s = fmt.Sprint(v)
	}
	if plain(s) && !containsAny(s, `="`) {
		return append(b, s...)
	}
	return strconv.AppendQuote(b, s)
}

func containsAny(s, chars string) bool {
	for i := 0; i < len(s); i++ {
		for j := 0; j < len(chars); j++ {
			if s[i] == chars[j] {
				return true
			}
		}
	}
	return false
}
