package serve

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/imageio"
)

// Prediction is one image's answer to :predict, the fields of one line of
// vit predict --json: the image's name (the multipart file name, or "-"
// for a raw body), its top classes and, when asked for, its logits.
type Prediction struct {
	File   string      `json:"file"`
	Top    []vit.Class `json:"top,omitempty"`
	Logits []float32   `json:"logits,omitempty"`
}

// PredictResponse is the answer to POST /v1/models/{name}:predict: one
// prediction per image, in the order sent.
type PredictResponse struct {
	Model       string       `json:"model"`
	Predictions []Prediction `json:"predictions"`
}

// Embedding is one image's answer to :embed, the fields of one line of vit
// embed --out FILE.jsonl: the image's name and its [dim] feature vector.
type Embedding struct {
	File     string    `json:"file"`
	Features []float32 `json:"features"`
}

// EmbedResponse is the answer to POST /v1/models/{name}:embed.
type EmbedResponse struct {
	Model      string      `json:"model"`
	Embeddings []Embedding `json:"embeddings"`
}

// v1 answers POST /v1/models/{name}:predict and :embed.
func (s *Server) v1(w http.ResponseWriter, r *http.Request) error {
	spec := r.PathValue("spec")
	i := strings.LastIndexByte(spec, ':')
	if i < 0 {
		return errorf(http.StatusNotFound, "no such path %q: use /v1/models/NAME:predict or /v1/models/NAME:embed", r.URL.Path)
	}
	name, verb := spec[:i], spec[i+1:]
	if verb != "predict" && verb != "embed" {
		return errorf(http.StatusNotFound, "no method %q: use /v1/models/NAME:predict or /v1/models/NAME:embed", verb)
	}
	m, err := s.lookup(r, name)
	if err != nil {
		return err
	}
	if verb == "predict" {
		if err := m.b.Model().Config.CheckHead(); err != nil {
			return errorf(http.StatusBadRequest, "model %q: %v", name, err)
		}
	}
	res, err := admit(w, m)
	if err != nil {
		return err
	}
	defer res.Release()
	top, logits := 5, false
	if verb == "predict" {
		if top, logits, err = predictQuery(r); err != nil {
			return err
		}
	}
	names, imgs, err := s.readImages(w, r, m)
	if err != nil {
		return err
	}
	x, err := s.prepare(r, m, imgs)
	if err != nil {
		return err
	}
	out, err := s.run(r, m, res, x, len(imgs))
	if err != nil {
		return err
	}
	c := m.b.Model().Config
	if verb == "embed" {
		resp := EmbedResponse{Model: name, Embeddings: make([]Embedding, len(names))}
		for i, n := range names {
			resp.Embeddings[i] = Embedding{File: n, Features: out.Features[i*c.FeatureDim() : (i+1)*c.FeatureDim()]}
		}
		writeJSON(w, http.StatusOK, resp)
		return nil
	}
	resp := PredictResponse{Model: name, Predictions: make([]Prediction, len(names))}
	for i, n := range names {
		l := out.Logits[i*c.Classes : (i+1)*c.Classes]
		p := Prediction{File: n, Top: c.TopK(l, top)}
		if logits {
			p.Logits = l
		}
		resp.Predictions[i] = p
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// predictQuery reads ?top=K (default 5) and ?logits=true.
func predictQuery(r *http.Request) (top int, logits bool, err error) {
	q := r.URL.Query()
	top = 5
	if v := q.Get("top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return 0, false, errorf(http.StatusBadRequest, "top=%s: must be a positive integer", v)
		}
		top = n
	}
	if v := q.Get("logits"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return 0, false, errorf(http.StatusBadRequest, "logits=%s: must be true or false", v)
		}
		logits = b
	}
	return top, logits, nil
}

// decoder returns the image decoder of the server's limits.
func (s *Server) decoder() imageio.Decoder {
	return imageio.Decoder{MaxPixels: s.opt.MaxPixels, MaxBytes: s.opt.MaxBody}
}

// readImages decodes the images of a request: its body, one image in any
// format imageio reads, or multipart/form-data with one or more "image"
// parts. The body is read whole first, up to MaxBody bytes (a longer one
// is refused 413 whatever it holds); at most Queue images are taken.
func (s *Server) readImages(w http.ResponseWriter, r *http.Request, m *model) (names []string, imgs []*imageio.RGB, err error) {
	r.Body = http.MaxBytesReader(w, r.Body, s.opt.MaxBody)
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		img, err := s.readBody(r)
		if err != nil {
			return nil, nil, err
		}
		return []string{"-"}, []*imageio.RGB{img}, nil
	}
	if params["boundary"] == "" {
		return nil, nil, errorf(http.StatusBadRequest, "multipart/form-data without a boundary")
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, nil, errorf(http.StatusBadRequest, "reading the multipart body: %v", err)
	}
	limit := m.b.Options().Queue
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, badBody(err, "reading the multipart body")
		}
		if part.FormName() != "image" {
			return nil, nil, errorf(http.StatusBadRequest, "multipart field %q: send images as parts named \"image\"", part.FormName())
		}
		if len(imgs) == limit {
			return nil, nil, &TooManyImagesError{Images: len(imgs) + 1, Queue: limit}
		}
		name := part.FileName()
		if name == "" {
			name = fmt.Sprintf("image %d", len(imgs)+1)
		}
		data, err := io.ReadAll(part)
		if err != nil {
			return nil, nil, badBody(err, "reading the multipart body")
		}
		img, err := s.decode(data, fmt.Sprintf("image %d (%q)", len(imgs)+1, name))
		if err != nil {
			return nil, nil, err
		}
		names, imgs = append(names, name), append(imgs, img)
	}
	if len(imgs) == 0 {
		return nil, nil, errorf(http.StatusBadRequest, "the multipart body has no \"image\" part")
	}
	return names, imgs, nil
}

// ReadImage reads and decodes the one image a request's body holds, with
// the server's limits on bytes and pixels; its errors are answered with
// their status (413, 400) when a HandleFunc route returns them.
func (s *Server) ReadImage(w http.ResponseWriter, r *http.Request) (*imageio.RGB, error) {
	r.Body = http.MaxBytesReader(w, r.Body, s.opt.MaxBody)
	return s.readBody(r)
}

// bodies are the buffers request bodies are read into: one the size of
// its Content-Length when that is given (and within MaxBody), reused by
// the requests that follow; buffers over maxPooledBody are not kept.
var bodies sync.Pool

const maxPooledBody = 4 << 20

// readBody reads the body of r, already limited to MaxBody bytes, and
// decodes the image it holds.
func (s *Server) readBody(r *http.Request) (*imageio.RGB, error) {
	buf, _ := bodies.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	defer func() {
		if buf.Cap() <= maxPooledBody {
			buf.Reset()
			bodies.Put(buf)
		}
	}()
	buf.Reset()
	if n := r.ContentLength; n > 0 && n <= s.opt.MaxBody {
		buf.Grow(int(n) + bytes.MinRead) // ReadFrom wants MinRead free bytes to see the end
	}
	if _, err := buf.ReadFrom(r.Body); err != nil {
		return nil, badBody(err, "reading the request body")
	}
	return s.decode(buf.Bytes(), "the request body")
}

// decode decodes one image held in data; what names it in errors.
func (s *Server) decode(data []byte, what string) (*imageio.RGB, error) {
	img, err := s.decoder().DecodeBytes(data)
	if err == nil {
		return img, nil
	}
	var tooLarge *imageio.TooLargeError
	var maxBytes *http.MaxBytesError
	switch {
	case errors.As(err, &maxBytes):
		return nil, err
	case errors.As(err, &tooLarge):
		return nil, errorf(http.StatusRequestEntityTooLarge, "%s is %dx%d = %d pixels, over the server's limit of %d (--max-pixels)",
			what, tooLarge.Width, tooLarge.Height, int64(tooLarge.Width)*int64(tooLarge.Height), tooLarge.Limit)
	case errors.Is(err, imageio.ErrTooManyBytes):
		return nil, errorf(http.StatusRequestEntityTooLarge, "%s is over the server's limit of %d bytes (--max-body)", what, s.opt.MaxBody)
	}
	return nil, errorf(http.StatusBadRequest, "%s cannot be decoded: %v", what, err)
}

// badBody describes an error reading the body: 413 past MaxBody, else 400.
func badBody(err error, doing string) error {
	var maxBytes *http.MaxBytesError
	if errors.As(err, &maxBytes) {
		return err
	}
	return errorf(http.StatusBadRequest, "%s: %v", doing, err)
}

// prepare turns decoded images into m's input: [n, channels, height,
// width], as vit.ClassifyBatch prepares them. Images that do not fit the
// model are classified all the same, with one warning logged.
func (s *Server) prepare(r *http.Request, m *model, imgs []*imageio.RGB) ([]float32, error) {
	in := m.b.Model().Config.Input()
	p, err := in.Preprocessor()
	if err != nil {
		return nil, fmt.Errorf("model %q config: %w", m.name, err)
	}
	var x []float32
	if len(imgs) > 1 {
		x = make([]float32, 0, len(imgs)*in.Channels*in.Size.H*in.Size.W)
	}
	misfits, why := 0, ""
	for i, img := range imgs {
		if w := in.Misfit(img); w != "" {
			if misfits == 0 {
				why = w
			}
			misfits++
		}
		t, err := in.Tensor(img, p)
		if err != nil {
			return nil, errorf(http.StatusBadRequest, "image %d: %v", i+1, err)
		}
		if len(imgs) == 1 {
			x = t // the common request of one image: no copy
			break
		}
		x = append(x, t...)
	}
	if misfits > 0 {
		s.log.WarnContext(r.Context(), "images do not fit the model; their predictions may be meaningless",
			"model", m.name, "misfits", misfits, "images", len(imgs), "why", why)
	}
	return x, nil
}
