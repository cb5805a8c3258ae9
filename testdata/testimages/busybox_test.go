package main

import (
	"errors"
	"strings"
	"testing"
)

func TestEditKconfig(t *testing.T) {
	in := strings.Join([]string{
		"# Busybox version: 1.35.0",
		"# CONFIG_STATIC is not set",
		"CONFIG_TC=y",
		"CONFIG_FEATURE_TC_INGRESS=y",
		"CONFIG_FEATURE_SH_STANDALONE=y",
		"CONFIG_IPCS=y",
		"CONFIG_EXTRA_CFLAGS=\"\"",
	}, "\n") + "\n"
	settings := []kconfigSetting{
		{"CONFIG_STATIC", "y"},
		{"CONFIG_TC", ""},
		{"CONFIG_FEATURE_SH_STANDALONE", ""},
		{"CONFIG_PGREP", "y"}, // absent: appended
	}
	out := editKconfig(in, settings)
	want := strings.Join([]string{
		"# Busybox version: 1.35.0",
		"CONFIG_STATIC=y",
		"# CONFIG_TC is not set",
		"CONFIG_FEATURE_TC_INGRESS=y",
		"# CONFIG_FEATURE_SH_STANDALONE is not set",
		"CONFIG_IPCS=y",
		"CONFIG_EXTRA_CFLAGS=\"\"",
		"CONFIG_PGREP=y",
	}, "\n") + "\n"
	if out != want {
		t.Fatalf("editKconfig:\n%s\nwant:\n%s", out, want)
	}
	if err := checkKconfig(out, settings); err != nil {
		t.Fatalf("checkKconfig of the edited config: %v", err)
	}
	if err := checkKconfig(in, settings); !errors.Is(err, ErrBusyboxConfig) {
		t.Fatalf("checkKconfig of the original: err = %v, want ErrBusyboxConfig", err)
	}
	// Editing is idempotent.
	if again := editKconfig(out, settings); again != out {
		t.Fatalf("second edit changed the config:\n%s", again)
	}
}

func TestBusyboxSettingsForbidTheStandaloneShell(t *testing.T) {
	want := map[string]string{
		"CONFIG_STATIC":                 "y",
		"CONFIG_TC":                     "",
		"CONFIG_FEATURE_SH_STANDALONE":  "",
		"CONFIG_FEATURE_PREFER_APPLETS": "",
		"CONFIG_IPCS":                   "y",
		"CONFIG_PGREP":                  "y",
	}
	have := map[string]string{}
	for _, s := range busyboxSettings() {
		have[s.Key] = s.Value
	}
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			t.Errorf("%s = %q (set: %v), want %q", k, got, ok, v)
		}
	}
}

func TestCheckApplets(t *testing.T) {
	all := requiredApplets()
	if err := checkApplets(all); err != nil {
		t.Fatal(err)
	}
	for _, drop := range []string{"ipcs", "pgrep", "sh"} {
		var some []string
		for _, a := range all {
			if a != drop {
				some = append(some, a)
			}
		}
		err := checkApplets(some)
		if !errors.Is(err, ErrBusyboxConfig) || !strings.Contains(err.Error(), drop) {
			t.Errorf("without %s: err = %v", drop, err)
		}
	}
}

func TestBusyboxKeyCoversItsInputs(t *testing.T) {
	orig := input{Name: "busybox-orig", SHA256: strings.Repeat("a", 64)}
	deb := input{Name: "busybox-debian", SHA256: strings.Repeat("b", 64)}
	base := busyboxKey(orig, deb, "gcc 12; glibc 2.36")
	if base != busyboxKey(orig, deb, "gcc 12; glibc 2.36") {
		t.Fatal("key is not a function of its inputs")
	}
	other := orig
	other.SHA256 = strings.Repeat("c", 64)
	for name, key := range map[string]string{
		"source":    busyboxKey(other, deb, "gcc 12; glibc 2.36"),
		"patches":   busyboxKey(orig, other, "gcc 12; glibc 2.36"),
		"toolchain": busyboxKey(orig, deb, "gcc 13; glibc 2.36"),
	} {
		if key == base {
			t.Errorf("changing the %s keeps the key", name)
		}
	}
}

func TestPatchSeries(t *testing.T) {
	got := patchSeries("# header\n# disabled.patch\n\none.patch\ntwo.diff -p1\n  three.patch  \n")
	want := []string{"one.patch", "two.diff", "three.patch"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("patchSeries = %v, want %v", got, want)
	}
}
