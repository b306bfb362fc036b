package web

import (
	"bytes"
	"context"
	"image/png"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/imageio"
	"github.com/vitgo/vit/internal/offline"
	"github.com/vitgo/vit/serve"
)

func TestMain(m *testing.M) { offline.Main(m) }

const photo = "../../imageio/testdata/in/chelsea.png"

// testServer serves a small model "tiny" with the page, and the test photo
// at /testdata/chelsea.png, on 127.0.0.1 at a free port.
func testServer(t *testing.T) (*vit.Model, string) {
	t.Helper()
	c := vit.Config{ImageHeight: 32, ImageWidth: 32, Channels: 3, Patch: 8, Dim: 16, Depth: 2, Heads: 2, MLPDim: 32, Classes: 3,
		Labels: []string{"cat", "dog", "fish"}, Mean: []float32{0.5}, Std: []float32{0.5}}
	m, err := vit.New(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i := range m.Head.W.Data {
		m.Head.W.Data[i] = float32(i%5) * 0.1
	}
	s := serve.New(serve.Options{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err := s.Add("tiny", m, 0); err != nil {
		t.Fatal(err)
	}
	s.SetReady(true)
	mux := s.Handler()
	Register(mux, s)
	mux.HandleFunc("GET /testdata/chelsea.png", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, photo) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := serve.NewHTTPServer(mux, s.Options())
	go hs.Serve(ln)
	t.Cleanup(func() {
		hs.Close()
		s.Close()
	})
	return m, "http://" + ln.Addr().String()
}

// TestPageAndRollout: the page and its files come from the binary with a
// strict Content-Security-Policy, and the rollout route answers a PNG of
// three panels.
func TestPageAndRollout(t *testing.T) {
	_, url := testServer(t)
	for path, ctype := range map[string]string{"/": "text/html", "/ui/app.js": "javascript", "/ui/app.css": "text/css"} {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), ctype) ||
			!strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") || len(b) == 0 {
			t.Errorf("GET %s: %d %q", path, resp.StatusCode, resp.Header)
		}
		if strings.Contains(string(b), "http://") || strings.Contains(string(b), "https://") {
			t.Errorf("%s names another origin", path)
		}
	}
	b, _ := os.ReadFile(photo)
	resp, err := http.Post(url+"/ui/models/tiny/rollout", "image/png", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	img, err := png.Decode(resp.Body)
	if resp.StatusCode != 200 || err != nil || img.Bounds().Dx() < 3*img.Bounds().Dy() {
		t.Fatalf("rollout: %d %v", resp.StatusCode, err)
	}
	resp, err = http.Post(url+"/ui/models/nope/rollout", "image/png", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("rollout of an unknown model: %d", resp.StatusCode)
	}
}

// TestPageInChromium loads the page in headless Chromium, which fetches
// the photo and sends it as a picked file is sent, reads the labels off
// the page (the library's top classes, in order) and saves a screenshot.
func TestPageInChromium(t *testing.T) {
	bin := "/usr/bin/chromium"
	if _, err := os.Stat(bin); err != nil {
		t.Skip("no /usr/bin/chromium: install Debian's chromium package to run the page in a browser")
	}
	m, url := testServer(t)
	rgb, err := imageio.Load(photo)
	if err != nil {
		t.Fatal(err)
	}
	want, err := vit.Classify(context.Background(), m, rgb.Image(), 5)
	if err != nil {
		t.Fatal(err)
	}
	page := url + "/?image=/testdata/chelsea.png"
	chromium := func(args ...string) (string, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, append([]string{"--headless", "--no-sandbox", "--disable-gpu",
			"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
			"--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000"}, args...)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("chromium: %v\n%s", err, stderr.String())
		}
		return stdout.String(), stderr.String()
	}
	dom, logs := chromium("--dump-dom", page)
	if !strings.Contains(dom, `data-state="done"`) {
		t.Fatalf("the page never showed a result:\n%s\nchromium:\n%s", dom, logs)
	}
	var labels []string
	for _, m := range regexp.MustCompile(`<span class="name">([^<]*)</span>`).FindAllStringSubmatch(dom, -1) {
		labels = append(labels, m[1])
	}
	if len(labels) != len(want) {
		t.Fatalf("labels on the page %q; the library's top classes %+v", labels, want)
	}
	for i, c := range want {
		if labels[i] != c.Label {
			t.Errorf("label %d on the page %q, library %q", i, labels[i], c.Label)
		}
	}
	if !regexp.MustCompile(`<img id="rollout"[^>]*src="blob:`).MatchString(dom) {
		t.Errorf("no rollout overlay on the page")
	}
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, "Content Security Policy") || strings.Contains(l, "Uncaught") {
			t.Errorf("console: %s", l)
		}
	}
	shot := filepath.Join(t.TempDir(), "page.png")
	chromium("--screenshot="+shot, "--window-size=900,800", page)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	if img, err := png.Decode(f); err != nil || img.Bounds().Dx() != 900 {
		t.Errorf("screenshot: %v", err)
	}
	t.Logf("screenshot: %s", shot)
}
