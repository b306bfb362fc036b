package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vitgo/vit/records"
	"github.com/vitgo/vit/serve"
)

// TestServe runs vit serve in a child process on 127.0.0.1 at a free
// port: its predictions and embeddings equal vit predict --json's and vit
// embed's on the same files, and SIGTERM turns readiness false, answers new
// requests 503, lets the request in flight finish and exits 0.
func TestServe(t *testing.T) {
	model := saveTiny(t)
	files := []string{"../../imageio/testdata/in/chelsea.png", "../../imageio/testdata/in/small.gif"}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childArgs+"="+strings.Join([]string{"serve", "--model", "tiny=" + model,
		"--addr", "127.0.0.1:0", "--max-delay", "1s", "--drain", "10s"}, "\x1f"))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var logs strings.Builder
	lines := bufio.NewScanner(stderr)
	url := ""
	for url == "" && lines.Scan() {
		logs.WriteString(lines.Text() + "\n")
		var l struct{ Msg, Addr string }
		if json.Unmarshal(lines.Bytes(), &l) == nil && l.Msg == "ready" {
			url = "http://" + l.Addr
		}
	}
	if url == "" {
		t.Fatalf("vit serve never said ready:\n%s", logs.String())
	}
	rest := make(chan string)
	go func() {
		var b strings.Builder
		for lines.Scan() {
			b.WriteString(lines.Text() + "\n")
		}
		rest <- b.String()
	}()

	// The CLI's numbers on the same files.
	code, out, errOut := runVit(nil, append([]string{"predict", "--model", model, "--json", "--logits", "--top", "3"}, files...)...)
	if code != 0 {
		t.Fatalf("vit predict: %d %s", code, errOut)
	}
	var cli []records.Prediction
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var p records.Prediction
		if err := json.Unmarshal([]byte(l), &p); err != nil {
			t.Fatal(err)
		}
		cli = append(cli, p)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, f := range files {
		w, _ := mw.CreateFormFile("image", f)
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
	}
	mw.Close()
	resp, err := http.Post(url+"/v1/models/tiny:predict?top=3&logits=true", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	var pr serve.PredictResponse
	json.NewDecoder(resp.Body).Decode(&pr)
	resp.Body.Close()
	if len(pr.Predictions) != len(cli) {
		t.Fatalf("served %+v; vit predict %+v", pr, cli)
	}
	for i, p := range pr.Predictions {
		cli[i].File = filepath.Base(cli[i].File) // a multipart part carries the file's base name
		a, _ := json.Marshal(p)
		b, _ := json.Marshal(cli[i])
		if string(a) != string(b) {
			t.Errorf("served %s\nvit predict %s", a, b)
		}
	}

	// Embeddings equal vit embed's.
	feats := filepath.Join(t.TempDir(), "f.jsonl")
	if code, _, errOut := runVit(nil, append([]string{"embed", "--model", model, "--out", feats}, files...)...); code != 0 {
		t.Fatalf("vit embed: %d %s", code, errOut)
	}
	jsonl, err := os.ReadFile(feats)
	if err != nil {
		t.Fatal(err)
	}
	body.Reset()
	mw = multipart.NewWriter(&body)
	for _, f := range files {
		w, _ := mw.CreateFormFile("image", f)
		b, _ := os.ReadFile(f)
		w.Write(b)
	}
	mw.Close()
	resp, err = http.Post(url+"/v1/models/tiny:embed", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	var er serve.EmbedResponse
	json.NewDecoder(resp.Body).Decode(&er)
	resp.Body.Close()
	embedded := strings.Split(strings.TrimSpace(string(jsonl)), "\n")
	if len(er.Embeddings) != len(embedded) {
		t.Fatalf("served %d embeddings; vit embed %d", len(er.Embeddings), len(embedded))
	}
	for i, l := range embedded {
		var e serve.Embedding
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(er.Embeddings[i].Features, e.Features) {
			t.Errorf("%s: served features differ from vit embed's", files[i])
		}
	}

	// The web page is served from the binary.
	if resp, err := http.Get(url + "/"); err != nil || resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("GET /: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	// SIGTERM while a request waits for its batch (--max-delay 1s).
	inFlight := make(chan int)
	go func() {
		b, _ := os.ReadFile(files[1])
		resp, err := http.Post(url+"/v1/models/tiny:embed", "image/gif", bytes.NewReader(b))
		if err != nil {
			inFlight <- 0
			return
		}
		resp.Body.Close()
		inFlight <- resp.StatusCode
	}()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(scrape(t, url), "vit_serve_in_flight_requests 1"); {
		if time.Now().After(deadline) {
			t.Fatal("the request never arrived")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	for path, want := range map[string]int{"/v2/health/ready": 503, "/v2/models/tiny": 503, "/v2/health/live": 200} {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Errorf("GET %s while draining: %v", path, err)
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s while draining: %d, want %d", path, resp.StatusCode, want)
		}
	}
	if code := <-inFlight; code != 200 {
		t.Errorf("the request in flight at SIGTERM: %d, want 200", code)
	}
	done := make(chan error)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("vit serve after SIGTERM: %v, want exit 0\n%s", err, <-rest)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("vit serve did not exit within 10 s of SIGTERM")
	}
	log := <-rest
	if !strings.Contains(log, `"msg":"draining`) || !strings.Contains(log, `"msg":"stopped"`) || !strings.Contains(log, `"status":503`) {
		t.Errorf("log:\n%s", log)
	}
}

// scrape returns the server's metrics.
func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
