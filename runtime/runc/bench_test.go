package runc

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkCreateStartWait is one container's life through the shim:
// Create (the shim runs runc create), Start, Wait, Delete.
func BenchmarkCreateStartWait(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	for b.Loop() {
		o := e.options(ctr{args: []string{"true"}})
		s, err := e.r.Create(ctx, o)
		if err != nil {
			b.Fatal(err)
		}
		if err := e.r.Start(ctx, o.ID); err != nil {
			b.Fatal(err)
		}
		if ex, err := s.Wait(ctx); err != nil || ex.Status != 0 {
			b.Fatal(ex, err)
		}
		s.Close()
		if err := e.r.Delete(ctx, o.ID, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRuncRun is the baseline of BenchmarkCreateStartWait: a bare
// `runc run` of the same kind of bundle, stdio on pipes, then runc delete
// (run removes the container itself).
func BenchmarkRuncRun(b *testing.B) {
	e := newEnv(b)
	for b.Loop() {
		o := e.options(ctr{args: []string{"true"}})
		cmd := exec.Command(e.r.binary, "--root", e.root, "run", "--bundle", o.Bundle, o.ID)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
	}
}

// BenchmarkRuncCreateStartDelete is BenchmarkCreateStartWait without the
// shim: the same three runc commands run directly, the container's stdio on
// pipes. The difference between the two is what the shim costs.
func BenchmarkRuncCreateStartDelete(b *testing.B) {
	e := newEnv(b)
	for b.Loop() {
		o := e.options(ctr{args: []string{"true"}})
		pidFile := filepath.Join(e.dir, o.ID, "init.pid")
		create := exec.Command(e.r.binary, "--root", e.root, "create", "--bundle", o.Bundle, "--pid-file", pidFile, o.ID)
		out, err := create.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		if err := create.Start(); err != nil {
			b.Fatal(err)
		}
		if err := create.Wait(); err != nil {
			b.Fatal(err)
		}
		pidB, _ := os.ReadFile(pidFile)
		pid, _ := strconv.Atoi(string(pidB))
		if err := exec.Command(e.r.binary, "--root", e.root, "start", o.ID).Run(); err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, out) // EOF: the container has exited
		for ppid(pid) > 0 {
			time.Sleep(time.Millisecond) // not our child: reaped by the sub-reaper below
			reapAll()
		}
		if err := exec.Command(e.r.binary, "--root", e.root, "delete", o.ID).Run(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkShimMemory reports the resident memory of a shim serving a
// running container: idle after start, and after the container wrote 20 MB
// of log lines while a client was attached. The budget is 4 MiB of VmRSS;
// Pss shares the binary's pages among the node's shims.
func BenchmarkShimMemory(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	var idle, busy memUsage
	for b.Loop() {
		c := e.create(ctr{args: []string{"sh", "-c",
			"read go; i=0; while [ $i -lt 200000 ]; do echo 'a log line of about one hundred bytes, like what a real service writes...........'; i=$((i+1)); done; echo done-writing; sleep 1000"},
			stdin: true})
		e.start(c)
		eventually(b, 5*time.Second, "the shim to settle", func() bool { return readMem(c.shim.Pid()).rss > 0 })
		idle.add(readMem(c.shim.Pid()))
		done := make(chan error, 1)
		in := strings.NewReader("go\n")
		go func() { done <- c.shim.Attach(ctx, AttachOptions{Stdin: in, Stdout: discardWriter{}}) }()
		eventually(b, 60*time.Second, "20 MB of output in the log", func() bool {
			return strings.HasSuffix(logTail(c.LogPath), " stdout F done-writing\n")
		})
		busy.add(readMem(c.shim.Pid()))
		e.destroy(c.ID, c.shim)
		<-done
		c.shim = nil
	}
	idle.report(b, "idle")
	busy.report(b, "after-20MB")
}

func logTail(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	buf := make([]byte, 64)
	fi, _ := f.Stat()
	n, _ := f.ReadAt(buf, max(fi.Size()-64, 0))
	return string(buf[:n])
}

type discardWriter struct{}

func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }

type memUsage struct {
	n                    int
	rss, anon, file, pss float64 // KiB
}

func (m *memUsage) add(u memUsage) {
	m.n++
	m.rss += u.rss
	m.anon += u.anon
	m.file += u.file
	m.pss += u.pss
}

func (m *memUsage) report(b *testing.B, what string) {
	if m.n == 0 {
		return
	}
	n := float64(m.n)
	b.ReportMetric(m.rss/n, what+"-VmRSS-KiB")
	b.ReportMetric(m.anon/n, what+"-RssAnon-KiB")
	b.ReportMetric(m.pss/n, what+"-Pss-KiB")
}

// readMem reads a process's VmRSS, RssAnon, RssFile and Pss in KiB.
func readMem(pid int) memUsage {
	var u memUsage
	read := func(file string, fields map[string]*float64) {
		f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), file))
		if err != nil {
			return
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), ":")
			if dst := fields[k]; ok && dst != nil {
				n, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
				*dst = n
			}
		}
	}
	read("status", map[string]*float64{"VmRSS": &u.rss, "RssAnon": &u.anon, "RssFile": &u.file})
	read("smaps_rollup", map[string]*float64{"Pss": &u.pss})
	return u
}
