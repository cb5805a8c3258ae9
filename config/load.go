package config

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
)

// Setting is one command-line override: a key and its value as typed.
type Setting struct {
	Key, Value string
}

// Load builds the effective configuration: defaults, then the file at path,
// then overrides in order, then Finish. A missing file is an error only when
// explicit (the operator named it); the default path may be absent.
func Load(path string, explicit bool, overrides []Setting, lookPath LookPathFunc) (*Config, error) {
	c := Default()
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := c.ApplyJSON(data); err != nil {
			if !errors.Is(err, ErrSyntax) {
				// Report the values that decoded but are invalid too, so
				// that one round of editing fixes the file.
				err = errors.Join(err, c.Validate())
			}
			return nil, fmt.Errorf("config file %s: %w", path, err)
		}
	case errors.Is(err, fs.ErrNotExist) && !explicit:
		// No file: every key keeps its default.
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("config file %s: %w", path, ErrNotFound)
	default:
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	mirrorsSet := false
	for _, s := range overrides {
		if s.Key == "registry-mirrors" && !mirrorsSet {
			// The flags replace the file's mirrors as a whole; repeated
			// flags then add one host each.
			c.RegistryMirrors, mirrorsSet = map[string][]string{}, true
		}
		if err := c.Set(s.Key, s.Value); err != nil {
			return nil, fmt.Errorf("flag --%s: %w", s.Key, err)
		}
	}
	if err := c.Finish(lookPath); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	return c, nil
}

// Flags registers --config and one flag per key on a flag.FlagSet, with the
// key's own name, and collects what the command line sets.
type Flags struct {
	configPath string
	explicit   bool
	overrides  []Setting
}

// NewFlags defines the flags on fs.
func NewFlags(fs *flag.FlagSet) *Flags {
	f := &Flags{configPath: DefaultPath}
	fs.Func("config", "path of the JSON configuration file (default "+DefaultPath+"; may be absent)", func(s string) error {
		f.configPath, f.explicit = s, true
		return nil
	})
	for _, k := range keys() {
		usage := k.help
		if d := k.defaultString(); d != "" {
			usage += fmt.Sprintf(" (default %s)", d)
		}
		fs.Var(&keyFlag{flags: f, key: k}, k.name, usage)
	}
	return f
}

// Load reads the configuration the command line asks for.
func (f *Flags) Load(lookPath LookPathFunc) (*Config, error) {
	return Load(f.configPath, f.explicit, f.overrides, lookPath)
}

// keyFlag is the flag.Value of one key. Values are recorded, not applied:
// the file must be read first so that the flags can override it.
type keyFlag struct {
	flags *Flags
	key   key
}

func (v *keyFlag) String() string { return "" }

func (v *keyFlag) Set(s string) error {
	// Check the value's shape now, so that flag parsing reports it next to
	// the flag; the real application happens in Load.
	if err := v.key.setString(Default(), s); err != nil {
		var ke *KeyError
		if errors.As(err, &ke) {
			return ke.Err
		}
		return err
	}
	v.flags.overrides = append(v.flags.overrides, Setting{Key: v.key.name, Value: s})
	return nil
}

// IsBoolFlag lets boolean keys be given as a bare --name.
func (v *keyFlag) IsBoolFlag() bool { return v.key.isBool() }
