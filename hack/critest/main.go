package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

type options struct {
	logbookd, critest, testimages, layout string
	expected, skips, out                  string
	focus                                 string
	cniConfDir                            string
	crictl                                string
	timeout                               time.Duration
	keep                                  bool
}

func main() {
	var o options
	flag.StringVar(&o.logbookd, "logbookd", "bin/logbookd", "logbookd binary")
	flag.StringVar(&o.critest, "critest", "bin/critest", "critest binary (go test -c of sigs.k8s.io/cri-tools/cmd/critest)")
	flag.StringVar(&o.testimages, "testimages", "bin/testimages", "test registry binary (testdata/testimages)")
	flag.StringVar(&o.layout, "layout", "", "OCI layout of the test images (default: the testimages cache)")
	flag.StringVar(&o.expected, "expected", "testdata/critest-expected-pass.txt", "specs that must pass, one full name per line")
	flag.StringVar(&o.skips, "skips", "testdata/critest-skip.txt", "specs skipped on purpose: regex<TAB>reason per line")
	flag.StringVar(&o.out, "out", "_out/critest", "directory for logs and reports")
	flag.StringVar(&o.focus, "focus", "", "ginkgo focus regex (default: everything)")
	flag.StringVar(&o.cniConfDir, "cni-conf-dir", "", "CNI config directory for the daemon (default: a private one with the test network)")
	flag.DurationVar(&o.timeout, "timeout", 15*time.Minute, "bound on the whole conformance run")
	flag.BoolVar(&o.keep, "keep", false, "keep the daemon's root and state after the run")
	flag.StringVar(&o.crictl, "crictl", "bin/crictl", "crictl binary, used to remove what the suite left behind")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "critest:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, o.timeout)
	defer cancelTimeout()

	// The suite runs in a scratch directory: every path given is made
	// absolute first.
	for _, p := range []*string{&o.logbookd, &o.critest, &o.testimages, &o.crictl, &o.expected, &o.skips, &o.layout, &o.cniConfDir} {
		if *p == "" {
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	out, err := filepath.Abs(o.out)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "logbook-critest-")
	if err != nil {
		return err
	}
	if !o.keep {
		defer os.RemoveAll(work)
	}

	// The loopback registry.
	addrFile := filepath.Join(work, "registry.addr")
	regArgs := []string{"serve", "--addr", "127.0.0.1:0", "--addr-file", addrFile}
	if o.layout != "" {
		regArgs = append(regArgs, "--layout", o.layout)
	}
	reg, err := startProcess(o.testimages, regArgs, filepath.Join(out, "registry.log"))
	if err != nil {
		return fmt.Errorf("start test registry: %w", err)
	}
	defer stopProcess(reg, 10*time.Second)
	regAddr, err := waitFile(ctx, addrFile, reg, 60*time.Second)
	if err != nil {
		return fmt.Errorf("test registry: %w (see %s)", err, filepath.Join(out, "registry.log"))
	}
	mirror := "http://" + strings.TrimSpace(regAddr)

	// The daemon under test.
	root, state := filepath.Join(work, "root"), filepath.Join(work, "state")
	sock := filepath.Join(state, "logbook.sock")
	cfg := map[string]any{
		"root":              root,
		"state":             state,
		"socket":            sock,
		"enable-pod-events": true,
		"metrics-address":   "",
		"registry-mirrors": map[string][]string{
			"registry.k8s.io": {mirror}, "gcr.io": {mirror}, "k8s.gcr.io": {mirror},
			"public.ecr.aws": {mirror}, "docker.io": {mirror},
		},
	}
	cniConfDir := o.cniConfDir
	if cniConfDir == "" {
		// A private network, so the run never depends on (or disturbs)
		// the host's /etc/cni/net.d.
		cniConfDir = filepath.Join(work, "net.d")
		if err := writeTestNetwork(cniConfDir, filepath.Join(work, "cni-ipam")); err != nil {
			return err
		}
		defer removeTestBridge()
	}
	cfg["cni-conf-dir"] = cniConfDir
	cfgPath := filepath.Join(work, "daemon.json")
	b, _ := json.MarshalIndent(cfg, "", "  ")
	if err := os.WriteFile(cfgPath, b, 0o644); err != nil {
		return err
	}
	daemonLog := filepath.Join(out, "logbookd.log")
	d, err := startProcess(o.logbookd, []string{"--config", cfgPath, "--log-level", "debug"}, daemonLog)
	if err != nil {
		return fmt.Errorf("start logbookd: %w", err)
	}
	defer stopProcess(d, 60*time.Second)
	// Containers outlive the daemon by design, so whatever the suite left
	// behind is removed through the API before the daemon stops.
	defer removeEverything(o.crictl, sock, filepath.Join(out, "cleanup.log"))
	if err := waitSocket(ctx, sock, d, 60*time.Second); err != nil {
		return fmt.Errorf("logbookd: %w (see %s)", err, daemonLog)
	}

	// The suite.
	report := filepath.Join(out, "critest.json")
	_ = os.Remove(report)
	args := []string{
		"-runtime-endpoint", "unix://" + sock,
		"-ginkgo.v", "-ginkgo.no-color", "-ginkgo.timeout=" + o.timeout.String(),
		"-ginkgo.json-report=" + report,
		"-ginkgo.junit-report=" + filepath.Join(out, "critest-junit.xml"),
	}
	skips, err := readSkips(o.skips)
	if err != nil {
		return err
	}
	for _, s := range skips {
		args = append(args, "-ginkgo.skip="+s)
	}
	if o.focus != "" {
		args = append(args, "-ginkgo.focus="+o.focus)
	}
	critestLog := filepath.Join(out, "critest.log")
	logf, err := os.Create(critestLog)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, o.critest, args...)
	cmd.Dir = work // critest reads <parent of cwd>/crictl.yaml only if /etc/crictl.yaml is missing; keep it away from the repo
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), "TMPDIR="+filepath.Join(work, "tmp"))
	_ = os.MkdirAll(filepath.Join(work, "tmp"), 0o755)
	fmt.Printf("critest: running the CRI conformance suite (log: %s)\n", critestLog)
	start := time.Now()
	runErr := cmd.Run()
	logf.Close()
	fmt.Printf("critest: suite finished in %s\n", time.Since(start).Round(time.Second))

	specs, err := readReport(report)
	if err != nil {
		if runErr != nil {
			return fmt.Errorf("critest did not produce a report (%v): %w; see %s", runErr, err, critestLog)
		}
		return err
	}
	expected, err := readLines(o.expected)
	if err != nil {
		return err
	}
	return judge(specs, expected)
}

type spec struct {
	name, state string
	failure     string
}

// readReport parses ginkgo's JSON report into full spec names and states.
func readReport(path string) ([]spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var suites []struct {
		SpecReports []struct {
			ContainerHierarchyTexts []string
			LeafNodeText            string
			LeafNodeType            string
			State                   string
			Failure                 *struct{ Message string }
		}
	}
	if err := json.Unmarshal(b, &suites); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	var specs []spec
	for _, s := range suites {
		for _, r := range s.SpecReports {
			if r.LeafNodeType != "It" {
				continue // BeforeSuite and friends
			}
			name := strings.Join(append(append([]string{}, r.ContainerHierarchyTexts...), r.LeafNodeText), " ")
			sp := spec{name: name, state: r.State}
			if r.Failure != nil {
				sp.failure = firstLine(r.Failure.Message)
			}
			specs = append(specs, sp)
		}
	}
	sort.Slice(specs, func(i, j int) bool { return specs[i].name < specs[j].name })
	return specs, nil
}

func judge(specs []spec, expected []string) error {
	var passed, failed, skipped int
	got := map[string]string{}
	for _, s := range specs {
		got[s.name] = s.state
		switch s.state {
		case "passed":
			passed++
		case "skipped", "pending":
			skipped++
		default: // failed, panicked, interrupted, aborted, timedout
			failed++
			fmt.Printf("critest: FAIL %s: %s\n", s.name, s.failure)
		}
	}
	var missing []string
	want := map[string]bool{}
	for _, name := range expected {
		want[name] = true
		if got[name] != "passed" {
			state := got[name]
			if state == "" {
				state = "not run"
			}
			missing = append(missing, fmt.Sprintf("%s (%s)", name, state))
		}
	}
	for _, s := range specs {
		if s.state == "passed" && !want[s.name] {
			fmt.Printf("critest: passes but is not in the expected list: %s\n", s.name)
		}
	}
	for _, m := range missing {
		fmt.Printf("critest: REGRESSION expected to pass: %s\n", m)
	}
	fmt.Printf("critest: %d passed, %d failed, %d skipped\n", passed, failed, skipped)
	if len(missing) > 0 {
		return fmt.Errorf("%d expected spec(s) did not pass", len(missing))
	}
	return nil
}

func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		lines = append(lines, l)
	}
	return lines, sc.Err()
}

// readSkips reads "regex<TAB>reason" lines; the reason is documentation.
func readSkips(path string) ([]string, error) {
	lines, err := readLines(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var res []string
	for _, l := range lines {
		re, _, _ := strings.Cut(l, "\t")
		res = append(res, strings.TrimSpace(re))
	}
	return res, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

func removeEverything(crictl, sock, logPath string) {
	logf, err := os.Create(logPath)
	if err != nil {
		return
	}
	defer logf.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, crictl, "--runtime-endpoint", "unix://"+sock, "--timeout", "60s", "rmp", "--all", "--force")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(logf, "crictl rmp: %v\n", err)
	}
}

type process struct {
	cmd  *exec.Cmd
	done chan error
}

func startProcess(path string, args []string, logPath string) (*process, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	p := &process{cmd: cmd, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait(); logf.Close() }()
	return p, nil
}

// stopProcess sends SIGTERM and waits, then SIGKILL.
func stopProcess(p *process, grace time.Duration) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func waitFile(ctx context.Context, path string, p *process, limit time.Duration) (string, error) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) > 0 {
			return string(b), nil
		}
		select {
		case err := <-p.done:
			return "", fmt.Errorf("exited early: %v", err)
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return "", fmt.Errorf("not ready after %s", limit)
}

func waitSocket(ctx context.Context, path string, p *process, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return nil
		}
		select {
		case err := <-p.done:
			return fmt.Errorf("exited early: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("socket %s not answering after %s", path, limit)
}

// The harness's private pod network: its own bridge and subnet, leases in
// the run's temp dir. portmap serves the host-port specs; lo is brought up
// by logbookd itself, so no loopback plugin.
const (
	testBridge = "logbook-test0"
	testSubnet = "10.198.0.0/16"
)

func writeTestNetwork(confDir, ipamDir string) error {
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       "logbook-critest",
		"plugins": []any{
			map[string]any{
				"type": "bridge", "bridge": testBridge, "isGateway": true, "ipMasq": false, "hairpinMode": true,
				"ipam": map[string]any{
					"type":    "host-local",
					"ranges":  [][]map[string]string{{{"subnet": testSubnet}}},
					"routes":  []map[string]string{{"dst": "0.0.0.0/0"}},
					"dataDir": ipamDir,
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}
	b, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(confDir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(confDir, "10-critest.conflist"), b, 0o644)
}

// removeTestBridge deletes the bridge the run's pods were attached to
// (every pod's DEL has released its address and rules by then).
func removeTestBridge() {
	_ = exec.Command("ip", "link", "del", testBridge).Run()
}
