// Package offline keeps a package's tests off the network. A package whose
// tests could reach it (a download when a dataset is missing) calls Main
// from its TestMain:
//
//	func TestMain(m *testing.M) { offline.Main(m) }
//
// Main replaces http.DefaultTransport with one that refuses to dial any
// address but a loopback one (127.0.0.0/8, ::1, localhost), so httptest
// servers work and nothing else does, and it fails the package's tests,
// naming the addresses, if any test tried, even one that swallowed the
// error. Clients that clone http.DefaultTransport (as package data's
// default download client does) inherit the guard.
package offline

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"
)

var (
	mu       sync.Mutex
	attempts []string
)

// Runner is what Main runs: a *testing.M.
type Runner interface{ Run() int }

// Main installs the guard, runs the tests and exits with their status, or
// with status 1 if a test tried to reach a non-loopback address.
func Main(m Runner) {
	Install()
	code := m.Run()
	if tried := Take(); len(tried) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: tests tried to reach the network (%v): serve files from httptest or the file system instead\n", tried)
		code = 1
	}
	os.Exit(code)
}

// Install replaces http.DefaultTransport with a transport that refuses
// every non-loopback dial, recording its address for Take.
func Install() {
	http.DefaultTransport = &http.Transport{
		Proxy:                 nil, // a proxy would be dialled instead of the address
		DialContext:           dial,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          10,
		IdleConnTimeout:       10 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// Take returns the non-loopback addresses dialled since the last Take, and
// forgets them: a test that means to be refused calls it to check, and so
// that Main does not fail the package.
func Take() []string {
	mu.Lock()
	defer mu.Unlock()
	t := attempts
	attempts = nil
	return t
}

// Error is the error of a refused dial.
type Error struct{ Addr string }

func (e *Error) Error() string {
	return fmt.Sprintf("offline: a test dialled %s: tests must not reach the network (use httptest or local files)", e.Addr)
}

func dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if !loopback(addr) {
		mu.Lock()
		attempts = append(attempts, addr)
		mu.Unlock()
		return nil, &Error{addr}
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// loopback reports whether addr (host:port) names this machine without a
// name lookup: a loopback IP or "localhost".
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if slices.Contains([]string{"localhost", "localhost."}, host) {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
