package triggers

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
)

// helperEnv makes the test binary act as a helper process instead of running
// tests: "http-server" serves a small JSON answer on a loopback port, prints
// the address, and exits when its stdin closes. Benchmarks use it so that
// the load generators measured do not share a process with the server.
const helperEnv = "TRIGGERS_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "http-server" {
		os.Exit(serveHelper())
	}
	code := m.Run()
	if classDir != "" {
		os.RemoveAll(classDir) // compiled once for the JVM tests
	}
	os.Exit(code)
}

func serveHelper() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(ln.Addr().String())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	err = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"status":"UP","items":[1,2,3]}`)
	}))
	fmt.Fprintln(os.Stderr, err)
	return 1
}
