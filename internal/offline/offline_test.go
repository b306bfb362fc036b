package offline

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
)

func TestMain(m *testing.M) { Main(m) }

// TestGuard checks that a request to a loopback server goes through and
// one to any other address is refused without a name lookup, and recorded.
func TestGuard(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	client := &http.Client{Transport: http.DefaultTransport}
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatalf("loopback request refused: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "ok" {
		t.Fatalf("loopback server answered %q", b)
	}
	cloned := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	for _, url := range []string{"http://192.0.2.1/x", "https://example.com/x", "http://[2001:db8::1]:8080/"} {
		for _, c := range []*http.Client{http.DefaultClient, cloned} {
			_, err := c.Get(url)
			var oe *Error
			if !errors.As(err, &oe) {
				t.Errorf("GET %s: error %v, want the offline guard's", url, err)
			}
		}
	}
	want := []string{"192.0.2.1:80", "192.0.2.1:80", "example.com:443", "example.com:443", "[2001:db8::1]:8080", "[2001:db8::1]:8080"}
	if got := Take(); !slices.Equal(got, want) {
		t.Fatalf("recorded %v, want %v", got, want)
	}
	if got := Take(); len(got) != 0 {
		t.Fatalf("Take did not forget: %v", got)
	}
}

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:80": true, "127.1.2.3:1": true, "[::1]:443": true, "localhost:8080": true,
		"10.0.0.1:80": false, "example.com:80": false, "localhost.example.com:80": false, "[::]:80": false,
	} {
		if got := loopback(addr); got != want {
			t.Errorf("loopback(%q) = %v, want %v", addr, got, want)
		}
	}
}
