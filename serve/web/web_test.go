package web

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
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

// testServer serves a small model "tiny" of 7 classes with the page, and
// the test photo at /testdata/chelsea.png, on 127.0.0.1 at a free port.
func testServer(t *testing.T) (*vit.Model, string) {
	t.Helper()
	c := vit.Config{ImageHeight: 32, ImageWidth: 32, Channels: 3, Patch: 8, Dim: 16, Depth: 2, Heads: 2, MLPDim: 32, Classes: 7,
		Labels: []string{"cat", "dog", "fish", "bird", "horse", "frog", "ship"}, Mean: []float32{0.5}, Std: []float32{0.5}}
	m, err := vit.New(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i := range m.Head.W.Data {
		m.Head.W.Data[i] = float32(i%7) * 0.1 // no two classes alike: no ties
	}
	s := serve.New(serve.Options{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err := s.Add("tiny", m, 0); err != nil {
		t.Fatal(err)
	}
	// "encoder": the same network without a classifier (a CLIP or DINOv2
	// image tower): no labels, a rollout all the same.
	c.Headless = true
	enc, err := vit.New(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Add("encoder", enc, 0); err != nil {
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

// TestPageInChromium opens the page in headless Chromium, picks the photo
// with the page's file input as a user would (the DevTools protocol's
// DOM.setFileInputFiles, what browser drivers use to upload), reads the
// labels the page shows (they must be the library's top classes, in
// order) and the rollout overlay, and saves a screenshot in the test's
// artifact directory (go test -artifacts keeps it). Then, with a model
// without a classifier, the page shows no labels, the server's reason and
// the rollout.
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
	abs, err := filepath.Abs(photo)
	if err != nil {
		t.Fatal(err)
	}
	b := startBrowser(t, bin)
	page := b.newPage(t)

	b.call(t, page, "Page.navigate", map[string]any{"url": url + "/"}, nil)
	b.waitFor(t, page, `document.readyState === "complete" && document.getElementById("model").options.length > 0`)
	var picked string
	b.eval(t, page, `document.getElementById("model").value = "tiny"`, &picked)
	var doc struct {
		Root struct {
			NodeID int `json:"nodeId"`
		} `json:"root"`
	}
	b.call(t, page, "DOM.getDocument", map[string]any{"depth": 0}, &doc)
	var input struct {
		NodeID int `json:"nodeId"`
	}
	b.call(t, page, "DOM.querySelector", map[string]any{"nodeId": doc.Root.NodeID, "selector": `input[type=file]`}, &input)
	if input.NodeID == 0 {
		t.Fatal("the page has no file input")
	}
	b.call(t, page, "DOM.setFileInputFiles", map[string]any{"nodeId": input.NodeID, "files": []string{abs}}, nil)
	b.waitFor(t, page, `document.body.dataset.state === "done" || document.body.dataset.state === "error"`)

	var labels []string
	b.eval(t, page, `[...document.querySelectorAll("#labels .name")].map(e => e.textContent)`, &labels)
	var state, rollout string
	b.eval(t, page, `document.body.dataset.state + " " + document.getElementById("status").textContent`, &state)
	b.eval(t, page, `document.getElementById("file").files[0].name`, &picked)
	b.eval(t, page, `document.getElementById("rollout").src`, &rollout)
	if picked != filepath.Base(photo) {
		t.Errorf("the file input holds %q, want %q", picked, filepath.Base(photo))
	}
	if len(want) != 5 || len(labels) != len(want) {
		t.Fatalf("labels on the page %q (page: %s); the library's top classes %+v", labels, state, want)
	}
	for i, c := range want {
		if labels[i] != c.Label {
			t.Errorf("label %d on the page %q, library %q", i, labels[i], c.Label)
		}
	}
	if !strings.HasPrefix(rollout, "blob:") {
		t.Errorf("no rollout overlay on the page (src %q)", rollout)
	}

	var shot struct {
		Data []byte `json:"data"` // base64 in JSON
	}
	b.call(t, page, "Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}, &shot)
	img, err := png.Decode(bytes.NewReader(shot.Data))
	if err != nil || img.Bounds().Dx() < 300 {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(t.ArtifactDir(), "page.png")
	if err := os.WriteFile(path, shot.Data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)

	// The model without a classifier: no labels, the reason in the status
	// line, and the rollout overlay.
	b.eval(t, page, `(() => { document.getElementById("model").value = "encoder"; document.body.dataset.state = "";
		document.getElementById("rollout").src = ""; document.getElementById("file").value = ""; return "ok"; })()`, &state)
	b.call(t, page, "DOM.setFileInputFiles", map[string]any{"nodeId": input.NodeID, "files": []string{abs}}, nil)
	b.waitFor(t, page, `document.body.dataset.state === "done" || document.body.dataset.state === "error"`)
	b.eval(t, page, `[...document.querySelectorAll("#labels .name")].map(e => e.textContent)`, &labels)
	b.eval(t, page, `document.body.dataset.state + " " + document.getElementById("status").textContent`, &state)
	b.eval(t, page, `document.getElementById("rollout").src`, &rollout)
	if len(labels) != 0 || !strings.HasPrefix(state, "done ") || !strings.Contains(state, "no classifier head") || !strings.HasPrefix(rollout, "blob:") {
		t.Errorf("the model without a classifier: labels %q, page %q, rollout %q; want no labels, the reason and the rollout", labels, state, rollout)
	}
	for _, e := range b.problems() {
		if strings.Contains(e, "status of 400") && strings.Contains(e, "/v1/models/encoder:predict") {
			continue // the refusal the page shows for the model without a classifier
		}
		t.Errorf("console: %s", e)
	}
}

// browser is headless Chromium driven over the DevTools protocol on a
// pipe (--remote-debugging-pipe: JSON messages ended by a NUL byte, the
// browser reading fd 3 and writing fd 4), so no WebSocket and no driver
// library is needed.
type browser struct {
	w      io.Writer
	r      *bufio.Reader
	id     int
	events []cdpMessage
}

type cdpMessage struct {
	ID        int             `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct {
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

func startBrowser(t *testing.T, bin string) *browser {
	t.Helper()
	toBrowser, cmdIn, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmdOut, fromBrowser, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
		"--disable-extensions", "--window-size=900,800", "--user-data-dir="+t.TempDir(), "about:blank")
	cmd.ExtraFiles = []*os.File{toBrowser, fromBrowser} // fds 3 and 4
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("chromium: %v", err)
	}
	toBrowser.Close()
	fromBrowser.Close()
	b := &browser{w: cmdIn, r: bufio.NewReader(cmdOut)}
	t.Cleanup(func() {
		b.send("", "Browser.close", nil)
		cmdIn.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cancel()
			<-done
		}
		cancel()
		cmdOut.Close()
		if t.Failed() {
			t.Logf("chromium's stderr:\n%s", stderr.String())
		}
	})
	// A deadline on every read: a browser that stops answering fails the
	// test instead of hanging it.
	go func() {
		<-ctx.Done()
		cmdOut.Close()
	}()
	return b
}

func (b *browser) send(session, method string, params any) int {
	b.id++
	msg := map[string]any{"id": b.id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if session != "" {
		msg["sessionId"] = session
	}
	data, _ := json.Marshal(msg)
	b.w.Write(append(data, 0))
	return b.id
}

// call sends a command and waits for its answer, keeping the events that
// come before it; result, if not nil, receives the answer's result.
func (b *browser) call(t *testing.T, session, method string, params, result any) {
	t.Helper()
	id := b.send(session, method, params)
	for {
		line, err := b.r.ReadBytes(0)
		if err != nil {
			t.Fatalf("%s: reading from chromium: %v", method, err)
		}
		var m cdpMessage
		if err := json.Unmarshal(line[:len(line)-1], &m); err != nil {
			t.Fatalf("%s: %v in %q", method, err, line)
		}
		if m.ID == 0 {
			b.events = append(b.events, m)
			continue
		}
		if m.ID != id {
			continue
		}
		if m.Error != nil {
			t.Fatalf("%s: %s", method, m.Error.Message)
		}
		if result != nil {
			if err := json.Unmarshal(m.Result, result); err != nil {
				t.Fatalf("%s: %v", method, err)
			}
		}
		return
	}
}

// newPage opens a tab and returns the session that drives it, with its
// console and log reported to events.
func (b *browser) newPage(t *testing.T) string {
	t.Helper()
	var target struct {
		TargetID string `json:"targetId"`
	}
	b.call(t, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &target)
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	b.call(t, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached)
	for _, domain := range []string{"Page", "Runtime", "Log", "DOM"} {
		b.call(t, attached.SessionID, domain+".enable", nil, nil)
	}
	b.call(t, attached.SessionID, "Emulation.setDeviceMetricsOverride",
		map[string]any{"width": 900, "height": 800, "deviceScaleFactor": 1, "mobile": false}, nil)
	return attached.SessionID
}

// eval evaluates a JavaScript expression in the page and decodes its value
// into v.
func (b *browser) eval(t *testing.T, session, expr string, v any) {
	t.Helper()
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	b.call(t, session, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &r)
	if r.ExceptionDetails != nil {
		t.Fatalf("%s: %s", expr, r.ExceptionDetails.Text)
	}
	if err := json.Unmarshal(r.Result.Value, v); err != nil {
		t.Fatalf("%s = %s: %v", expr, r.Result.Value, err)
	}
}

// waitFor polls a JavaScript condition until it holds, for at most 60 s.
func (b *browser) waitFor(t *testing.T, session, cond string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var ok bool
		b.eval(t, session, "Boolean("+cond+")", &ok)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 60 s for %s", cond)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// problems returns the errors and warnings the page logged: exceptions,
// console errors, and log entries such as Content-Security-Policy
// violations.
func (b *browser) problems() []string {
	var out []string
	for _, e := range b.events {
		switch e.Method {
		case "Runtime.exceptionThrown":
			out = append(out, string(e.Params))
		case "Runtime.consoleAPICalled":
			var p struct {
				Type string `json:"type"`
			}
			json.Unmarshal(e.Params, &p)
			if p.Type == "error" || p.Type == "warning" || p.Type == "assert" {
				out = append(out, string(e.Params))
			}
		case "Log.entryAdded":
			var p struct {
				Entry struct {
					Level, Text, URL string
				} `json:"entry"`
			}
			json.Unmarshal(e.Params, &p)
			if p.Entry.Level == "error" || p.Entry.Level == "warning" {
				out = append(out, p.Entry.Text+" "+p.Entry.URL)
			}
		}
	}
	return out
}
