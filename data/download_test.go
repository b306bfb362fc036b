package data

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vitgo/vit/internal/offline"
)

// TestMain keeps the package's tests off the network: a test that dials
// anything but this machine fails the package.
func TestMain(m *testing.M) { offline.Main(m) }

func md5Hex(b []byte) string    { s := md5.Sum(b); return hex.EncodeToString(s[:]) }
func sha256Hex(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// fakeSource returns an IDX source served by a local test server, with
// its files, and a counter of requests.
func fakeSource(t *testing.T) (*idxSource, map[string][]byte, *atomic.Int32) {
	t.Helper()
	d := synthetic(30, 1, 6, 6, 10)
	raw := map[string][]byte{
		"train-images-idx3-ubyte.gz": idxBytes(d.Pixels, 30, 6, 6),
		"train-labels-idx1-ubyte.gz": idxBytes(labelBytes(d.Labels), 30),
		"t10k-images-idx3-ubyte.gz":  idxBytes(d.Pixels[:10*36], 10, 6, 6),
		"t10k-labels-idx1-ubyte.gz":  idxBytes(labelBytes(d.Labels[:10]), 10),
	}
	served := map[string][]byte{}
	var hits atomic.Int32
	src := &idxSource{name: "fake-mnist", classes: FashionMNISTClasses}
	for _, name := range []string{"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"} {
		served[name] = gz(raw[name])
		src.files = append(src.files, remoteFile{name, md5Hex(served[name]), sha256Hex(raw[name])})
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		b, ok := served[strings.TrimPrefix(r.URL.Path, "/files/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	src.baseURL = srv.URL + "/files/"
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	t.Setenv("VIT_DATA", "")
	return src, served, &hits
}

func labelBytes(l []int) []byte {
	b := make([]byte, len(l))
	for i, v := range l {
		b[i] = byte(v)
	}
	return b
}

func TestDownload(t *testing.T) {
	src, _, hits := fakeSource(t)
	train, test, err := src.load(context.Background(), nil, "", true)
	if err != nil {
		t.Fatal(err)
	}
	if train.N != 30 || test.N != 10 || train.Classes[0] != "T-shirt/top" || train.Name != "fake-mnist (train)" {
		t.Fatalf("got %v / %v", train, test)
	}
	cache, _ := src.cacheDir()
	entries, _ := os.ReadDir(cache)
	if len(entries) != 4 {
		t.Errorf("cache holds %d files, want 4 (no leftovers)", len(entries))
	}
	if hits.Load() != 4 {
		t.Errorf("%d requests, want 4", hits.Load())
	}
	// Second time: found in the cache, no request.
	if _, _, err := src.load(context.Background(), nil, "", true); err != nil {
		t.Fatal(err)
	}
	if hits.Load() != 4 {
		t.Errorf("%d requests after a cached load, want 4", hits.Load())
	}
}

func TestDownloadVerification(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(src *idxSource, served map[string][]byte)
		want   string // "" = success
	}{
		{"re-compressed copy accepted by content hash", func(src *idxSource, served map[string][]byte) {
			src.files[0].MD5 = strings.Repeat("0", 32)
		}, ""},
		{"wrong md5 and no content hash", func(src *idxSource, served map[string][]byte) {
			src.files[1].MD5 = strings.Repeat("0", 32)
			src.files[1].RawSHA256 = ""
		}, "checksum mismatch"},
		{"tampered content", func(src *idxSource, served map[string][]byte) {
			served["t10k-images-idx3-ubyte.gz"] = gz(idxBytes(make([]byte, 360), 10, 6, 6))
		}, "content SHA-256"},
		{"not found", func(src *idxSource, served map[string][]byte) {
			delete(served, "t10k-labels-idx1-ubyte.gz")
		}, "404"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, served, _ := fakeSource(t)
			tc.mutate(src, served)
			_, _, err := src.load(context.Background(), nil, "", true)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "VIT_DATA") {
				t.Fatalf("error %v, want %q and advice", err, tc.want)
			}
			cache, _ := src.cacheDir()
			entries, _ := os.ReadDir(cache)
			for _, e := range entries {
				if strings.HasSuffix(e.Name(), ".part") {
					t.Errorf("left %s behind", e.Name())
				}
			}
		})
	}
}

func TestSearchOrder(t *testing.T) {
	src, _, hits := fakeSource(t)
	vit := t.TempDir()
	t.Setenv("VIT_DATA", vit)
	d := synthetic(12, 1, 3, 3, 10)
	dir := filepath.Join(vit, "fake-mnist")
	os.MkdirAll(dir, 0o755)
	for _, s := range []string{"train", "t10k"} {
		if err := WriteIDX(d, filepath.Join(dir, s+"-images-idx3-ubyte"), filepath.Join(dir, s+"-labels-idx1-ubyte"), false); err != nil {
			t.Fatal(err)
		}
	}
	train, _, err := src.load(context.Background(), nil, "", true)
	if err != nil || train.N != 12 || hits.Load() != 0 {
		t.Fatalf("VIT_DATA not used: %v, %v, %d requests", train, err, hits.Load())
	}
}

// TestFashionChecksums checks the content hashes against the Debian copy.
func TestFashionChecksums(t *testing.T) {
	if _, err := os.Stat(filepath.Join(debianFashion, "train-labels-idx1-ubyte.gz")); err != nil {
		t.Skip("Fashion-MNIST not installed")
	}
	for _, f := range fashionMNIST.files {
		if testing.Short() && strings.Contains(f.Name, "train-images") {
			continue
		}
		got, err := rawSHA256(filepath.Join(debianFashion, f.Name))
		if err != nil {
			t.Fatal(err)
		}
		if got != f.RawSHA256 {
			t.Errorf("%s: content SHA-256 %s, table says %s", f.Name, got, f.RawSHA256)
		}
	}
}

// noLeftovers fails the test if dir holds a file.
func noLeftovers(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		t.Errorf("left %s behind", e.Name())
	}
}

// TestDownloadClient checks that a download goes through the client it is
// given, and stops when its context is cancelled.
func TestDownloadClient(t *testing.T) {
	src, _, hits := fakeSource(t)
	var used atomic.Int32
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		used.Add(1)
		return http.DefaultTransport.RoundTrip(r)
	})}
	if _, _, err := src.load(context.Background(), client, "", true); err != nil {
		t.Fatal(err)
	}
	if used.Load() != 4 || hits.Load() != 4 {
		t.Fatalf("the client made %d requests, the server saw %d; want 4 and 4", used.Load(), hits.Load())
	}

	src, _, hits = fakeSource(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := src.load(ctx, nil, "", true)
	if !errors.Is(err, context.Canceled) || hits.Load() != 0 {
		t.Fatalf("cancelled download: %v after %d requests; want context.Canceled and none", err, hits.Load())
	}
	cache, _ := src.cacheDir()
	noLeftovers(t, cache)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestDownloadTooLarge checks that a download stops after maxDownload
// bytes, whether the server says so in Content-Length or not.
func TestDownloadTooLarge(t *testing.T) {
	defer func(n int64) { maxDownload = n }(maxDownload)
	maxDownload = 1000
	for _, declared := range []bool{true, false} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if declared {
				w.Header().Set("Content-Length", "5000")
			}
			for range 5 {
				w.Write(make([]byte, 1000))
				w.(http.Flusher).Flush() // chunked when undeclared
			}
		}))
		dir := t.TempDir()
		err := downloadFile(context.Background(), NewHTTPClient(), srv.URL+"/big.gz", filepath.Join(dir, "big.gz"), remoteFile{Name: "big.gz"})
		srv.Close()
		if err == nil || !strings.Contains(err.Error(), "1000 bytes") {
			t.Errorf("Content-Length declared %v: error %v, want one naming the 1000-byte limit", declared, err)
		}
		noLeftovers(t, dir)
	}
}

// TestDefaultClientOffline checks that the default download client goes
// through http.DefaultTransport's dialler, which TestMain's guard
// replaces: a download from any address but this machine's is refused, so
// a test that would download fails instead.
func TestDefaultClientOffline(t *testing.T) {
	dir := t.TempDir()
	err := downloadFile(context.Background(), NewHTTPClient(), "http://192.0.2.1/train-images-idx3-ubyte.gz",
		filepath.Join(dir, "f.gz"), remoteFile{Name: "f.gz"})
	var oe *offline.Error
	if !errors.As(err, &oe) {
		t.Fatalf("download from 192.0.2.1: %v, want the offline guard's refusal", err)
	}
	if got := offline.Take(); len(got) != 1 || got[0] != "192.0.2.1:80" {
		t.Fatalf("guard recorded %v", got)
	}
	noLeftovers(t, dir)
}

// TestDownloadCancelledMidway: a download whose context is cancelled while
// the body streams in (Ctrl-C in vit) stops with context.Canceled and
// removes its partial file.
func TestDownloadCancelledMidway(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100000")
		w.Write(make([]byte, 1000))
		w.(http.Flusher).Flush()
		select { // the rest never comes before the client gives up
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- downloadFile(ctx, NewHTTPClient(), srv.URL+"/f.gz", filepath.Join(dir, "f.gz"), remoteFile{Name: "f.gz"})
	}()
	// Wait for the partial file to hold the first bytes, then interrupt.
	deadline := time.Now().Add(10 * time.Second)
	for {
		parts, _ := filepath.Glob(filepath.Join(dir, "*.part"))
		if len(parts) == 1 {
			if st, err := os.Stat(parts[0]); err == nil && st.Size() == 1000 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no partial file of 1000 bytes after 10 s: %v", parts)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled midway: %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the download went on for 10 s after its context was cancelled")
	}
	noLeftovers(t, dir)
}
