package oci

import (
	"strconv"
	"strings"
	"syscall"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Linux real-time signal bounds as userspace sees them: glibc keeps 32 and
// 33 for itself, so SIGRTMIN is 34.
const (
	sigRTMin = 34
	sigRTMax = 64
)

// signalNames are the standard Linux signals, without the SIG prefix.
var signalNames = map[string]syscall.Signal{
	"ABRT": syscall.SIGABRT, "ALRM": syscall.SIGALRM, "BUS": syscall.SIGBUS,
	"CHLD": syscall.SIGCHLD, "CLD": syscall.SIGCHLD, "CONT": syscall.SIGCONT,
	"FPE": syscall.SIGFPE, "HUP": syscall.SIGHUP, "ILL": syscall.SIGILL,
	"INT": syscall.SIGINT, "IO": syscall.SIGIO, "IOT": syscall.SIGIOT,
	"KILL": syscall.SIGKILL, "PIPE": syscall.SIGPIPE, "POLL": syscall.SIGIO,
	"PROF": syscall.SIGPROF, "PWR": syscall.SIGPWR, "QUIT": syscall.SIGQUIT,
	"SEGV": syscall.SIGSEGV, "STKFLT": syscall.SIGSTKFLT, "STOP": syscall.SIGSTOP,
	"SYS": syscall.SIGSYS, "TERM": syscall.SIGTERM, "TRAP": syscall.SIGTRAP,
	"TSTP": syscall.SIGTSTP, "TTIN": syscall.SIGTTIN, "TTOU": syscall.SIGTTOU,
	"URG": syscall.SIGURG, "USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2,
	"VTALRM": syscall.SIGVTALRM, "WINCH": syscall.SIGWINCH, "XCPU": syscall.SIGXCPU,
	"XFSZ": syscall.SIGXFSZ,
}

// ParseSignal reads a signal as an image's STOPSIGNAL spells it: a name
// with or without "SIG" in any case ("SIGTERM", "term"), a real-time
// signal ("SIGRTMIN+3", "RTMAX-1") or a number ("15"). Empty means SIGTERM,
// the default stop signal.
func ParseSignal(s string) (syscall.Signal, error) {
	raw := s
	s = strings.TrimSpace(s)
	if s == "" {
		return syscall.SIGTERM, nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > sigRTMax {
			return 0, invalidf("signal %q is out of range 1-%d", raw, sigRTMax)
		}
		return syscall.Signal(n), nil
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if sig, ok := signalNames[name]; ok {
		return sig, nil
	}
	if rest, ok := strings.CutPrefix(name, "RTMIN"); ok {
		return realtimeSignal(raw, rest, "+")
	}
	if rest, ok := strings.CutPrefix(name, "RTMAX"); ok {
		return realtimeSignal(raw, rest, "-")
	}
	return 0, invalidf("signal %q is not a signal name or number", raw)
}

// realtimeSignal reads what follows RTMIN ("+n") or RTMAX ("-n").
func realtimeSignal(raw, offset, sign string) (syscall.Signal, error) {
	n, base := uint64(0), sigRTMin
	if sign == "-" {
		base = sigRTMax
	}
	if offset != "" {
		digits, ok := strings.CutPrefix(offset, sign)
		var err error
		if n, err = strconv.ParseUint(digits, 10, 8); !ok || err != nil {
			return 0, invalidf("signal %q is not a real-time signal like SIGRTMIN+3 or SIGRTMAX-1", raw)
		}
	}
	sig := base + int(n)
	if sign == "-" {
		sig = base - int(n)
	}
	if sig < sigRTMin || sig > sigRTMax {
		return 0, invalidf("signal %q is out of the real-time range", raw)
	}
	return syscall.Signal(sig), nil
}

// StopSignal is the signal that stops a container: the request's
// stop_signal when set, else the image's STOPSIGNAL, else SIGTERM.
func StopSignal(requested runtimeapi.Signal, image string) (syscall.Signal, error) {
	if requested == runtimeapi.Signal_SIGNAL_RUNTIME_DEFAULT {
		sig, err := ParseSignal(image)
		if err != nil {
			return 0, invalidf("image STOPSIGNAL %q is not a signal", image)
		}
		return sig, nil
	}
	name, ok := runtimeapi.Signal_name[int32(requested)]
	if !ok {
		return 0, invalidf("stop_signal %d is unknown", int32(requested))
	}
	name = strings.TrimPrefix(name, "SIGNAL_")
	switch {
	case strings.HasPrefix(name, "SIGRTMINPLUS"):
		name = "SIGRTMIN+" + strings.TrimPrefix(name, "SIGRTMINPLUS")
	case strings.HasPrefix(name, "SIGRTMAXMINUS"):
		name = "SIGRTMAX-" + strings.TrimPrefix(name, "SIGRTMAXMINUS")
	}
	return ParseSignal(name)
}
