package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ApplyJSON overlays the keys present in data, a JSON object in the file
// format, onto c. Keys absent from data keep their current values. Every
// problem is reported, each naming its key; c is unspecified on error.
func (c *Config) ApplyJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err == io.EOF {
		return fmt.Errorf("%w: the file is empty (write {} for all defaults)", ErrSyntax)
	}
	if err != nil {
		return syntaxError(data, err)
	}
	if tok != json.Delim('{') {
		return fmt.Errorf("%w: want a JSON object, got %v", ErrSyntax, tok)
	}
	seen := map[string]bool{}
	var errs []error
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return syntaxError(data, err)
		}
		name, _ := tok.(string) // object keys are always strings
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return syntaxError(data, err)
		}
		if seen[name] {
			errs = append(errs, &KeyError{Key: name, Err: ErrDuplicateKey})
			continue
		}
		seen[name] = true
		k, ok := lookupKey(name)
		if !ok {
			errs = append(errs, &KeyError{Key: name, Err: ErrUnknownKey})
			continue
		}
		if err := k.decodeJSON(c, raw); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return syntaxError(data, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: data after the closing brace", ErrSyntax)
	}
	return errors.Join(errs...)
}

// Set applies one command-line value to the key named name. For
// "registry-mirrors" the value is host=url[,url...] and sets that host's
// list; other keys are replaced whole.
func (c *Config) Set(name, value string) error {
	k, ok := lookupKey(name)
	if !ok {
		return &KeyError{Key: name, Err: ErrUnknownKey}
	}
	return k.setString(c, value)
}

// syntaxError locates a decoder error as line:column in data.
func syntaxError(data []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := position(data, se.Offset)
		return fmt.Errorf("%w: line %d, column %d: %v", ErrSyntax, line, col, se)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF {
		return fmt.Errorf("%w: unexpected end of file", ErrSyntax)
	}
	return fmt.Errorf("%w: %v", ErrSyntax, err)
}

func position(data []byte, offset int64) (line, col int) {
	line, col = 1, 1
	for i := int64(0); i < offset && i < int64(len(data)); i++ {
		if data[i] == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}
