// Package healthcheck owns the probes that tell whether the JVM is ready
// (HTTP, HTTPS, TCP, file) and the logic of the `stasis healthcheck`
// subcommand. It is the bottom of stasis's import graph: it must not import
// any other stasis package but its own internal/httpget, nor net/http
// (httpget says why).
package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// A Probe checks a target once. ProbeOnce returns nil when the target is
// ready, else an error that says why not, such as
// "GET http://127.0.0.1:8080/health: 503 Service Unavailable" or
// "dial tcp 127.0.0.1:8080: connect: connection refused".
// A single attempt is bounded by ctx; callers give each attempt its own
// deadline. Probes are safe for concurrent use.
type Probe interface {
	ProbeOnce(ctx context.Context) error
	String() string
}

// ParseProbe parses a probe spec: http://HOST[:PORT]/PATH,
// https://HOST[:PORT]/PATH, tcp://HOST:PORT or file:PATH. The error names
// the spec and the reason, e.g. `"tcp://nohostport": missing port`, so that
// a caller only has to prefix the setting's name.
func ParseProbe(spec string) (Probe, error) {
	switch {
	case strings.HasPrefix(spec, "http://"), strings.HasPrefix(spec, "https://"):
		u, err := ParseHTTPURL(spec)
		if err != nil {
			return nil, err
		}
		return newHTTPProbe(u)
	case strings.HasPrefix(spec, "tcp://"):
		addr, err := parseHostPort(strings.TrimPrefix(spec, "tcp://"))
		if err != nil {
			return nil, fmt.Errorf("%q: %w", spec, err)
		}
		return &TCPProbe{Addr: addr}, nil
	case strings.HasPrefix(spec, "file:"):
		path := strings.TrimPrefix(spec, "file:")
		if path == "" {
			return nil, fmt.Errorf("%q: missing path", spec)
		}
		return &FileProbe{Path: path}, nil
	}
	return nil, fmt.Errorf("%q: unknown probe (want http://, tcp:// or file:)", spec)
}

// ParseHTTPURL validates an http or https URL with a host, the form shared
// by HTTP probes and warm-up URLs. The port may be left out (80, 443).
func ParseHTTPURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the URL, which we quote ourselves
		}
		return nil, fmt.Errorf("%q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%q: scheme must be http or https", raw)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("%q: missing host", raw)
	}
	if p := u.Port(); p != "" || strings.HasSuffix(u.Host, ":") {
		if _, err := parsePort(p); err != nil {
			return nil, fmt.Errorf("%q: %w", raw, err)
		}
	}
	if u.User != nil {
		return nil, fmt.Errorf("%q: user info is not supported", raw)
	}
	return u, nil
}

// parseHostPort checks HOST:PORT, where the port is a number and the host is
// not empty (an empty host would silently mean "this machine" to Dial).
func parseHostPort(s string) (string, error) {
	if s == "" {
		return "", errors.New("missing host and port")
	}
	if strings.ContainsAny(s, "/?#") {
		return "", errors.New("unexpected path after host:port")
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		if !strings.Contains(s, ":") || strings.HasSuffix(s, "]") {
			return "", errors.New("missing port")
		}
		return "", fmt.Errorf("bad host:port: %w", err)
	}
	if host == "" {
		return "", errors.New("missing host")
	}
	if _, err := parsePort(port); err != nil {
		return "", err
	}
	return net.JoinHostPort(host, port), nil
}

func parsePort(p string) (int, error) {
	if p == "" {
		return 0, errors.New("missing port")
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("bad port %q", p)
	}
	return n, nil
}

// IsLoopbackHost says whether host names this machine's loopback interface:
// an address in 127.0.0.0/8 or ::1, or "localhost". STASIS_PROBE_INSECURE
// applies to such targets only.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// SetInsecure makes an https probe skip the verification of its target's
// certificate, which must then be on the loopback interface (httpget
// checks the connected peer). Other probes are left as they are.
func SetInsecure(p Probe, insecure bool) {
	if h, ok := p.(*HTTPProbe); ok {
		h.req.Insecure = insecure
	}
}
