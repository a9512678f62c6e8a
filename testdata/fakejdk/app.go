package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// vm is the fake JVM: the process stasis launches, with its application
// built in. The application (its HTTP service, ticker and -Dfake.*
// properties) is the test's program, not a runtime's, and cites nothing;
// what the JVM around it does on a signal or at exit follows the sources
// named below.
type vm struct {
	home      string
	flavour   flavour
	build     build
	opts      options
	start     time.Time
	startTime string // /proc/self/stat starttime, to notice a restore

	count         atomic.Int64
	tick          atomic.Int64 // ticks printed so far
	restored      bool         // a Warp restore: this process is the restored application
	perf          *perfMemory  // crac: HotSpot's PerfData region (perfdata.go)
	checkpointing atomic.Bool
	attach        *attachListener
	j9            *j9Attach // OpenJ9's attach API, nil when off
	openFile      *os.File  // FAKE_OPEN_FILE: a descriptor that blocks a CRaC checkpoint
	mu            sync.Mutex
}

// prop reads a system property; CRIU.checkpoint sets some while the
// application runs, hence the lock.
func (v *vm) prop(name, def string) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	if s, ok := v.opts.props[name]; ok {
		return s
	}
	return def
}

// serve runs the application until the process exits.
func (v *vm) serve() int {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT)
	// A JVM ignores SIGPIPE: a write to a dead pipe fails with EPIPE instead
	// of killing the process (Go's default for fds 1 and 2). openjdk/crac
	// src/hotspot/os/posix/signals_posix.cpp, JVM_HANDLE_XXX_SIGNAL:
	// "Ignore SIGPIPE and SIGXFSZ".
	signal.Ignore(syscall.SIGPIPE)
	if err := v.listen(); err != nil {
		fmt.Fprintf(os.Stderr, "Exception in thread \"main\" java.net.BindException: %v\n", err)
		return 1
	}
	if p := os.Getenv("FAKE_OPEN_FILE"); p != "" {
		f, err := os.Open(p)
		if err != nil {
			fmt.Fprintf(os.Stderr, "open FAKE_OPEN_FILE %s: %v\n", p, err)
			return 1
		}
		v.openFile = f
	}
	if v.restored {
		fmt.Printf("Restored fake app (pid %d)\n", os.Getpid())
	} else {
		fmt.Printf("Started fake app in %d ms\n", time.Since(v.start).Milliseconds())
	}
	if err := v.startBackground(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for s := range sigs {
		switch s {
		case syscall.SIGQUIT:
			v.onQuit()
		// HUP, INT and TERM run the shutdown hooks and exit 128+N
		// (openjdk/crac src/java.base/share/classes/java/lang/Terminator.java:
		// Shutdown.exit(sig.getNumber() + 0200)).
		case syscall.SIGTERM:
			v.exit(143)
		case syscall.SIGINT:
			v.exit(130)
		case syscall.SIGHUP:
			v.exit(129)
		}
	}
	return 0
}

// startBackground starts the ticker and the scheduled behaviours
// (-Dfake.exit; OpenJ9's attach API and the application's checkpoint).
func (v *vm) startBackground() error {
	tick, err := duration("fake.tick", v.prop("fake.tick", ""))
	if err != nil {
		return err
	}
	if tick > 0 {
		go v.ticker(tick)
	}
	if s := v.prop("fake.exit", ""); s != "" {
		code, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("parse fake.exit=%q: %w", s, err)
		}
		go v.exit(code)
	}
	if v.flavour == openj9 {
		return v.scheduleSelfCheckpoint()
	}
	return nil
}

func (v *vm) ticker(every time.Duration) {
	for {
		time.Sleep(every)
		v.mu.Lock()
		n := v.tick.Add(1)
		v.perf.setTicks(n)
		fmt.Printf("tick %d\n", n)
		v.mu.Unlock()
	}
}

// exit is the JVM's exit: HotSpot deletes its PerfData file
// (perfdata.go) and the attach listener its socket; OpenJ9's attach
// handler removes its advertisement (AttachHandler's shutdown hook:
// eclipse-openj9/openj9 jcl/src/java.base/share/classes/openj9/internal/
// tools/attach/target/AttachHandler.java).
func (v *vm) exit(code int) {
	v.perf.remove()
	if v.flavour == openj9 {
		if a := v.attachAPI(); a != nil {
			os.RemoveAll(a.dir)
		}
	} else if v.attach != nil {
		v.attach.abort()
	}
	os.Exit(code)
}

// listen starts the HTTP service. MPTCP is off because CRIU cannot dump
// MPTCP sockets, and keep-alive is off so that no established connection is
// open when a checkpoint starts.
func (v *vm) listen() error {
	var lc net.ListenConfig
	lc.SetMultipathTCP(false)
	port := v.prop("fake.port", "8080")
	ln, err := lc.Listen(context.Background(), "tcp", ":"+port)
	if err != nil {
		return fmt.Errorf("listen on port %s: %w", port, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/count", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%d\n", v.count.Add(1))
	})
	mux.HandleFunc("/pid", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%d\n", os.Getpid())
	})
	mux.HandleFunc("/exit", v.handleExit)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	srv.SetKeepAlivesEnabled(false)
	go srv.Serve(ln)
	return nil
}

func (v *vm) handleExit(w http.ResponseWriter, r *http.Request) {
	code, err := strconv.Atoi(r.URL.Query().Get("code"))
	if err != nil {
		http.Error(w, "code: "+err.Error(), http.StatusBadRequest)
		return
	}
	fmt.Fprintf(w, "exiting with %d\n", code)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	go func() {
		time.Sleep(50 * time.Millisecond) // let the response leave
		v.exit(code)
	}()
}

// onQuit is SIGQUIT: HotSpot starts its attach listener when a client asked
// for it (.attach_pid<pid>), and prints a thread dump otherwise (openjdk/crac
// src/hotspot/share/runtime/os.cpp, signal_thread_entry: SIGBREAK,
// AttachListener::is_init_trigger); OpenJ9 writes a javacore and says so on
// stderr (eclipse-openj9/openj9 runtime/rasdump/trigger.c,
// J9NLS_DMP_PROCESSING_EVENT_TIME; runtime/nls/dump/j9dmp.nls, JVMDUMP039I
// and JVMDUMP013I).
func (v *vm) onQuit() {
	if v.flavour == openj9 {
		fmt.Fprintf(os.Stderr, "JVMDUMP039I Processing dump event \"user\", detail \"\" at %s - please wait.\n", time.Now().Format("2006/01/02 15:04:05"))
		fmt.Fprintln(os.Stderr, "JVMDUMP013I Processed dump event \"user\", detail \"\".")
		return
	}
	if !v.attach.onQuit() {
		printThreadDump(os.Stdout)
	}
}
