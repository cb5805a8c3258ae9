package runc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/logbook-cri/logbook/runtime/shim"
)

func execProcess(args ...string) specs.Process {
	return specs.Process{Args: args, Env: []string{"PATH=/bin"}, Cwd: "/"}
}

func TestExec(t *testing.T) {
	e := newEnv(t)
	c := e.create(ctr{args: []string{"sleep", "1000"}})
	e.start(c)
	ctx := context.Background()

	t.Run("exit code and output", func(t *testing.T) {
		var out, errOut bytes.Buffer
		code, err := e.r.Exec(ctx, c.ID, execProcess("sh", "-c", "read x; echo out $x; echo err >&2; exit 5"),
			ExecOptions{Stdin: strings.NewReader("in\n"), Stdout: &out, Stderr: &errOut})
		if err != nil || code != 5 {
			t.Fatalf("exec = %d, %v; want 5", code, err)
		}
		if out.String() != "out in\n" || errOut.String() != "err\n" {
			t.Errorf("stdout %q stderr %q", out.String(), errOut.String())
		}
	})
	t.Run("signal", func(t *testing.T) {
		code, err := e.r.Exec(ctx, c.ID, execProcess("sh", "-c", "kill -9 $$"), ExecOptions{})
		if err != nil || code != 137 {
			t.Fatalf("exec = %d, %v; want 137", code, err)
		}
	})
	t.Run("missing binary", func(t *testing.T) {
		code, err := e.r.Exec(ctx, c.ID, execProcess("no-such-binary"), ExecOptions{})
		if !errors.Is(err, ErrRuncFailed) || errors.Is(err, ErrNotFound) || code != -1 {
			t.Fatalf("exec = %d, %v; want -1 and ErrRuncFailed", code, err)
		}
	})
	t.Run("unknown container", func(t *testing.T) {
		_, err := e.r.Exec(ctx, c.ID+"-nope", execProcess("true"), ExecOptions{})
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("exec: %v, want ErrNotFound", err)
		}
	})
	t.Run("terminal process refused", func(t *testing.T) {
		p := execProcess("true")
		p.Terminal = true
		if _, err := e.r.Exec(ctx, c.ID, p, ExecOptions{}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("exec: %v, want ErrInvalid", err)
		}
	})
	t.Run("cancel kills the process", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		outR, outW := io.Pipe()
		type result struct {
			code int
			err  error
		}
		done := make(chan result, 1)
		go func() {
			code, err := e.r.Exec(cctx, c.ID, execProcess("sh", "-c", "echo started; exec sleep 1000"), ExecOptions{Stdout: outW})
			outW.Close()
			done <- result{code, err}
		}()
		line, err := bufio.NewReader(outR).ReadString('\n')
		if err != nil || line != "started\n" {
			t.Fatalf("exec said %q, %v", line, err)
		}
		go io.Copy(io.Discard, outR)
		cancel()
		var res result
		select {
		case res = <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("cancelled exec did not return")
		}
		if !errors.Is(res.err, context.Canceled) || res.code != 137 {
			t.Fatalf("cancelled exec = %d, %v; want 137 and context.Canceled", res.code, res.err)
		}
		// Only the container's init is left in its cgroup.
		if procs := cgroupProcs(t, c.ID); !slices.Equal(procs, []int{c.shim.InitPid()}) {
			t.Errorf("cgroup processes %v, want only init %d", procs, c.shim.InitPid())
		}
	})
	t.Run("cancel kills what the process started", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		outR, outW := io.Pipe()
		done := make(chan error, 1)
		go func() {
			// Background children that keep running (and keep the output
			// pipe) if only the shell is killed.
			_, err := e.r.Exec(cctx, c.ID, execProcess("sh", "-c", "sleep 1000 & sleep 1001 & sh -c 'sleep 1002' & echo started; wait"), ExecOptions{Stdout: outW})
			outW.Close()
			done <- err
		}()
		line, err := bufio.NewReader(outR).ReadString('\n')
		if err != nil || line != "started\n" {
			t.Fatalf("exec said %q, %v", line, err)
		}
		go io.Copy(io.Discard, outR)
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled exec: %v, want context.Canceled", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("cancelled exec did not return")
		}
		eventually(t, 5*time.Second, "only the init left in the cgroup", func() bool {
			return slices.Equal(cgroupProcs(t, c.ID), []int{c.shim.InitPid()})
		})
	})
}

func cgroupProcs(t *testing.T, id string) []int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/pids", cgroupParent, id, "cgroup.procs"))
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		n, _ := strconv.Atoi(f)
		pids = append(pids, n)
	}
	slices.Sort(pids)
	return pids
}

func TestExecTTY(t *testing.T) {
	e := newEnv(t)
	c := e.create(ctr{args: []string{"sleep", "1000"}})
	e.start(c)
	ctx := context.Background()

	t.Run("initial size", func(t *testing.T) {
		p := execProcess("sh", "-c", "stty size; tty")
		p.ConsoleSize = &specs.Box{Height: 30, Width: 90}
		out := newSyncBuffer()
		code, err := e.r.ExecTTY(ctx, c.ID, p, ExecTTYOptions{Stdout: out})
		if err != nil || code != 0 {
			t.Fatalf("exec = %d, %v", code, err)
		}
		if !strings.Contains(out.String(), "30 90\r\n") || !strings.Contains(out.String(), "/dev/pts/") {
			t.Errorf("output %q", out.String())
		}
	})
	t.Run("resize and stdin", func(t *testing.T) {
		inR, inW := io.Pipe()
		defer inW.Close()
		out := newSyncBuffer()
		resize := make(chan shim.TermSize, 1)
		type result struct {
			code int
			err  error
		}
		done := make(chan result, 1)
		go func() {
			code, err := e.r.ExecTTY(ctx, c.ID, execProcess("sh"), ExecTTYOptions{Stdin: inR, Stdout: out, Resize: resize})
			done <- result{code, err}
		}()
		resize <- shim.TermSize{Width: 120, Height: 50}
		eventually(t, 10*time.Second, "the resized terminal", func() bool {
			io.WriteString(inW, "stty size\n")
			return strings.Contains(out.String(), "50 120")
		})
		io.WriteString(inW, "exit 4\n")
		select {
		case res := <-done:
			if res.err != nil || res.code != 4 {
				t.Fatalf("exec = %d, %v; want 4", res.code, res.err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("exec did not end")
		}
	})
}

func TestListAndDeleteLeaveNothingBehind(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := e.create(ctr{args: []string{"sleep", "1000"}})
	b := e.create(ctr{args: []string{"true"}})
	e.start(a)

	sts, err := e.r.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]State{}
	for _, st := range sts {
		got[st.ID] = st
	}
	if len(got) != 2 || got[a.ID].Status != "running" || got[b.ID].Status != "created" ||
		got[a.ID].Pid != a.shim.InitPid() || got[b.ID].Bundle != b.Bundle {
		t.Fatalf("list %+v", sts)
	}
	if st, err := e.r.State(ctx, a.ID); err != nil || st.Pid != got[a.ID].Pid || !st.Created.Equal(got[a.ID].Created) || st.Status != "running" {
		t.Errorf("state %+v, %v; list said %+v", st, err, got[a.ID])
	}
	if err := e.r.Delete(ctx, a.ID, false); !errors.Is(err, ErrRuncFailed) {
		t.Errorf("delete of a running container without force: %v", err)
	}

	for _, c := range []*created{a, b} {
		if err := e.r.Delete(ctx, c.ID, true); err != nil {
			t.Fatal(err)
		}
		// The shim sees its container killed and records it.
		if ex := e.wait(c); ex.Status != 137 {
			t.Errorf("%s: exit %+v", c.ID, ex)
		}
		if _, err := e.r.State(ctx, c.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("state after delete: %v", err)
		}
		if _, err := os.Stat(filepath.Join(e.root, c.ID)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("runc state directory left: %v", err)
		}
		ctrls, _ := os.ReadDir("/sys/fs/cgroup")
		for _, ctrl := range ctrls {
			p := filepath.Join("/sys/fs/cgroup", ctrl.Name(), cgroupParent, c.ID)
			if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("cgroup left: %s (%v)", p, err)
			}
		}
		mounts, _ := os.ReadFile("/proc/self/mountinfo")
		if bytes.Contains(mounts, []byte(c.Bundle)) {
			t.Errorf("a mount under %s is left", c.Bundle)
		}
	}
	if sts, err := e.r.List(ctx); err != nil || len(sts) != 0 {
		t.Errorf("list after delete: %+v, %v", sts, err)
	}
}

func TestUpdate(t *testing.T) {
	e := newEnv(t)
	c := e.create(ctr{args: []string{"sleep", "1000"}})
	e.start(c)
	limit := int64(64 << 20)
	if err := e.r.Update(context.Background(), c.ID, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/memory", cgroupParent, c.ID, "memory.limit_in_bytes"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(b)); got != strconv.FormatInt(limit, 10) {
		t.Errorf("memory.limit_in_bytes = %s, want %d", got, limit)
	}
	if err := e.r.Update(context.Background(), c.ID, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("update without resources: %v", err)
	}
}

func TestUnknownContainer(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const id = "no-such-container"
	for name, op := range map[string]func() error{
		"state":  func() error { _, err := e.r.State(ctx, id); return err },
		"start":  func() error { return e.r.Start(ctx, id) },
		"kill":   func() error { return e.r.Kill(ctx, id, unix.SIGTERM, false) },
		"delete": func() error { return e.r.Delete(ctx, id, false) },
		"update": func() error { return e.r.Update(ctx, id, &specs.LinuxResources{}) },
	} {
		err := op()
		var re *RuncError
		if !errors.Is(err, ErrNotFound) || !errors.Is(err, ErrRuncFailed) || !errors.As(err, &re) || re.Command != name {
			t.Errorf("%s: %v, want a RuncError matching ErrNotFound", name, err)
		}
	}
	if err := e.r.Delete(ctx, id, true); err != nil {
		t.Errorf("forced delete of an unknown container: %v", err)
	}
	if sts, err := e.r.List(ctx); err != nil || len(sts) != 0 {
		t.Errorf("list of an empty root: %+v, %v", sts, err)
	}
}

func TestStoppedContainer(t *testing.T) {
	e := newEnv(t)
	c := e.create(ctr{args: []string{"true"}})
	e.start(c)
	e.wait(c)
	ctx := context.Background()
	if err := e.r.Kill(ctx, c.ID, unix.SIGKILL, false); !errors.Is(err, ErrNotRunning) {
		t.Errorf("kill of a stopped container: %v, want ErrNotRunning", err)
	}
	if err := e.r.Start(ctx, c.ID); !errors.Is(err, ErrNotRunning) {
		t.Errorf("start of a stopped container: %v, want ErrNotRunning", err)
	}
	if err := e.r.Delete(ctx, c.ID, false); err != nil {
		t.Errorf("delete of a stopped container: %v", err)
	}
}
