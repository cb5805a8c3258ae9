package journal

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const (
	crashPathEnv  = "LOGBOOK_JOURNAL_CRASH_PATH"
	crashRoundEnv = "LOGBOOK_JOURNAL_CRASH_ROUND"
)

// TestCrashChild is the child of TestCrash, not a test of its own: it
// appends from several goroutines (single and multi-record appends), takes
// snapshots and compacts now and then, and prints "ack <seq> <n> <id>" for
// every acknowledged append of records testRecord(id)..testRecord(id+n-1),
// until it is killed.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashPathEnv)
	if path == "" {
		t.Skip("the child process of TestCrash")
	}
	round, _ := strconv.Atoi(os.Getenv(crashRoundEnv))
	j, err := Open(path, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	ctx := context.Background()
	var (
		ids atomic.Int64
		out sync.Mutex
	)
	ids.Store(int64(round) * 1_000_000)
	for range 6 {
		go func() {
			for {
				n := 1 + int(ids.Load()%3)
				id := int(ids.Add(int64(n))) - n
				recs := make([]Record, n)
				for k := range recs {
					recs[k] = testRecord(id + k)
				}
				seq, err := j.Append(ctx, recs...)
				if err != nil {
					fmt.Fprintln(os.Stderr, "child:", err)
					os.Exit(2)
				}
				out.Lock()
				fmt.Fprintf(os.Stdout, "ack %d %d %d\n", seq, n, id)
				out.Unlock()
			}
		}()
	}
	for {
		time.Sleep(20 * time.Millisecond)
		_, last, _ := j.Bounds(ctx)
		if last < 300 {
			continue
		}
		base := last - 100
		if err := j.PutSnapshot(ctx, base, []byte(fmt.Sprintf("state@%d", base))); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(2)
		}
		if _, err := j.Compact(ctx, base+1); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(2)
		}
	}
}

// TestCrash kills a child appending to a journal with SIGKILL at a random
// moment, several rounds on the same file, and checks after each that
// every acknowledged record is there and intact, the sequence is dense,
// nothing torn is visible, and the file passes Check.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	seed := rand.Uint64()
	if s := os.Getenv("LOGBOOK_JOURNAL_CRASH_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (LOGBOOK_JOURNAL_CRASH_SEED reproduces the kill times)", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	path := filepath.Join(t.TempDir(), "journal.db")
	t.Cleanup(func() { checkFile(t, path) })
	ctx := ctxT(t)
	for round := 1; round <= 5; round++ {
		acks := crashRound(t, path, round, time.Duration(5+rng.IntN(250))*time.Millisecond)
		j, err := Open(path, Options{})
		if err != nil {
			t.Fatalf("round %d: reopen after SIGKILL: %v", round, err)
		}
		t.Cleanup(func() { j.Close() }) // on failure; closing twice is fine
		if err := j.Check(); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		first, last, _ := j.Bounds(ctx)
		byseq := map[uint64]int{} // seq -> id of its record
		maxAck := uint64(0)
		for _, a := range acks {
			for k := range a.n {
				byseq[a.seq+uint64(k)] = a.id + k
			}
			maxAck = max(maxAck, a.seq+uint64(a.n)-1)
		}
		if maxAck > last {
			t.Fatalf("round %d: acknowledged up to %d, journal ends at %d", round, maxAck, last)
		}
		next := first
		err = j.Read(ctx, 0, 0, func(r Record) error {
			if r.Seq != next {
				return fmt.Errorf("seq %d follows %d", r.Seq, next-1)
			}
			next++
			if id, ok := byseq[r.Seq]; ok {
				if err := sameRecord(r, testRecord(id)); err != nil {
					return fmt.Errorf("acknowledged record: %w", err)
				}
			} else if !strings.Contains(r.Type, ".") || len(r.Payload) != 200 {
				return fmt.Errorf("record %d is not one the child wrote", r.Seq)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if next != last+1 {
			t.Fatalf("round %d: read up to %d, last is %d", round, next-1, last)
		}
		if first > 1 {
			if at, data, err := j.Snapshot(ctx, first-1); err != nil || at != first-1 || string(data) != fmt.Sprintf("state@%d", at) {
				t.Fatalf("round %d: base snapshot %d: %q, %v", round, at, data, err)
			}
		}
		t.Logf("round %d: %d appends acknowledged, journal %d..%d", round, len(acks), first, last)
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

type crashAck struct {
	seq   uint64
	n, id int
}

// crashRound runs the child until it has acknowledged something and delay
// has passed, SIGKILLs it and returns every acknowledgement it printed.
func crashRound(t *testing.T, path string, round int, delay time.Duration) []crashAck {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashPathEnv+"="+path, crashRoundEnv+"="+strconv.Itoa(round))
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		acks    []crashAck
		started = make(chan struct{})
		done    = make(chan struct{})
	)
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var a crashAck
			if _, err := fmt.Sscanf(sc.Text(), "ack %d %d %d", &a.seq, &a.n, &a.id); err != nil {
				continue // test framework output
			}
			if len(acks) == 0 {
				close(started)
			}
			acks = append(acks, a)
		}
	}()
	select {
	case <-started:
	case <-done:
		cmd.Wait()
		t.Fatalf("round %d: the child exited without acknowledging anything", round)
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("round %d: the child acknowledged nothing in 20s", round)
	}
	time.Sleep(delay) // the kill lands wherever the child happens to be
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-done // the pipe drains what the child printed before it died
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("round %d: the child ended on its own: %v", round, err)
	}
	return acks
}
