package httpget

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// drainBody reads and discards h's body, at most maxBody bytes of it. keep
// says whether the body was read to its end, so that the connection is at
// the start of the next answer.
func drainBody(br *bufio.Reader, h head, maxBody int64) (keep bool, err error) {
	switch {
	case h.code == 101:
		return false, nil // another protocol follows, which this client does not speak
	case h.code == 204 || h.code == 304:
		return true, nil // never a body (RFC 9112 6.3)
	case h.chunked:
		return drainChunked(br, maxBody)
	case h.length >= 0 && !h.untilClose:
		if h.length > maxBody {
			return false, discard(br, maxBody)
		}
		return true, discard(br, h.length)
	}
	// No length: the body ends when the server closes the connection.
	err = discard(br, maxBody)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = nil
	}
	return false, err
}

// discard skips n bytes of body.
func discard(br *bufio.Reader, n int64) error {
	for n > 0 {
		step := int(min(n, 1<<30))
		if _, err := br.Discard(step); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("read body: %w", err)
		}
		n -= int64(step)
	}
	return nil
}

// drainChunked discards a chunked body (RFC 9112 7.1) and its trailers.
func drainChunked(br *bufio.Reader, maxBody int64) (keep bool, err error) {
	for {
		size, err := readChunkSize(br)
		if err != nil {
			return false, err
		}
		if size == 0 {
			return true, skipTrailers(br)
		}
		if size > maxBody {
			return false, discard(br, maxBody)
		}
		if err := discard(br, size); err != nil {
			return false, err
		}
		maxBody -= size
		budget := maxHeaderBytes
		line, err := readLine(br, &budget)
		if err != nil {
			return false, fmt.Errorf("read chunk end: %w", noEOF(err))
		}
		if len(line) != 0 {
			return false, fmt.Errorf("malformed chunk: %d bytes of data, then %q", size, clip(line))
		}
	}
}

// readChunkSize reads a chunk-size line: hex digits, then maybe
// extensions, which are ignored.
func readChunkSize(br *bufio.Reader) (int64, error) {
	budget := maxHeaderBytes
	line, err := readLine(br, &budget)
	if err != nil {
		return 0, fmt.Errorf("read chunk size: %w", noEOF(err))
	}
	var n int64
	i := 0
	for ; i < len(line); i++ {
		d := hexDigit(line[i])
		if d < 0 {
			break
		}
		if i == 15 { // 15 hex digits fit an int64
			return 0, fmt.Errorf("chunk size %q too large", clip(line))
		}
		n = n<<4 | int64(d)
	}
	if i == 0 || (i < len(line) && line[i] != ';' && line[i] != ' ' && line[i] != '\t') {
		return 0, fmt.Errorf("malformed chunk size %q", clip(line))
	}
	return n, nil
}

func hexDigit(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// skipTrailers reads the trailer lines after the last chunk, up to the
// empty line that ends the answer.
func skipTrailers(br *bufio.Reader) error {
	budget := maxHeaderBytes
	for {
		line, err := readLine(br, &budget)
		if err != nil {
			return fmt.Errorf("read trailers: %w", noEOF(err))
		}
		if len(line) == 0 {
			return nil
		}
	}
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
