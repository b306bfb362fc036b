package serve

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"

	"github.com/vitgo/vit/imageio"
)

// The Open Inference Protocol (KServe v2, Triton's HTTP/REST API), JSON
// form: https://kserve.github.io/website/latest/modelserving/data_plane/v2_protocol/

// TensorMetadata describes an input or output of a model.
type TensorMetadata struct {
	Name     string `json:"name"`
	Datatype string `json:"datatype"`
	Shape    []int  `json:"shape"` // -1 for a dimension of any size
}

// ModelMetadata is the answer to GET /v2/models/{name}.
type ModelMetadata struct {
	Name     string           `json:"name"`
	Versions []string         `json:"versions,omitempty"`
	Platform string           `json:"platform"`
	Inputs   []TensorMetadata `json:"inputs"`
	Outputs  []TensorMetadata `json:"outputs"`
}

// Tensor is an input or output tensor of an inference request: its data
// flat, in row-major order (a request may also nest it by dimension).
// FP32 data are numbers; BYTES data are strings, here encoded images in
// base64.
type Tensor struct {
	Name     string          `json:"name"`
	Shape    []int           `json:"shape"`
	Datatype string          `json:"datatype"`
	Data     json.RawMessage `json:"data"`
}

// RequestedOutput names an output wanted.
type RequestedOutput struct {
	Name string `json:"name"`
}

// InferRequest is the body of POST /v2/models/{name}/infer.
type InferRequest struct {
	ID      string            `json:"id,omitempty"`
	Inputs  []Tensor          `json:"inputs"`
	Outputs []RequestedOutput `json:"outputs,omitempty"`
}

// OutputTensor is one output of an inference answer.
type OutputTensor struct {
	Name     string    `json:"name"`
	Shape    []int     `json:"shape"`
	Datatype string    `json:"datatype"`
	Data     []float32 `json:"data"`
}

// InferResponse is the answer to POST /v2/models/{name}/infer.
type InferResponse struct {
	ModelName string         `json:"model_name"`
	ID        string         `json:"id,omitempty"`
	Outputs   []OutputTensor `json:"outputs"`
}

// The names of the inputs and outputs of every served model.
const (
	InputTensor      = "input"         // FP32 [N, C, H, W], prepared as the model expects
	InputImages      = "image"         // BYTES [N], encoded images (base64 in JSON)
	OutputLogits     = "logits"        // FP32 [N, classes]
	OutputProbs      = "probabilities" // FP32 [N, classes], softmax of the logits
	OutputEmbeddings = "embeddings"    // FP32 [N, dim], the pre-head features
)

func (s *Server) v2Metadata(w http.ResponseWriter, r *http.Request) error {
	m, err := s.lookup(r, r.PathValue("name"))
	if err != nil {
		return err
	}
	c := m.b.Model().Config
	// A model without a classifier (Config.Headless) has only embeddings.
	outputs := []TensorMetadata{{OutputEmbeddings, "FP32", []int{-1, c.FeatureDim()}}}
	if c.CheckHead() == nil {
		outputs = append([]TensorMetadata{
			{OutputLogits, "FP32", []int{-1, c.Classes}},
			{OutputProbs, "FP32", []int{-1, c.Classes}},
		}, outputs...)
	}
	writeJSON(w, http.StatusOK, ModelMetadata{
		Name:     m.name,
		Platform: "vit-go",
		Inputs: []TensorMetadata{
			{InputTensor, "FP32", []int{-1, c.Channels, c.ImageHeight, c.ImageWidth}},
			{InputImages, "BYTES", []int{-1}},
		},
		Outputs: outputs,
	})
	return nil
}

func (s *Server) v2ModelReady(w http.ResponseWriter, r *http.Request) error {
	m, err := s.lookup(r, r.PathValue("name"))
	if err != nil {
		return err
	}
	status := http.StatusOK
	if !s.Ready() {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, map[string]any{"name": m.name, "ready": status == http.StatusOK})
	return nil
}

func (s *Server) v2Infer(w http.ResponseWriter, r *http.Request) error {
	m, err := s.lookup(r, r.PathValue("name"))
	if err != nil {
		return err
	}
	res, err := admit(w, m)
	if err != nil {
		return err
	}
	defer res.Release()
	r.Body = http.MaxBytesReader(w, r.Body, s.opt.MaxBody)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return badBody(err, "reading the inference request")
	}
	var req InferRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return errorf(http.StatusBadRequest, "the inference request is not valid JSON: %v", err)
	}
	if len(req.Inputs) != 1 {
		return errorf(http.StatusBadRequest, "%d inputs: send one, %q (FP32 [N, C, H, W]) or %q (BYTES [N], base64 images)", len(req.Inputs), InputTensor, InputImages)
	}
	headless := m.b.Model().Config.CheckHead()
	wanted := []string{OutputLogits, OutputProbs, OutputEmbeddings}
	if headless != nil {
		wanted = []string{OutputEmbeddings}
	}
	if len(req.Outputs) > 0 {
		wanted = wanted[:0:0]
		for _, o := range req.Outputs {
			switch o.Name {
			case OutputLogits, OutputProbs:
				if headless != nil {
					return errorf(http.StatusBadRequest, "model %q has no output %q: %v", m.name, o.Name, headless)
				}
				wanted = append(wanted, o.Name)
			case OutputEmbeddings:
				wanted = append(wanted, o.Name)
			default:
				return errorf(http.StatusBadRequest, "no output %q: ask for %q, %q or %q", o.Name, OutputLogits, OutputProbs, OutputEmbeddings)
			}
		}
	}
	x, n, err := s.v2Input(r, m, req.Inputs[0])
	if err != nil {
		return err
	}
	out, err := s.run(r, m, res, x, n)
	if err != nil {
		return err
	}
	c := m.b.Model().Config
	resp := InferResponse{ModelName: m.name, ID: req.ID}
	for _, name := range wanted {
		switch name {
		case OutputLogits:
			resp.Outputs = append(resp.Outputs, OutputTensor{name, []int{n, c.Classes}, "FP32", out.Logits})
		case OutputProbs:
			resp.Outputs = append(resp.Outputs, OutputTensor{name, []int{n, c.Classes}, "FP32", softmax(out.Logits, c.Classes)})
		case OutputEmbeddings:
			resp.Outputs = append(resp.Outputs, OutputTensor{name, []int{n, c.FeatureDim()}, "FP32", out.Features})
		}
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// v2Input turns the input tensor of an inference request into the model's
// input [n, C, H, W].
func (s *Server) v2Input(r *http.Request, m *model, t Tensor) ([]float32, int, error) {
	c := m.b.Model().Config
	switch t.Datatype {
	case "FP32":
		if len(t.Shape) != 4 || t.Shape[0] < 1 || t.Shape[1] != c.Channels || t.Shape[2] != c.ImageHeight || t.Shape[3] != c.ImageWidth {
			return nil, 0, errorf(http.StatusBadRequest, "input %q has shape %v; model %q takes FP32 [N, %d, %d, %d] with N ≥ 1",
				t.Name, t.Shape, m.name, c.Channels, c.ImageHeight, c.ImageWidth)
		}
		n := t.Shape[0]
		if q := m.b.Options().Queue; n > q {
			return nil, 0, &TooManyImagesError{Images: n, Queue: q}
		}
		var x []float32
		if err := flatten(t.Data, &x); err != nil {
			return nil, 0, errorf(http.StatusBadRequest, "input %q: %v", t.Name, err)
		}
		if want := n * c.Channels * c.ImageHeight * c.ImageWidth; len(x) != want {
			return nil, 0, errorf(http.StatusBadRequest, "input %q has %d values; shape %v needs %d", t.Name, len(x), t.Shape, want)
		}
		for i, v := range x {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, 0, errorf(http.StatusBadRequest, "input %q: value %d is %v; send finite numbers", t.Name, i, v)
			}
		}
		return x, n, nil
	case "BYTES":
		var enc []string
		if err := flatten(t.Data, &enc); err != nil {
			return nil, 0, errorf(http.StatusBadRequest, "input %q: %v", t.Name, err)
		}
		if len(enc) == 0 || len(t.Shape) != 1 || t.Shape[0] != len(enc) {
			return nil, 0, errorf(http.StatusBadRequest, "input %q: shape %v for %d images; send BYTES [N] with N ≥ 1 base64 images", t.Name, t.Shape, len(enc))
		}
		if q := m.b.Options().Queue; len(enc) > q {
			return nil, 0, &TooManyImagesError{Images: len(enc), Queue: q}
		}
		imgs := make([]*imageio.RGB, len(enc))
		for i, e := range enc {
			raw, err := base64.StdEncoding.DecodeString(e)
			if err != nil {
				return nil, 0, errorf(http.StatusBadRequest, "input %q: image %d is not base64: %v", t.Name, i+1, err)
			}
			if imgs[i], err = s.decode(raw, fmt.Sprintf("image %d", i+1)); err != nil {
				return nil, 0, err
			}
		}
		x, err := s.prepare(r, m, imgs)
		return x, len(imgs), err
	}
	return nil, 0, errorf(http.StatusBadRequest, "input %q has datatype %q: send FP32 [N, C, H, W] or BYTES [N] (base64 images)", t.Name, t.Datatype)
}

// flatten decodes data, a JSON array of values or of arrays nested to any
// depth, into out, in row-major order.
func flatten[T any](data json.RawMessage, out *[]T) error {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '[' {
		return fmt.Errorf("data must be a JSON array")
	}
	var rows []json.RawMessage
	if err := json.Unmarshal(data, &rows); err != nil {
		return err
	}
	if len(rows) > 0 && len(bytes.TrimSpace(rows[0])) > 0 && bytes.TrimSpace(rows[0])[0] == '[' {
		for _, row := range rows {
			if err := flatten(row, out); err != nil {
				return err
			}
		}
		return nil
	}
	var vals []T
	if err := json.Unmarshal(data, &vals); err != nil {
		return fmt.Errorf("data: %v", err)
	}
	*out = append(*out, vals...)
	return nil
}

// softmax returns the softmax of each row of logits: [n, classes], as
// vit.Config.TopK computes its probabilities.
func softmax(logits []float32, classes int) []float32 {
	out := make([]float32, len(logits))
	for i := 0; i+classes <= len(logits); i += classes {
		row := logits[i : i+classes]
		mx := row[0]
		for _, v := range row {
			mx = max(mx, v)
		}
		var z float64
		for _, v := range row {
			z += math.Exp(float64(v - mx))
		}
		for j, v := range row {
			out[i+j] = float32(math.Exp(float64(v-mx)) / z)
		}
	}
	return out
}
