package checkpoint

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/nn"
	"github.com/vitgo/vit/safetensors"
	"github.com/vitgo/vit/torchbin"
)

// Checkpoint formats, as LoadPretrained reports them and Convert writes them.
const (
	FormatVit  = "vit"  // this package's folder (Save)
	FormatHF   = "hf"   // Hugging Face transformers ViT
	FormatTimm = "timm" // timm VisionTransformer
	FormatJAX  = "jax"  // official JAX .npz (google-research/vision_transformer, big_vision)
	// FormatOpenCLIP is an OpenCLIP checkpoint (open_clip_config.json and
	// open_clip_model.safetensors or open_clip_pytorch_model.bin): its
	// image tower. Loading only.
	FormatOpenCLIP = "openclip"
)

// Pretrained is a loaded checkpoint: the model, and the parts of the
// checkpoint that vit.Model has no place for.
type Pretrained struct {
	Model  *vit.Model
	Format string // FormatVit, FormatHF, FormatTimm or FormatJAX

	// Pooler is the dense layer of Hugging Face's ViTModel pooler
	// (tanh(Pooler(features))); ViTForImageClassification does not use it.
	// Nil when the checkpoint has none.
	Pooler *nn.Linear

	// Headless reports a checkpoint without a classifier (HF ViTModel, a
	// body-only export): Model.Head is zeros and must be trained or replaced.
	Headless bool

	// Notes says, in sentences, what the loader inferred or left out.
	Notes []string
}

func (p *Pretrained) note(format string, args ...any) {
	p.Notes = append(p.Notes, fmt.Sprintf(format, args...))
}

// Predict returns the logits: [batch, classes] of images x: [batch,
// channels, height, width]: the model's (a JAX pre-logits layer, when the
// checkpoint has one, is part of the model: Model.PreLogits).
func (p *Pretrained) Predict(x []float32, batch int) ([]float32, error) {
	return p.Model.Predict(x, batch)
}

// PooledOutput returns HF ViTModel's pooler output, tanh(Pooler(features)):
// [batch, dim]. It is an error when the checkpoint had no pooler.
func (p *Pretrained) PooledOutput(x []float32, batch int) ([]float32, error) {
	if p.Pooler == nil {
		return nil, fmt.Errorf("checkpoint: this model has no pooler")
	}
	f, err := p.Model.Features(x, batch)
	if err != nil {
		return nil, err
	}
	return linearTanhThen(p.Pooler, nil, f, batch), nil
}

// linearTanhThen computes tanh(a(x)), then b of that if b is not nil.
func linearTanhThen(a, b *nn.Linear, x []float32, n int) []float32 {
	h := make([]float32, n*a.Out)
	a.Forward(h, x, n)
	for i, v := range h {
		h[i] = float32(math.Tanh(float64(v)))
	}
	if b == nil {
		return h
	}
	y := make([]float32, n*b.Out)
	b.Forward(y, h, n)
	return y
}

// LoadPretrained reads a checkpoint in any supported format (see Detect)
// and maps it onto a vit.Model:
//
//   - Hugging Face: config.json (ViTConfig) with model.safetensors or the
//     shards of model.safetensors.index.json, ViTForImageClassification
//     names (prefix "vit.", "classifier") or ViTModel names (no prefix,
//     "pooler.dense", no classifier). The query, key and value
//     projections are stacked into the fused qkv; layer_norm_eps defaults
//     to 1e-12 as in transformers; id2label gives the labels and
//     preprocessor_config.json, when present, the normalisation.
//   - timm: model.safetensors with timm names and, optionally, timm's
//     config.json (architecture, num_classes, model_args, pretrained_cfg
//     with input_size, mean and std; label_names). LayerNorm eps 1e-6.
//   - JAX .npz: the official layout (Transformer/encoderblock_N/...,
//     kernels [in, out], attention kernels [dim, heads, dh]) or big_vision's
//     (params/ prefix, MultiHeadDotProductAttention_0, MlpBlock_0,
//     LayerNorm_1, a top-level pos_embedding, stacked "scan" blocks).
//     Dimensions come from tensor shapes; the grid must be square. LayerNorm
//     eps 1e-6.
//   - this package's folder (Save).
//
// Tensors the mapping does not use, and tensors whose shapes disagree with
// the configuration, are errors that name them.
func LoadPretrained(path string) (*Pretrained, error) {
	return LoadPretrainedContext(context.Background(), path)
}

// LoadPretrainedContext is LoadPretrained that stops, with an error
// wrapping ctx.Err(), when ctx is done before the last tensor is read.
func LoadPretrainedContext(ctx context.Context, path string) (*Pretrained, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("loading %s: %w", path, err)
	}
	format, err := Detect(path)
	if err != nil {
		return nil, err
	}
	var p *Pretrained
	switch format {
	case FormatHF:
		p, err = loadHF(ctx, path)
	case FormatTimm:
		p, err = loadTimm(ctx, path)
	case FormatJAX:
		p, err = loadJAX(ctx, path)
	case FormatOpenCLIP:
		p, err = loadOpenCLIP(ctx, path)
	default:
		var m *vit.Model
		m, err = loadVit(ctx, path)
		p = &Pretrained{Model: m, Format: FormatVit}
	}
	if err != nil {
		return nil, err
	}
	if p.Headless {
		p.Model.Config.Headless = true
	}
	return p, nil
}

// Detect names the format of the checkpoint at path (a folder or a file):
// FormatVit, FormatHF, FormatTimm, FormatJAX or FormatOpenCLIP. A folder
// with open_clip_config.json is OpenCLIP's. It looks at config.json
// (model_type or hidden_size: Hugging Face; architecture: timm), then at
// the weights: an .npz archive is JAX; a safetensors file is ours when its
// metadata holds our config, else, like a PyTorch checkpoint
// (pytorch_model.bin, .pt, .pth), Hugging Face or timm by its tensor names.
// A path it cannot classify is reported as FormatVit, whose loader gives
// the detailed error.
func Detect(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("loading model: %w", err)
	}
	dir, file := path, ""
	if !st.IsDir() {
		dir, file = filepath.Dir(path), path
	} else if _, err := os.Stat(filepath.Join(path, RunStateFile)); err == nil {
		return FormatVit, nil
	}
	if openCLIPDir(dir) {
		return FormatOpenCLIP, nil
	}
	if file == "" || filepath.Base(file) == WeightsFile || strings.HasSuffix(file, ".index.json") {
		if f := configFormat(filepath.Join(dir, ConfigFile)); f != "" {
			return f, nil
		}
	}
	if file == "" {
		if _, err := os.Stat(filepath.Join(dir, WeightsFile)); err == nil {
			file = filepath.Join(dir, WeightsFile)
		} else if _, err := os.Stat(filepath.Join(dir, torchWeightsFile)); err == nil {
			file = filepath.Join(dir, torchWeightsFile)
		} else if npzs, _ := filepath.Glob(filepath.Join(dir, "*.npz")); len(npzs) == 1 {
			return FormatJAX, nil
		} else {
			return FormatVit, nil
		}
	}
	if isTorchFile(file) {
		f, err := torchbin.Open(file)
		if err != nil {
			return "", fmt.Errorf("loading model: %w", err)
		}
		defer f.Close()
		return formatByNames(f.Names()), nil
	}
	if isZip(file) {
		return FormatJAX, nil
	}
	f, err := safetensors.Open(file)
	if err != nil {
		return FormatVit, nil
	}
	defer f.Close()
	if _, ok := f.Metadata()[configKey]; ok {
		return FormatVit, nil
	}
	return formatByNames(f.Names()), nil
}

// formatByNames tells Hugging Face from timm tensor names (FormatVit when
// neither).
func formatByNames(names []string) string {
	for _, n := range names {
		switch {
		case strings.HasPrefix(n, "vit.embeddings.") || strings.HasPrefix(n, "embeddings.patch_embeddings.") || strings.HasPrefix(n, "vision_model.embeddings."):
			return FormatHF
		case n == "patch_embed.proj.weight":
			return FormatTimm
		case n == "visual.conv1.weight":
			return FormatOpenCLIP
		}
	}
	return FormatVit
}

// isTorchFile reports whether path names a PyTorch checkpoint by its
// extension (.bin, .pt, .pth), as openTensorFile reads it.
func isTorchFile(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".bin", ".pt", ".pth":
		return true
	}
	return false
}

// configFormat classifies a config.json by its keys ("" if unreadable or
// ours).
func configFormat(path string) string {
	b, err := readConfig(path)
	if err != nil {
		return ""
	}
	var keys map[string]json.RawMessage
	if json.Unmarshal(b, &keys) != nil {
		return ""
	}
	_, mt := keys["model_type"]
	_, hs := keys["hidden_size"]
	_, arch := keys["architecture"]
	switch {
	case mt || hs:
		return FormatHF
	case arch:
		return FormatTimm
	}
	return ""
}

// isZip reports whether the file starts like a zip archive (an .npz).
func isZip(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var magic [4]byte
	n, _ := f.Read(magic[:])
	return n == 4 && bytes.Equal(magic[:], []byte("PK\x03\x04")) || strings.HasSuffix(path, ".npz")
}

// newModel allocates a model for c whose tensors the loaders overwrite.
func newModel(c vit.Config, path string) (*vit.Model, error) {
	m, err := vit.New(c, 0)
	if err != nil {
		return nil, fmt.Errorf("loading model %s: %w", path, err)
	}
	return m, nil
}

// set copies data into p (a no-op for nil data: the reader has an error).
func set(p *nn.Param, data []float32) {
	if p != nil && data != nil {
		copy(p.Data, data)
	}
}

// defaultHeads gives the head count of the standard ViT widths (head
// dimension 64, as timm and the paper's Ti, S, B and L; 80 for H/14, 88
// for g/14) when no configuration names it.
func defaultHeads(dim int) (int, bool) {
	h, ok := map[int]int{192: 3, 384: 6, 512: 8, 768: 12, 1024: 16, 1280: 16, 1408: 16, 1536: 24, 1664: 16}[dim]
	return h, ok
}

// squareGrid returns g with g·g = n, or 0.
func squareGrid(n int) int {
	g := int(math.Round(math.Sqrt(float64(n))))
	if g > 0 && g*g == n {
		return g
	}
	return 0
}
