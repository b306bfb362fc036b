package serve

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/imageio"
	"github.com/vitgo/vit/internal/offline"
)

func TestMain(m *testing.M) { offline.Main(m) }

// testdata are real images of several formats and sizes.
var testdata = []string{"chelsea.png", "coffee.png", "small420.jpg", "small.gif", "small_lossy.webp"}

func imagePath(name string) string { return filepath.Join("..", "imageio", "testdata", "in", name) }

// tinyModel is a small random model of 32×32 colour images and 3 labelled
// classes, with a head that separates them.
func tinyModel(t testing.TB) *vit.Model {
	t.Helper()
	c := vit.Config{ImageHeight: 32, ImageWidth: 32, Channels: 3, Patch: 8, Dim: 16, Depth: 1, Heads: 2, MLPDim: 32, Classes: 3,
		Labels: []string{"cat", "dog", "fish"}, Mean: []float32{0.5}, Std: []float32{0.5}}
	m, err := vit.New(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i := range m.Head.W.Data {
		m.Head.W.Data[i] = float32(i%5) * 0.1
	}
	return m
}

// testServer runs a Server with one model "tiny" on 127.0.0.1 at a random
// port and returns its base URL.
func testServer(t testing.TB, opt Options) (*Server, string) {
	t.Helper()
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	s := New(opt)
	if err := s.Add("tiny", tinyModel(t), 0); err != nil {
		t.Fatal(err)
	}
	s.SetReady(true)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := NewHTTPServer(s.Handler(), s.Options())
	go hs.Serve(ln)
	t.Cleanup(func() {
		hs.Close()
		s.Close()
	})
	return s, "http://" + ln.Addr().String()
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(imagePath(name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// multipartBody holds files as "image" parts.
func multipartBody(t testing.TB, files ...string) (string, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range files {
		w, err := mw.CreateFormFile("image", f)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(readFile(t, f))
	}
	mw.Close()
	return mw.FormDataContentType(), &buf
}

// post posts body and decodes a JSON answer into v (unless nil); it
// returns the status and the raw answer.
func post(t testing.TB, url, contentType string, body io.Reader, v any) (int, string) {
	t.Helper()
	resp, err := http.Post(url, contentType, body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if v != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v in %s", url, err, b)
		}
	}
	return resp.StatusCode, string(b)
}

// libraryImages loads files as vit.ClassifyBatch takes them.
func libraryImages(t testing.TB, files []string) []image.Image {
	var imgs []image.Image
	for _, f := range files {
		img, err := imageio.Load(imagePath(f))
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, img.Image())
	}
	return imgs
}

// TestPredictEmbedMatchLibrary: :predict and :embed answer the numbers of
// vit.ClassifyBatch and vit.EmbedBatch on the same files, from a raw body
// and from multipart parts.
func TestPredictEmbedMatchLibrary(t *testing.T) {
	s, url := testServer(t, Options{})
	m := s.Batcher("tiny").Model()
	imgs := libraryImages(t, testdata)
	top, err := vit.ClassifyBatch(context.Background(), m, imgs, 2)
	if err != nil {
		t.Fatal(err)
	}
	emb, err := vit.EmbedBatch(context.Background(), m, imgs)
	if err != nil {
		t.Fatal(err)
	}

	ct, body := multipartBody(t, testdata...)
	var pr PredictResponse
	if code, raw := post(t, url+"/v1/models/tiny:predict?top=2&logits=true", ct, body, &pr); code != 200 {
		t.Fatalf("predict: %d %s", code, raw)
	}
	if pr.Model != "tiny" || len(pr.Predictions) != len(testdata) {
		t.Fatalf("predict answered %+v", pr)
	}
	for i, p := range pr.Predictions {
		if p.File != testdata[i] || !reflect.DeepEqual(p.Top, top[i]) || len(p.Logits) != 3 {
			t.Errorf("image %s: served %+v, library %+v", testdata[i], p, top[i])
		}
	}
	ct, body = multipartBody(t, testdata...)
	var er EmbedResponse
	if code, raw := post(t, url+"/v1/models/tiny:embed", ct, body, &er); code != 200 {
		t.Fatalf("embed: %d %s", code, raw)
	}
	for i, e := range er.Embeddings {
		if e.File != testdata[i] || !reflect.DeepEqual(e.Features, emb[i]) {
			t.Errorf("image %s: served features %v, library %v", testdata[i], e.Features, emb[i])
		}
	}

	// A raw body is one image, named "-" as vit predict names stdin.
	pr = PredictResponse{}
	if code, raw := post(t, url+"/v1/models/tiny:predict", "image/png", bytes.NewReader(readFile(t, "chelsea.png")), &pr); code != 200 {
		t.Fatalf("raw predict: %d %s", code, raw)
	}
	want, _ := vit.Classify(context.Background(), m, imgs[0], 5)
	if len(pr.Predictions) != 1 || pr.Predictions[0].File != "-" || !reflect.DeepEqual(pr.Predictions[0].Top, want) || pr.Predictions[0].Logits != nil {
		t.Errorf("raw predict: %+v, want %+v", pr, want)
	}
}

// TestV2 runs the Open Inference Protocol: health, metadata, readiness and
// inference from an FP32 tensor and from BYTES images, equal to the
// library's numbers.
func TestV2(t *testing.T) {
	s, url := testServer(t, Options{})
	m := s.Batcher("tiny").Model()
	for path, want := range map[string]string{
		"/v2/health/live": `{"live":true}`, "/v2/health/ready": `{"ready":true}`,
		"/v2/models/tiny/ready": `{"name":"tiny","ready":true}`,
	} {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || strings.TrimSpace(string(b)) != want {
			t.Errorf("GET %s: %d %s, want %s", path, resp.StatusCode, b, want)
		}
	}
	resp, err := http.Get(url + "/v2/models/tiny")
	if err != nil {
		t.Fatal(err)
	}
	var md ModelMetadata
	json.NewDecoder(resp.Body).Decode(&md)
	resp.Body.Close()
	if md.Name != "tiny" || len(md.Inputs) != 2 || !reflect.DeepEqual(md.Inputs[0].Shape, []int{-1, 3, 32, 32}) ||
		len(md.Outputs) != 3 || !reflect.DeepEqual(md.Outputs[2].Shape, []int{-1, 16}) {
		t.Errorf("metadata %+v", md)
	}

	files := testdata[:3]
	imgs := libraryImages(t, files)
	emb, _ := vit.EmbedBatch(context.Background(), m, imgs)
	top, _ := vit.ClassifyBatch(context.Background(), m, imgs, 3)

	// BYTES: base64 images; ask for probabilities and embeddings.
	var enc []string
	for _, f := range files {
		enc = append(enc, base64.StdEncoding.EncodeToString(readFile(t, f)))
	}
	data, _ := json.Marshal(enc)
	req := InferRequest{ID: "r1", Inputs: []Tensor{{Name: "image", Shape: []int{len(enc)}, Datatype: "BYTES", Data: data}},
		Outputs: []RequestedOutput{{"probabilities"}, {"embeddings"}}}
	var ir InferResponse
	body, _ := json.Marshal(req)
	if code, raw := post(t, url+"/v2/models/tiny/infer", "application/json", bytes.NewReader(body), &ir); code != 200 {
		t.Fatalf("infer BYTES: %d %s", code, raw)
	}
	if ir.ModelName != "tiny" || ir.ID != "r1" || len(ir.Outputs) != 2 || ir.Outputs[0].Name != "probabilities" ||
		!reflect.DeepEqual(ir.Outputs[0].Shape, []int{3, 3}) || !reflect.DeepEqual(ir.Outputs[1].Shape, []int{3, 16}) {
		t.Fatalf("infer BYTES answered %+v", ir)
	}
	for i := range files {
		for _, c := range top[i] {
			if got := ir.Outputs[0].Data[i*3+c.Index]; got != float32(c.Prob) {
				t.Errorf("image %d class %d: probability %v, library %v", i, c.Index, got, c.Prob)
			}
		}
		if !reflect.DeepEqual(ir.Outputs[1].Data[i*16:(i+1)*16], emb[i]) {
			t.Errorf("image %d: embedding differs from the library's", i)
		}
	}

	// FP32: the same images prepared here, nested [N][C][H][W].
	in := m.Config.Input()
	p, _ := in.Preprocessor()
	var x []float32
	for _, img := range imgs {
		v, err := in.Tensor(imageio.FromImage(img), p)
		if err != nil {
			t.Fatal(err)
		}
		x = append(x, v...)
	}
	nested := make([][][][]float32, len(imgs))
	for i := range nested {
		nested[i] = make([][][]float32, 3)
		for c := range 3 {
			nested[i][c] = make([][]float32, 32)
			for h := range 32 {
				o := ((i*3+c)*32 + h) * 32
				nested[i][c][h] = x[o : o+32]
			}
		}
	}
	data, _ = json.Marshal(nested)
	req = InferRequest{Inputs: []Tensor{{Name: "input", Shape: []int{len(imgs), 3, 32, 32}, Datatype: "FP32", Data: data}}}
	body, _ = json.Marshal(req)
	ir = InferResponse{}
	if code, raw := post(t, url+"/v2/models/tiny/infer", "application/json", bytes.NewReader(body), &ir); code != 200 {
		t.Fatalf("infer FP32: %d %s", code, raw)
	}
	logits, _ := m.Predict(x, len(imgs))
	if len(ir.Outputs) != 3 || ir.Outputs[0].Name != "logits" || !reflect.DeepEqual(ir.Outputs[0].Data, logits) ||
		!reflect.DeepEqual(ir.Outputs[2].Data, flat(emb)) {
		t.Errorf("infer FP32: %+v; want logits %v", ir, logits)
	}
}

func flat(rows [][]float32) []float32 {
	var out []float32
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}

// pngOf encodes a w×h image; only its header is read when it is too big.
func pngOf(t testing.TB, w, h int) []byte {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// multipartType is the Content-Type of multipartOf's bodies.
const multipartType = "multipart/form-data; boundary=b0undary"

// multipartOf holds each of parts as an "image" part.
func multipartOf(t testing.TB, parts ...[]byte) []byte {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if err := mw.SetBoundary("b0undary"); err != nil {
		t.Fatal(err)
	}
	for i, p := range parts {
		w, _ := mw.CreateFormFile("image", fmt.Sprintf("%d.png", i))
		w.Write(p)
	}
	mw.Close()
	return buf.Bytes()
}

// TestTimeouts: slow clients cannot hold connections.
func TestTimeouts(t *testing.T) {
	hs := NewHTTPServer(http.NotFoundHandler(), Options{Timeout: 7 * time.Second})
	if hs.ReadHeaderTimeout <= 0 || hs.ReadHeaderTimeout > 30*time.Second || hs.IdleTimeout <= 0 ||
		hs.ReadTimeout != 7*time.Second || hs.WriteTimeout < hs.ReadTimeout || hs.MaxHeaderBytes <= 0 {
		t.Errorf("http.Server timeouts: header %v, idle %v, read %v, write %v, header bytes %d",
			hs.ReadHeaderTimeout, hs.IdleTimeout, hs.ReadTimeout, hs.WriteTimeout, hs.MaxHeaderBytes)
	}
}

// TestErrors checks every error status, each answered as {"error": ...}.
func TestErrors(t *testing.T) {
	_, url := testServer(t, Options{MaxBody: 64 << 10, MaxPixels: 100 * 100})
	chelsea := readFile(t, "coffee.png")
	for _, tc := range []struct {
		name, method, path, ctype string
		body                      []byte
		status                    int
		want                      string
	}{
		{"body over --max-body", "POST", "/v1/models/tiny:predict", "image/png", make([]byte, 65<<10), 413, "over the server's limit of 65536 bytes"},
		{"image over --max-pixels", "POST", "/v1/models/tiny:predict", "image/png", pngOf(t, 101, 100), 413, "101x100 = 10100 pixels, over the server's limit of 10000"},
		{"undecodable", "POST", "/v1/models/tiny:predict", "image/png", []byte("hello, world"), 400, "not a PNG, JPEG"},
		{"truncated", "POST", "/v1/models/tiny:embed", "image/png", pngOf(t, 50, 50)[:60], 400, "cannot be decoded"},
		{"empty body", "POST", "/v1/models/tiny:predict", "image/png", nil, 400, "empty input"},
		{"unknown model", "POST", "/v1/models/nope:predict", "image/png", chelsea, 404, `no model "nope"`},
		{"unknown verb", "POST", "/v1/models/tiny:explain", "image/png", chelsea, 404, `no method "explain"`},
		{"unknown path", "GET", "/etc/passwd", "", nil, 404, "no such path"},
		{"file path as model", "POST", "/v1/models/..%2F..%2Fetc%2Fpasswd:predict", "image/png", chelsea, 404, "no model"},
		{"wrong method", "GET", "/v1/models/tiny:predict", "", nil, 405, "method GET not allowed"},
		{"wrong method v2", "POST", "/v2/health/live", "", nil, 405, "use GET"},
		{"bad top", "POST", "/v1/models/tiny:predict?top=0", "image/png", chelsea, 400, "top=0: must be a positive integer"},
		{"bad logits", "POST", "/v1/models/tiny:predict?logits=maybe", "image/png", chelsea, 400, "logits=maybe"},
		{"v2 bad json", "POST", "/v2/models/tiny/infer", "application/json", []byte("{"), 400, "not valid JSON"},
		{"v2 bad shape", "POST", "/v2/models/tiny/infer", "application/json",
			[]byte(`{"inputs":[{"name":"input","shape":[1,3,8,8],"datatype":"FP32","data":[1]}]}`), 400, "takes FP32 [N, 3, 32, 32]"},
		{"v2 bad output", "POST", "/v2/models/tiny/infer", "application/json",
			[]byte(`{"inputs":[{"name":"input","shape":[1,3,32,32],"datatype":"FP32","data":[1]}],"outputs":[{"name":"x"}]}`), 400, `no output "x"`},
		{"v2 unknown model", "GET", "/v2/models/nope", "", nil, 404, `no model "nope"`},
		{"v2 body over --max-body", "POST", "/v2/models/tiny/infer", "application/json",
			[]byte(`{"inputs":[{"name":"input","shape":[1,3,32,32],"datatype":"FP32","data":[` + strings.Repeat("0,", 40<<10) + `0]}]}`), 413, "over the server's limit"},
		{"v2 image over --max-pixels", "POST", "/v2/models/tiny/infer", "application/json",
			[]byte(`{"inputs":[{"name":"image","shape":[1],"datatype":"BYTES","data":["` + base64.StdEncoding.EncodeToString(pngOf(t, 200, 200)) + `"]}]}`), 413, "40000 pixels"},
		{"v2 not base64", "POST", "/v2/models/tiny/infer", "application/json",
			[]byte(`{"inputs":[{"name":"image","shape":[1],"datatype":"BYTES","data":["%%%"]}]}`), 400, "not base64"},
		{"multipart over --max-body", "POST", "/v1/models/tiny:predict", multipartType, multipartOf(t, make([]byte, 70<<10)), 413, "over the server's limit"},
		{"multipart without image parts", "POST", "/v1/models/tiny:predict", multipartType, multipartOf(t), 400, `no "image" part`},
	} {
		req, _ := http.NewRequest(tc.method, url+tc.path, bytes.NewReader(tc.body))
		if tc.ctype != "" {
			req.Header.Set("Content-Type", tc.ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var e struct{ Error string }
		err = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != tc.status || err != nil || !strings.Contains(e.Error, tc.want) {
			t.Errorf("%s: %d %q (%v); want %d and an error containing %q", tc.name, resp.StatusCode, e.Error, err, tc.status, tc.want)
		}
		if resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: Content-Type %q", tc.name, resp.Header.Get("Content-Type"))
		}
	}
}

// TestQueueFullAndTimeout: a full queue is answered 429 with Retry-After
// at once; a request past its deadline 504. A long delay keeps the first
// request waiting in the batcher.
func TestQueueFullAndTimeout(t *testing.T) {
	s, url := testServer(t, Options{BatchOptions: BatchOptions{MaxBatch: 4, MaxDelay: 10 * time.Second, Queue: 2}, Timeout: time.Second})
	first := fillQueue(t, s, url)
	start := time.Now()
	resp, err := http.Post(url+"/v1/models/tiny:predict", "image/png", bytes.NewReader(readFile(t, "small.gif")))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(b), "queue is full") {
		t.Errorf("over the queue: %d %q %s; want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("429 took %v; it must come at once", d)
	}
	if code := <-first; code != 504 {
		t.Errorf("a request waiting past the timeout: %d, want 504", code)
	}
}

// fillQueue posts two images to model tiny of a server whose queue holds
// two, and returns once they wait in the queue; the request's status
// arrives on the channel when it ends.
func fillQueue(t *testing.T, s *Server, url string) <-chan int {
	t.Helper()
	ct, body := multipartBody(t, "small.gif", "small420.jpg")
	first := make(chan int)
	go func() {
		code, _ := post(t, url+"/v1/models/tiny:predict", ct, body, nil)
		first <- code
	}()
	for deadline := time.Now().Add(5 * time.Second); s.Batcher("tiny").Pending() < 2; {
		if time.Now().After(deadline) {
			t.Fatal("the first request never reached the queue")
		}
		time.Sleep(time.Millisecond)
	}
	return first
}

// TestAdmittedCountInQueue: requests admitted and still sending their
// bodies hold their room in the queue, so that no more are admitted than
// it can take: the next is refused at once, not after it is decoded; the
// room comes back when they end, whatever their answer.
func TestAdmittedCountInQueue(t *testing.T) {
	s, url := testServer(t, Options{BatchOptions: BatchOptions{MaxBatch: 4, MaxDelay: time.Millisecond, Queue: 2}, Timeout: 10 * time.Second})
	var writers []*io.PipeWriter
	codes := make(chan int, 2)
	for range 2 {
		pr, pw := io.Pipe() // bodies that have not come yet
		writers = append(writers, pw)
		go func() {
			resp, err := http.Post(url+"/v1/models/tiny:predict", "image/png", pr)
			if err != nil {
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	for deadline := time.Now().Add(5 * time.Second); s.Batcher("tiny").Pending() < 2; {
		if time.Now().After(deadline) {
			t.Fatalf("two requests reading their bodies: pending %d, want 2", s.Batcher("tiny").Pending())
		}
		time.Sleep(time.Millisecond)
	}
	code, _ := post(t, url+"/v1/models/tiny:predict", "image/png", bytes.NewReader(readFile(t, "small.gif")), nil)
	if code != 429 {
		t.Errorf("a third request with two admitted in a queue of 2: %d, want 429", code)
	}
	for _, pw := range writers {
		pw.Write([]byte("not an image"))
		pw.Close()
	}
	for range 2 {
		if c := <-codes; c != 400 {
			t.Errorf("a request of a bad image: %d, want 400", c)
		}
	}
	if p := s.Batcher("tiny").Pending(); p != 0 {
		t.Errorf("pending %d after the requests ended", p)
	}
	code, _ = post(t, url+"/v1/models/tiny:predict", "image/png", bytes.NewReader(readFile(t, "small.gif")), nil)
	if code != 200 {
		t.Errorf("a request once the queue is empty: %d", code)
	}
}

// TestQueueFullRefusedBeforeBody: with the queue full, a request is
// answered 429 without its body being read, so an overloaded server spends
// nothing decoding what it refuses (the body here never arrives).
func TestQueueFullRefusedBeforeBody(t *testing.T) {
	s, url := testServer(t, Options{BatchOptions: BatchOptions{MaxBatch: 4, MaxDelay: 10 * time.Second, Queue: 2}, Timeout: 3 * time.Second})
	first := fillQueue(t, s, url)
	for _, path := range []string{"/v1/models/tiny:predict", "/v2/models/tiny/infer"} {
		pr, pw := io.Pipe() // a body that never comes
		start := time.Now()
		resp, err := http.Post(url+path, "image/png", pr)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		pw.Close()
		if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s with the queue full: %d, Retry-After %q; want 429 before the body is read", path, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Errorf("%s: the 429 took %v; it must come before the body", path, d)
		}
	}
	if code := <-first; code != 504 {
		t.Errorf("the request holding the queue: %d, want 504", code)
	}
}

// TestConcurrentClients: 50 clients at once all get their own image's
// answer, and batches of more than one image form.
func TestConcurrentClients(t *testing.T) {
	var mu sync.Mutex
	maxBatch := 0
	s, url := testServer(t, Options{BatchOptions: BatchOptions{MaxBatch: 16, MaxDelay: 20 * time.Millisecond, Queue: 256,
		Observe: func(n int, _ time.Duration) {
			mu.Lock()
			maxBatch = max(maxBatch, n)
			mu.Unlock()
		}}})
	m := s.Batcher("tiny").Model()
	// 50 distinct images, so a mix-up of rows shows.
	var pngs [][]byte
	var imgs []image.Image
	for i := range 50 {
		img := image.NewRGBA(image.Rect(0, 0, 32, 32))
		for p := 0; p < len(img.Pix); p += 4 {
			img.Pix[p], img.Pix[p+1], img.Pix[p+2], img.Pix[p+3] = uint8(i*5), uint8(p*7+i), uint8(255-i*3), 255
		}
		var buf bytes.Buffer
		png.Encode(&buf, img)
		pngs = append(pngs, buf.Bytes())
		imgs = append(imgs, img)
	}
	want, err := vit.EmbedBatch(context.Background(), m, imgs)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(pngs))
	for i := range pngs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var er EmbedResponse
			code, raw := post(t, url+"/v1/models/tiny:embed", "image/png", bytes.NewReader(pngs[i]), &er)
			if code != 200 || len(er.Embeddings) != 1 || !reflect.DeepEqual(er.Embeddings[0].Features, want[i]) {
				errs <- fmt.Errorf("client %d: %d %.200s", i, code, raw)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if maxBatch < 2 {
		t.Errorf("the largest batch formed was %d images; want batches of more than one", maxBatch)
	}
}

// TestBatcherDropsCancelled: a caller that gives up is dropped from the
// batch; the others get their own rows.
func TestBatcherDropsCancelled(t *testing.T) {
	m := tinyModel(t)
	var mu sync.Mutex
	var sizes []int
	b := NewBatcher(m, BatchOptions{MaxBatch: 8, MaxDelay: 100 * time.Millisecond, Observe: func(n int, _ time.Duration) {
		mu.Lock()
		sizes = append(sizes, n)
		mu.Unlock()
	}})
	defer b.Close()
	per := 3 * 32 * 32
	x := make([]float32, 3*per)
	for i := range x {
		x[i] = float32(i%per) / float32(per) * float32(1+i/per)
	}
	want, _ := m.Predict(x, 3)
	ctx, cancel := context.WithCancel(context.Background())
	gone := make(chan error)
	go func() {
		_, err := b.Run(ctx, x[per:2*per], 1)
		gone <- err
	}()
	time.Sleep(10 * time.Millisecond)
	cancel()
	if err := <-gone; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: %v", err)
	}
	var wg sync.WaitGroup
	for _, i := range []int{0, 2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := b.Run(context.Background(), x[i*per:(i+1)*per], 1)
			if err != nil || !reflect.DeepEqual(out.Logits, want[i*3:(i+1)*3]) {
				t.Errorf("caller %d: %v %v, want %v", i, out.Logits, err, want[i*3:(i+1)*3])
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	if total := sum(sizes); total != 2 {
		t.Errorf("batches %v: want the cancelled image left out (2 images run)", sizes)
	}
	mu.Unlock()
	if b.Pending() != 0 {
		t.Errorf("%d images still pending", b.Pending())
	}
	// A request larger than MaxBatch runs in several batches, in order.
	out, err := b.Run(context.Background(), append(append(append([]float32{}, x...), x...), x...), 9)
	if err != nil || len(out.Logits) != 27 || !reflect.DeepEqual(out.Logits[24:], want[6:]) || out.Batch != 8 {
		t.Errorf("9 images: batch %d, %v", out.Batch, err)
	}
	if _, err := b.Run(context.Background(), x[:per], 2); err == nil {
		t.Error("2 images of 1 image's values accepted")
	}
}

func sum(v []int) int {
	s := 0
	for _, x := range v {
		s += x
	}
	return s
}

// TestPanicRecovered: a panic in a forward pass or a handler is answered
// 500, logged and counted; the server answers the next request.
func TestPanicRecovered(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(&lockedWriter{w: &logs, mu: &mu}, nil))
	s := New(Options{Logger: logger})
	broken := tinyModel(t)
	if err := s.Add("broken", broken, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Add("tiny", tinyModel(t), 0); err != nil {
		t.Fatal(err)
	}
	broken.Head.W.Data = broken.Head.W.Data[:1] // the forward pass now indexes past it
	s.SetReady(true)
	mux := http.NewServeMux()
	s.Register(mux)
	mux.Handle("GET /boom", s.wrap("boom", func(http.ResponseWriter, *http.Request) error { panic("boom") }))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := NewHTTPServer(mux, s.Options())
	go hs.Serve(ln)
	defer hs.Close()
	url := "http://" + ln.Addr().String()

	code, raw := post(t, url+"/v1/models/broken:predict", "image/png", bytes.NewReader(readFile(t, "small.gif")), nil)
	if code != 500 || !strings.Contains(raw, "internal error") {
		t.Errorf("panicking model: %d %s", code, raw)
	}
	resp, err := http.Get(url + "/boom")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 500 || !strings.Contains(string(b), "panic: boom") {
		t.Errorf("panicking handler: %d %s", resp.StatusCode, b)
	}
	var pr PredictResponse
	if code, raw := post(t, url+"/v1/models/tiny:predict", "image/png", bytes.NewReader(readFile(t, "small.gif")), &pr); code != 200 {
		t.Errorf("after the panics: %d %s", code, raw)
	}
	mu.Lock()
	l := logs.String()
	mu.Unlock()
	if !strings.Contains(l, `"msg":"panic in a handler"`) || !strings.Contains(l, `"msg":"panic in a forward pass"`) {
		t.Errorf("panics not logged:\n%s", l)
	}
	if m := scrape(t, url); !strings.Contains(m, "vit_serve_panics_total 2") {
		t.Errorf("panics not counted:\n%s", m)
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

func scrape(t testing.TB, url string) string {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestMetricsAndLog: the metrics count what was served, and each request
// logs one JSON line with its model, images, batch, waits and status.
func TestMetricsAndLog(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	_, url := testServer(t, Options{Logger: slog.New(slog.NewJSONHandler(&lockedWriter{w: &logs, mu: &mu}, nil))})
	ct, body := multipartBody(t, "chelsea.png", "small.gif")
	if code, raw := post(t, url+"/v1/models/tiny:predict", ct, body, nil); code != 200 {
		t.Fatalf("%d %s", code, raw)
	}
	post(t, url+"/v1/models/tiny:predict", "image/png", strings.NewReader("junk"), nil)
	m := scrape(t, url)
	for _, want := range []string{
		`vit_serve_requests_total{model="tiny",route="v1",status="200"} 1`,
		`vit_serve_requests_total{model="tiny",route="v1",status="400"} 1`,
		`vit_serve_images_total{model="tiny"} 2`,
		`vit_serve_batch_size_bucket{model="tiny",le="2"} 1`,
		`vit_serve_request_duration_seconds_count{model="tiny",route="v1"} 2`,
		`vit_serve_queue_wait_seconds_count{model="tiny"} 1`,
		`vit_serve_compute_seconds_count{model="tiny"} 1`,
		`vit_serve_queue_depth{model="tiny"} 0`,
		`vit_serve_images_per_second{model="tiny"} 0.2`,
		`vit_serve_in_flight_requests 0`,
		`vit_serve_model_load_seconds{model="tiny"}`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	var line struct {
		Msg, Model, Route     string
		Status, Images, Batch int
		QueueMS               *float64 `json:"queue_ms"`
		ComputeMS             *float64 `json:"compute_ms"`
	}
	var first string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, `"msg":"request"`) {
			first = l
			break
		}
	}
	if err := json.Unmarshal([]byte(first), &line); err != nil || line.Msg != "request" || line.Model != "tiny" || line.Status != 200 ||
		line.Images != 2 || line.Batch != 2 || line.QueueMS == nil || line.ComputeMS == nil {
		t.Errorf("log line %s: %+v %v", first, line, err)
	}
}

// TestDrain: after Drain, readiness is false and new requests get 503
// while one in flight finishes.
func TestDrain(t *testing.T) {
	s, url := testServer(t, Options{BatchOptions: BatchOptions{MaxDelay: 300 * time.Millisecond}})
	done := make(chan int)
	go func() {
		code, _ := post(t, url+"/v1/models/tiny:predict", "image/png", bytes.NewReader(readFile(t, "small.gif")), nil)
		done <- code
	}()
	for s.InFlight() == 0 {
		time.Sleep(time.Millisecond)
	}
	s.Drain()
	if code, raw := post(t, url+"/v1/models/tiny:predict", "image/png", bytes.NewReader(readFile(t, "small.gif")), nil); code != 503 || !strings.Contains(raw, "shutting down") {
		t.Errorf("new request while draining: %d %s", code, raw)
	}
	resp, err := http.Get(url + "/v2/health/ready")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Errorf("ready while draining: %d", resp.StatusCode)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	if code := <-done; code != 200 {
		t.Errorf("the request in flight: %d", code)
	}
}
