package triggers

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"stasis/healthcheck"
)

// Kind is the kind of a checkpoint condition.
type Kind int

const (
	KindHTTP Kind = iota
	KindTCP
	KindLog
	KindFile
	KindDelay
	KindManual
	KindApp
)

// Condition is one parsed item of STASIS_CHECKPOINT_ON.
type Condition struct {
	Kind  Kind
	Raw   string            // the item as written, for messages
	Probe healthcheck.Probe // http, tcp, file
	Regex *regexp.Regexp    // log
	Delay time.Duration     // delay
}

func (c Condition) String() string { return c.Raw }

// Spec is a parsed STASIS_CHECKPOINT_ON: all Conditions must hold.
type Spec struct {
	Conditions []Condition
}

// setting is the variable a Spec comes from, named in NotReadyError.
const setting = "STASIS_CHECKPOINT_ON"

// ParseSpec parses and validates STASIS_CHECKPOINT_ON (see the package doc
// for the syntax). Errors are one line, `"ITEM": why`; the caller names the
// setting (cmd/stasis: STASIS_CHECKPOINT_ON="…": "ITEM": why).
func ParseSpec(s string) (Spec, error) {
	if strings.TrimSpace(s) == "" {
		return Spec{}, nil
	}
	var spec Spec
	seen := map[string]bool{}
	for _, item := range splitItems(s) {
		c, err := parseItem(item)
		if err != nil {
			return Spec{}, err
		}
		if seen[c.Raw] {
			return Spec{}, fmt.Errorf("%q: duplicate item", c.Raw)
		}
		seen[c.Raw] = true
		spec.Conditions = append(spec.Conditions, c)
	}
	if spec.IsApp() && len(spec.Conditions) > 1 {
		return Spec{}, fmt.Errorf("%q: app must stand alone (the app checkpoints itself; stasis cannot hold it back for other conditions)", s)
	}
	return spec, nil
}

// splitItems splits at commas, except that a log: item extends over commas
// not followed by the start of another item.
func splitItems(s string) []string {
	var items []string
	for {
		i := nextSplit(s)
		if i < 0 {
			return append(items, strings.TrimSpace(s))
		}
		items = append(items, strings.TrimSpace(s[:i]))
		s = s[i+1:]
	}
}

// nextSplit returns the index of the comma that ends the first item of s, or -1.
func nextSplit(s string) int {
	if !strings.HasPrefix(strings.TrimLeft(s, " \t"), "log:") {
		return strings.IndexByte(s, ',')
	}
	for i := 0; i < len(s); i++ {
		if s[i] == ',' && startsItem(s[i+1:]) {
			return i
		}
	}
	return -1
}

var itemPrefixes = []string{"http://", "https://", "tcp://", "log:", "file:", "delay:"}

func startsItem(s string) bool {
	s = strings.TrimLeft(s, " \t")
	for _, p := range itemPrefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	for _, w := range []string{"manual", "app"} {
		if rest, ok := strings.CutPrefix(s, w); ok {
			rest = strings.TrimLeft(rest, " \t")
			if rest == "" || rest[0] == ',' {
				return true
			}
		}
	}
	return false
}

func parseItem(item string) (Condition, error) {
	c := Condition{Raw: item}
	switch {
	case item == "":
		return c, errors.New(`"": empty item`)
	case item == "manual":
		c.Kind = KindManual
	case item == "app":
		c.Kind = KindApp
	case strings.HasPrefix(item, "log:"):
		return parseLog(c)
	case strings.HasPrefix(item, "delay:"):
		return parseDelay(c)
	case strings.HasPrefix(item, "http://"), strings.HasPrefix(item, "https://"),
		strings.HasPrefix(item, "tcp://"), strings.HasPrefix(item, "file:"):
		return parseProbe(c)
	default:
		return c, fmt.Errorf("%q: unknown condition (want http://, https://, tcp://, log:, file:, delay:, manual or app)", item)
	}
	return c, nil
}

func parseLog(c Condition) (Condition, error) {
	c.Kind = KindLog
	expr := strings.TrimPrefix(c.Raw, "log:")
	if expr == "" {
		return c, fmt.Errorf("%q: empty regex (it would match any line)", c.Raw)
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return c, fmt.Errorf("%q: %w", c.Raw, err)
	}
	c.Regex = re
	return c, nil
}

func parseDelay(c Condition) (Condition, error) {
	c.Kind = KindDelay
	d, err := time.ParseDuration(strings.TrimPrefix(c.Raw, "delay:"))
	if err != nil {
		return c, fmt.Errorf("%q: %w", c.Raw, err)
	}
	if d < 0 {
		return c, fmt.Errorf("%q: negative duration", c.Raw)
	}
	c.Delay = d
	return c, nil
}

func parseProbe(c Condition) (Condition, error) {
	p, err := healthcheck.ParseProbe(c.Raw)
	if err != nil {
		return c, err // already `"ITEM": why`
	}
	c.Probe = p
	switch {
	case strings.HasPrefix(c.Raw, "tcp://"):
		c.Kind = KindTCP
	case strings.HasPrefix(c.Raw, "file:"):
		c.Kind = KindFile
	default:
		c.Kind = KindHTTP
	}
	return c, nil
}

// IsApp reports whether the app checkpoints itself (spec `app`).
func (s Spec) IsApp() bool { return s.has(KindApp) }

// IsManual reports whether the spec waits for `stasis checkpoint`.
func (s Spec) IsManual() bool { return s.has(KindManual) }

// Empty reports whether the spec has no conditions.
func (s Spec) Empty() bool { return len(s.Conditions) == 0 }

func (s Spec) has(k Kind) bool {
	for _, c := range s.Conditions {
		if c.Kind == k {
			return true
		}
	}
	return false
}

// SetInsecure makes the spec's https probes skip certificate checks, for
// loopback targets only (STASIS_PROBE_INSECURE; healthcheck.SetInsecure).
func (s Spec) SetInsecure(insecure bool) {
	for _, c := range s.Conditions {
		if c.Kind == KindHTTP {
			healthcheck.SetInsecure(c.Probe, insecure)
		}
	}
}

// HTTPProbe returns the first http or tcp probe of the spec, the default
// health probe for `stasis healthcheck`, or nil.
func (s Spec) HTTPProbe() healthcheck.Probe {
	for _, c := range s.Conditions {
		if c.Kind == KindHTTP || c.Kind == KindTCP {
			return c.Probe
		}
	}
	return nil
}

func (s Spec) String() string {
	raw := make([]string, len(s.Conditions))
	for i, c := range s.Conditions {
		raw[i] = c.Raw
	}
	return strings.Join(raw, ",")
}
