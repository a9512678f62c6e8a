// Command demo is `make demo`: it shows stasis's value in one run. It starts
// the Jetty and Jackson demo service cold under stasis, then checkpoints it
// (readiness probe, warm-up, checkpoint) under stasis as PID 1 of a fresh
// PID namespace, restores it in another fresh namespace, shows that its state
// was kept, and prints cold start against restore.
//
// Usage: go run ./internal/demo -stasis bin/stasis
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"stasis/internal/linux"
	"stasis/supervisor/engine"
)

func main() {
	stasis := flag.String("stasis", "bin/stasis", "the stasis binary")
	src := flag.String("src", "demo/DemoService.java", "the demo service's source")
	flag.Parse()
	if err := run(*stasis, *src); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// jars are the demo service's libraries from Debian's libjetty9-java and
// libjackson2-databind-java.
var jars = []string{"jetty9-server", "jetty9-http", "jetty9-io", "jetty9-util", "servlet-api",
	"jackson-databind", "jackson-core", "jackson-annotations"}

type demo struct {
	stasis, criu, work, classpath string
	port                          int
}

func run(stasis, src string) error {
	d := &demo{}
	var err error
	if d.stasis, err = filepath.Abs(stasis); err != nil {
		return err
	}
	if d.criu, err = findCRIU(); err != nil {
		return err
	}
	if d.work, err = os.MkdirTemp("", "stasis-demo-"); err != nil {
		return err
	}
	defer os.RemoveAll(d.work)
	if err := d.compile(src); err != nil {
		return err
	}
	if d.port, err = freePort(); err != nil {
		return err
	}
	return d.show()
}

func (d *demo) show() error {
	step("1/3  cold start: the service under stasis as a plain init (STASIS_MODE=run)")
	cold, _, err := d.startAndMeasure([]string{"STASIS_MODE=run"}, nil)
	if err != nil {
		return err
	}
	step("2/3  checkpoint run: no image yet, so stasis waits for /health, warms up, checkpoints")
	ck := d.stasisCmd(nil, "STASIS_CHECKPOINT_ON="+d.url("/health"),
		"STASIS_WARMUP_URL="+d.url("/api/orders")+","+d.url("/api/count"), "STASIS_WARMUP_REQUESTS=4000")
	if err := ck.Run(); err != nil {
		return fmt.Errorf("checkpoint run: %v", err)
	}
	m, err := d.manifest()
	if err != nil {
		return err
	}
	step("3/3  restore: the same command again, in a fresh PID namespace")
	var ph phases
	restored, body, err := d.startAndMeasure([]string{"STASIS_CHECKPOINT_ON=" + d.url("/health")}, &ph)
	if err != nil {
		return err
	}
	var got struct{ Count, PID int }
	_ = json.Unmarshal([]byte(body), &got)
	fmt.Printf("\n  first answer after the restore: %s\n", body)
	fmt.Printf("  the counter went on from the warm-up (%d requests before the checkpoint), and the JVM kept pid %d\n", got.Count-1, got.PID)
	d.table(cold, restored, m, &ph)
	return nil
}

func step(s string) { fmt.Printf("\n\033[1m== %s\033[0m\n", s) }

func (d *demo) url(path string) string { return fmt.Sprintf("http://127.0.0.1:%d%s", d.port, path) }

func (d *demo) command() []string {
	return []string{"java", "-cp", d.classpath, "DemoService", fmt.Sprint(d.port)}
}

// stasisCmd is stasis as PID 1 of a fresh PID namespace, its output shown
// indented.
func (d *demo) stasisCmd(out io.Writer, env ...string) *exec.Cmd {
	args := append([]string{"--pid", "--fork", "--mount-proc", d.stasis, "--"}, d.command()...)
	cmd := exec.Command("unshare", args...)
	cmd.Env = append(os.Environ(), append([]string{"STASIS_CRIU=" + d.criu,
		"STASIS_IMAGE_DIR=" + filepath.Join(d.work, "image"), "STASIS_STATE_DIR=" + filepath.Join(d.work, "state")}, env...)...)
	w := indent(os.Stdout)
	if out != nil {
		w = io.MultiWriter(w, out)
	}
	cmd.Stdout, cmd.Stderr = w, w
	return cmd
}

// startAndMeasure starts stasis, times the first answer of /api/count, reads
// a restore's phases from `stasis status --json` into ph (when not nil),
// and stops it with SIGTERM, as `docker stop` would.
func (d *demo) startAndMeasure(env []string, ph *phases) (time.Duration, string, error) {
	cmd := d.stasisCmd(nil, env...)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, "", err
	}
	body, err := firstAnswer(d.url("/api/count"), time.Minute)
	took := time.Since(start)
	if err != nil {
		_ = cmd.Process.Kill()
		return 0, "", err
	}
	time.Sleep(200 * time.Millisecond)
	if ph != nil {
		d.readPhases(ph)
	}
	stop(cmd)
	return took, body, nil
}

// phases are the restore's, as `stasis status --json` reports them.
type phases struct {
	StartupMS  int64  `json:"startup_ms"`
	CheckMS    int64  `json:"check_ms"`
	CRIUMS     int64  `json:"criu_ms"`
	ReadyMS    int64  `json:"ready_ms"`
	VerifyMS   int64  `json:"checksums_ms"`
	VerifyHeld bool   `json:"checksums_during_criu"`
	Kdat       string `json:"kerndat"`
}

// readPhases asks the running stasis for its restore's phases, waiting a
// little for the readiness probe's answer.
func (d *demo) readPhases(ph *phases) {
	for i := 0; i < 50; i++ {
		cmd := exec.Command(d.stasis, "status", "--json")
		cmd.Env = append(os.Environ(), "STASIS_STATE_DIR="+filepath.Join(d.work, "state"))
		out, err := cmd.Output()
		var st struct{ Restore *phases }
		if err == nil && json.Unmarshal(out, &st) == nil && st.Restore != nil {
			*ph = *st.Restore
			if ph.ReadyMS > 0 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop sends SIGTERM to stasis, unshare's child (unshare itself ignores it).
func stop(cmd *exec.Cmd) {
	pid := cmd.Process.Pid
	if c := linux.Children(pid); len(c) > 0 {
		_ = syscall.Kill(c[0], syscall.SIGTERM)
	}
	_ = cmd.Wait()
}

func firstAnswer(url string, limit time.Duration) (string, error) {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		resp, err := client.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return strings.TrimSpace(string(b)), nil
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	return "", fmt.Errorf("%s did not answer within %v", url, limit)
}

type manifest struct {
	PID        int   `json:"pid"`
	ImageBytes int64 `json:"image_bytes"`
	Phases     struct {
		LaunchToReadyMS int64 `json:"launch_to_ready_ms"`
		WarmupMS        int64 `json:"warmup_ms"`
		DumpMS          int64 `json:"dump_ms"`
	} `json:"phases"`
}

func (d *demo) manifest() (*manifest, error) {
	b, err := os.ReadFile(filepath.Join(d.work, "image", "stasis.json"))
	if err != nil {
		return nil, fmt.Errorf("no image was written: %v", err)
	}
	var m manifest
	return &m, json.Unmarshal(b, &m)
}

func (d *demo) table(cold, restored time.Duration, m *manifest, ph *phases) {
	fmt.Println()
	check := "restore: image check (manifest, sizes, sums)"
	if ph.VerifyHeld {
		check = "restore: image check (manifest, sizes)"
	}
	rows := [][2]string{
		{"cold start to first response", ms(cold)},
		{"restore to first response", ms(restored)},
		{"restore is faster by", fmt.Sprintf("%.1fx", float64(cold)/float64(restored))},
		{"restore: stasis's own start-up", fmt.Sprintf("%d ms", ph.StartupMS)},
		{check, fmt.Sprintf("%d ms", ph.CheckMS)},
		{"restore: CRIU (kerndat " + ph.Kdat + ")", fmt.Sprintf("%d ms", ph.CRIUMS)},
	}
	if ph.VerifyHeld {
		rows = append(rows, [2]string{"restore: checksums, during CRIU", fmt.Sprintf("%d ms", ph.VerifyMS)})
	}
	rows = append(rows, [][2]string{
		{"restore: ready (probe answers), from start", fmt.Sprintf("%d ms", ph.ReadyMS)},
		{"image size", fmt.Sprintf("%.1f MB", float64(m.ImageBytes)/1e6)},
		{"checkpoint: launch to ready", fmt.Sprintf("%d ms", m.Phases.LaunchToReadyMS)},
		{"checkpoint: warm-up", fmt.Sprintf("%d ms", m.Phases.WarmupMS)},
		{"checkpoint: dump", fmt.Sprintf("%d ms", m.Phases.DumpMS)},
	}...)
	fmt.Println("  ------------------------------------------------------")
	for _, r := range rows {
		fmt.Printf("  %-44s %10s\n", r[0], r[1])
	}
	fmt.Println("  ------------------------------------------------------")
}

func ms(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) }

func (d *demo) compile(src string) error {
	var cp []string
	for _, j := range jars {
		p := "/usr/share/java/" + j + ".jar"
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%s missing: install libjetty9-java and libjackson2-databind-java (make deps)", p)
		}
		cp = append(cp, p)
	}
	classes := filepath.Join(d.work, "classes")
	out, err := exec.Command("javac", "-d", classes, "-cp", strings.Join(cp, ":"), src).CombinedOutput()
	if err != nil {
		return fmt.Errorf("javac: %v\n%s", err, out)
	}
	d.classpath = strings.Join(append([]string{classes}, cp...), ":")
	return nil
}

func findCRIU() (string, error) {
	for _, c := range []string{os.Getenv("STASIS_CRIU"), "/usr/local/lib/stasis-criu/criu"} {
		if c != "" && exec.Command(c, "--version").Run() == nil {
			return c, nil
		}
	}
	if p, err := exec.LookPath(engine.CRIUBinary); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("no criu: run scripts/install-criu (make deps)")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// indent prefixes every line, so the runs' output stands apart from the
// demo's own lines.
func indent(w io.Writer) io.Writer {
	pr, pw := io.Pipe()
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			fmt.Fprintf(w, "   | %s\n", sc.Text())
		}
	}()
	return pw
}
