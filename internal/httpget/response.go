package httpget

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

const (
	// maxHeaderBytes bounds the status line and headers of one answer, and
	// the trailers of a chunked body: a target that streams endless headers
	// must not grow the client without limit.
	maxHeaderBytes = 64 << 10
	// maxInterim bounds the 1xx answers (such as 103 Early Hints) skipped
	// before the final one.
	maxInterim = 8
)

// Response is what a GET needs to know of an answer; its body is drained
// rather than kept.
type Response struct {
	Code      int
	Status    string // "503 Service Unavailable": code and reason phrase
	KeepAlive bool   // the connection may carry another request
}

// ReadResponse reads one answer from br: status line and headers, then its
// body drained up to maxBody bytes. A body longer than that is left unread,
// and the answer is then not KeepAlive. 1xx interim answers are skipped.
// When the body breaks off, the answer read so far comes with the error.
func ReadResponse(br *bufio.Reader, maxBody int64) (Response, error) {
	for range maxInterim + 1 {
		h, err := readHead(br)
		if err != nil {
			return Response{}, err
		}
		if h.code >= 100 && h.code <= 199 && h.code != 101 {
			continue
		}
		resp := Response{Code: h.code, Status: h.status}
		keep, err := drainBody(br, h, maxBody)
		resp.KeepAlive = keep && h.keepAlive && err == nil
		return resp, err
	}
	return Response{}, fmt.Errorf("read response: more than %d interim (1xx) answers", maxInterim)
}

// head is an answer's status line and the headers that matter for reading
// its body and reusing its connection.
type head struct {
	code       int
	status     string
	keepAlive  bool
	chunked    bool
	untilClose bool  // a transfer-encoding other than chunked: body ends at close
	length     int64 // Content-Length, or -1
}

func readHead(br *bufio.Reader) (head, error) {
	budget := maxHeaderBytes
	line, err := readLine(br, &budget)
	if err != nil {
		return head{}, fmt.Errorf("read status line: %w", err)
	}
	h, err := parseStatusLine(line)
	if err != nil {
		return head{}, err
	}
	for {
		line, err := readLine(br, &budget)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return head{}, fmt.Errorf("read headers: %w", err)
		}
		if len(line) == 0 {
			return h, nil
		}
		if err := h.header(line); err != nil {
			return head{}, err
		}
	}
}

// readLine returns the next line without its line end, charging its length
// to budget. The line is only valid until the next read from br.
func readLine(br *bufio.Reader, budget *int) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	*budget -= len(line)
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return nil, fmt.Errorf("header line longer than %d bytes", br.Size())
	case err == io.EOF && len(line) > 0:
		return nil, io.ErrUnexpectedEOF
	case err != nil:
		return nil, err
	case *budget < 0:
		return nil, fmt.Errorf("headers longer than %d bytes", maxHeaderBytes)
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// parseStatusLine parses "HTTP/1.1 200 OK"; the reason phrase may be empty.
func parseStatusLine(line []byte) (head, error) {
	h := head{length: -1}
	proto, rest, _ := bytes.Cut(line, []byte(" "))
	switch string(proto) {
	case "HTTP/1.1":
		h.keepAlive = true
	case "HTTP/1.0":
	default:
		return h, fmt.Errorf("malformed status line %q", clip(line))
	}
	rest = bytes.TrimLeft(rest, " ")
	if len(rest) < 3 || (len(rest) > 3 && rest[3] != ' ') {
		return h, fmt.Errorf("malformed status line %q", clip(line))
	}
	for _, c := range rest[:3] {
		if c < '0' || c > '9' {
			return h, fmt.Errorf("malformed status code in %q", clip(line))
		}
		h.code = h.code*10 + int(c-'0')
	}
	if h.code < 100 {
		return h, fmt.Errorf("malformed status code in %q", clip(line))
	}
	h.status = string(bytes.TrimRight(rest, " "))
	return h, nil
}

// header takes note of one header line. A folded line (one starting with a
// space, obsolete since RFC 7230) continues a header this client ignores.
func (h *head) header(line []byte) error {
	if line[0] == ' ' || line[0] == '\t' {
		return nil
	}
	name, value, ok := bytes.Cut(line, []byte(":"))
	if !ok || len(name) == 0 || bytes.ContainsAny(name, " \t") {
		return fmt.Errorf("malformed header line %q", clip(line))
	}
	value = bytes.Trim(value, " \t")
	switch {
	case bytes.EqualFold(name, []byte("Content-Length")):
		return h.contentLength(value)
	case bytes.EqualFold(name, []byte("Transfer-Encoding")):
		// The last coding says how the body ends (RFC 9112 6.3).
		codings := bytes.Split(value, []byte(","))
		h.chunked = bytes.EqualFold(bytes.Trim(codings[len(codings)-1], " \t"), []byte("chunked"))
		h.untilClose = !h.chunked
	case bytes.EqualFold(name, []byte("Connection")):
		for tok := range bytes.SplitSeq(value, []byte(",")) {
			tok = bytes.Trim(tok, " \t")
			switch {
			case bytes.EqualFold(tok, []byte("close")):
				h.keepAlive = false
				return nil // close wins over anything else
			case bytes.EqualFold(tok, []byte("keep-alive")):
				h.keepAlive = true
			}
		}
	}
	return nil
}

func (h *head) contentLength(v []byte) error {
	n, ok := parseDecimal(v)
	if !ok {
		return fmt.Errorf("malformed Content-Length %q", clip(v))
	}
	if h.length >= 0 && h.length != n {
		return fmt.Errorf("conflicting Content-Length %d and %d", h.length, n)
	}
	h.length = n
	return nil
}

// parseDecimal parses a non-negative decimal of at most 18 digits, so that
// it cannot overflow an int64.
func parseDecimal(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// clip shortens what an error quotes from the wire.
func clip(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}
