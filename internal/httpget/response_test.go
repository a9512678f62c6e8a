package httpget

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestReadResponse(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		code     int
		status   string
		keep     bool
		rest     string // what must be left unread: the next answer
		err      string
	}{
		{name: "length", in: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloNEXT", code: 200, status: "200 OK", keep: true, rest: "NEXT"},
		{name: "no reason", in: "HTTP/1.1 503\r\nContent-Length: 0\r\n\r\n", code: 503, status: "503", keep: true},
		{name: "bare LF", in: "HTTP/1.1 200 OK\nContent-Length: 2\n\nokNEXT", code: 200, status: "200 OK", keep: true, rest: "NEXT"},
		{name: "chunked", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT",
			code: 200, status: "200 OK", keep: true, rest: "NEXT"},
		{name: "chunked wins over length", in: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\nNEXT",
			code: 200, status: "200 OK", keep: true, rest: "NEXT"},
		{name: "until close", in: "HTTP/1.1 200 OK\r\n\r\nall of it", code: 200, status: "200 OK"},
		{name: "other coding until close", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzzz", code: 200, status: "200 OK"},
		{name: "connection close", in: "HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 0\r\n\r\n", code: 200, status: "200 OK"},
		{name: "1.0 default close", in: "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", code: 200, status: "200 OK", rest: ""},
		{name: "1.0 keep-alive", in: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\nNEXT", code: 200, status: "200 OK", keep: true, rest: "NEXT"},
		{name: "204 has no body", in: "HTTP/1.1 204 No Content\r\n\r\nNEXT", code: 204, status: "204 No Content", keep: true, rest: "NEXT"},
		{name: "304 has no body", in: "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\nNEXT", code: 304, status: "304 Not Modified", keep: true, rest: "NEXT"},
		{name: "1xx skipped", in: "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nNEXT",
			code: 200, status: "200 OK", keep: true, rest: "NEXT"},
		{name: "101", in: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\nxyz", code: 101, status: "101 Switching Protocols", rest: "xyz"},
		{name: "same length twice", in: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\ncontent-length: 1\r\n\r\nxNEXT", code: 200, status: "200 OK", keep: true, rest: "NEXT"},
		{name: "folded line ignored", in: "HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 0\r\n\r\n", code: 200, status: "200 OK", keep: true},

		{name: "empty", in: "", err: "read status line: EOF"},
		{name: "cut status line", in: "HTTP/1.1 200", err: "read status line: unexpected EOF"},
		{name: "not http", in: "SSH-2.0-OpenSSH\r\n", err: `malformed status line "SSH-2.0-OpenSSH"`},
		{name: "http/2", in: "HTTP/2 200\r\n\r\n", err: "malformed status line"},
		{name: "bad code", in: "HTTP/1.1 2x0 OK\r\n\r\n", err: "malformed status code"},
		{name: "short code", in: "HTTP/1.1 20 OK\r\n\r\n", err: "malformed status line"},
		{name: "code below 100", in: "HTTP/1.1 099 Huh\r\n\r\n", err: "malformed status code"},
		{name: "cut headers", in: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", err: "read headers: unexpected EOF"},
		{name: "no colon", in: "HTTP/1.1 200 OK\r\nbogus\r\n\r\n", err: `malformed header line "bogus"`},
		{name: "space in name", in: "HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\nx", err: "malformed header line"},
		{name: "bad length", in: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", err: `malformed Content-Length "-1"`},
		{name: "huge length", in: "HTTP/1.1 200 OK\r\nContent-Length: 9999999999999999999\r\n\r\n", err: "malformed Content-Length"},
		{name: "conflicting length", in: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx", err: "conflicting Content-Length 1 and 2"},
		{name: "short body", in: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", code: 200, status: "200 OK", err: "read body: unexpected EOF"},
		{name: "bad chunk size", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", code: 200, status: "200 OK", err: `malformed chunk size "zz"`},
		{name: "huge chunk size", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n", code: 200, status: "200 OK", err: "too large"},
		{name: "chunk overrun", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokay\r\n0\r\n\r\n", code: 200, status: "200 OK", err: "malformed chunk: 2 bytes of data, then \"ay\""},
		{name: "cut chunked", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", code: 200, status: "200 OK", err: "read body: unexpected EOF"},
		{name: "cut trailers", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: 1\r\n", code: 200, status: "200 OK", err: "read trailers: unexpected EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := strings.NewReader(tc.in)
			br := bufio.NewReaderSize(r, readBufferSize)
			resp, err := ReadResponse(br, 1<<20)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if resp.Code != tc.code || resp.Status != tc.status || resp.KeepAlive != tc.keep {
				t.Errorf("resp = %+v, want code %d, status %q, keep-alive %v", resp, tc.code, tc.status, tc.keep)
			}
			if tc.err == "" && tc.rest != "" {
				rest, _ := io.ReadAll(br)
				if string(rest) != tc.rest {
					t.Errorf("left unread %q, want %q", rest, tc.rest)
				}
			}
		})
	}
}

// A body past maxBody is left unread, and the connection cannot be reused.
func TestReadResponseMaxBody(t *testing.T) {
	body := strings.Repeat("x", 1000)
	for _, in := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + body,
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n" + body + "\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + strings.Repeat("64\r\n"+body[:100]+"\r\n", 10) + "0\r\n\r\n",
	} {
		r := strings.NewReader(in)
		br := bufio.NewReader(r)
		resp, err := ReadResponse(br, 500)
		if err != nil || resp.Code != 200 || resp.KeepAlive {
			t.Errorf("resp = %+v, %v; want 200, not keep-alive", resp, err)
		}
		if br.Buffered()+r.Len() < 500 {
			t.Errorf("the whole body of %d bytes was read past maxBody 500", len(in))
		}
	}
}

func TestReadResponseBounds(t *testing.T) {
	long := "HTTP/1.1 200 OK\r\nX-Long: " + strings.Repeat("a", readBufferSize) + "\r\n\r\n"
	_, err := ReadResponse(bufio.NewReaderSize(strings.NewReader(long), readBufferSize), 0)
	if err == nil || !strings.Contains(err.Error(), "header line longer than 16384 bytes") {
		t.Errorf("long header line: err = %v", err)
	}
	many := "HTTP/1.1 200 OK\r\n" + strings.Repeat("X-Many: "+strings.Repeat("b", 1000)+"\r\n", 70) + "\r\n"
	_, err = ReadResponse(bufio.NewReaderSize(strings.NewReader(many), readBufferSize), 0)
	if err == nil || !strings.Contains(err.Error(), "headers longer than 65536 bytes") {
		t.Errorf("many headers: err = %v", err)
	}
	interim := strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", maxInterim+1) + "HTTP/1.1 200 OK\r\n\r\n"
	_, err = ReadResponse(bufio.NewReader(strings.NewReader(interim)), 0)
	if err == nil || !strings.Contains(err.Error(), "interim") {
		t.Errorf("endless 1xx: err = %v", err)
	}
}

// FuzzReadResponse checks that the parser neither panics nor reads past its
// bounds, and that where net/http also reads a whole answer they agree on
// the status and, for a reusable connection, on where the next answer
// starts: a disagreement there would desynchronise a kept-alive connection.
func FuzzReadResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nstarting\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nbody until close",
		"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
		"HTTP/1.1 2",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		br := bufio.NewReaderSize(r, 4096)
		resp, err := ReadResponse(br, 1<<16)
		if err == nil && (resp.Code < 100 || resp.Code > 999 || !strings.HasPrefix(resp.Status, strconv.Itoa(resp.Code))) {
			t.Fatalf("accepted %q as %+v", in, resp)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("multi-line error %q", err)
		}
		if err != nil || !resp.KeepAlive || resp.Code < 200 {
			return
		}
		left := br.Buffered() + r.Len()
		hr, herr := readWithNetHTTP(in)
		if herr != nil || hr.Close {
			return // net/http is stricter in places, or would not reuse the connection
		}
		if hr.StatusCode != resp.Code {
			t.Fatalf("status %d, net/http says %d, for %q", resp.Code, hr.StatusCode, in)
		}
		if hr.left != left {
			t.Fatalf("next answer at %d, net/http says %d, for %q", len(in)-left, len(in)-hr.left, in)
		}
	})
}

type netHTTPAnswer struct {
	*http.Response
	left int
}

func readWithNetHTTP(in []byte) (netHTTPAnswer, error) {
	r := bytes.NewReader(in)
	br := bufio.NewReaderSize(r, 4096)
	resp, err := http.ReadResponse(br, nil)
	// Like net/http's Transport, skip interim answers.
	for err == nil && resp.StatusCode >= 100 && resp.StatusCode <= 199 && resp.StatusCode != 101 {
		resp, err = http.ReadResponse(br, nil)
	}
	if err != nil {
		return netHTTPAnswer{}, err
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return netHTTPAnswer{}, err
	}
	return netHTTPAnswer{resp, br.Buffered() + r.Len()}, nil
}

// BenchmarkReadResponseVsNetHTTP times ReadResponse against net/http's
// ReadResponse plus draining the body, on the same typical JSON answer, in
// the same run. ratio = ours / net/http's time per answer; below 1 is faster.
func BenchmarkReadResponseVsNetHTTP(b *testing.B) {
	answer := []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: Mon, 24 Nov 2025 00:00:00 GMT\r\n" +
		"Content-Length: 31\r\n\r\n{\"status\":\"UP\",\"items\":[1,2,3]}")
	const batch = 1000
	stream := bytes.Repeat(answer, batch)
	measure := func(read func(*bufio.Reader) error) float64 {
		start := time.Now()
		for range b.N {
			br := bufio.NewReaderSize(bytes.NewReader(stream), readBufferSize)
			for range batch {
				if err := read(br); err != nil {
					b.Fatal(err)
				}
			}
		}
		return float64(time.Since(start).Nanoseconds()) / float64(b.N*batch)
	}
	ours := measure(func(br *bufio.Reader) error {
		_, err := ReadResponse(br, 1<<20)
		return err
	})
	theirs := measure(func(br *bufio.Reader) error {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	})
	b.ReportMetric(ours, "ns/answer")
	b.ReportMetric(theirs, "net/http-ns/answer")
	b.ReportMetric(ours/theirs, "ratio")
	b.ReportMetric(0, "ns/op")
}
