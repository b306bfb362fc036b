package checkpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/nn"
)

// Hugging Face file names.
const (
	hfIndexFile        = "model.safetensors.index.json"
	torchWeightsFile   = "pytorch_model.bin"
	torchIndexFile     = "pytorch_model.bin.index.json"
	hfPreprocessorFile = "preprocessor_config.json"
)

// hfConfig is the part of transformers' ViTConfig the loader reads.
// Pointers and raw values tell absent fields, which take ViTConfig's
// defaults, from zeros.
type hfConfig struct {
	ModelType         string            `json:"model_type"`
	Architectures     []string          `json:"architectures"`
	HiddenSize        *int              `json:"hidden_size"`
	NumHiddenLayers   *int              `json:"num_hidden_layers"`
	NumAttentionHeads *int              `json:"num_attention_heads"`
	IntermediateSize  *int              `json:"intermediate_size"`
	HiddenAct         *string           `json:"hidden_act"`
	ImageSize         json.RawMessage   `json:"image_size"`
	PatchSize         json.RawMessage   `json:"patch_size"`
	NumChannels       *int              `json:"num_channels"`
	QKVBias           *bool             `json:"qkv_bias"`
	LayerNormEps      *float64          `json:"layer_norm_eps"`
	ID2Label          map[string]string `json:"id2label"`
	NumLabels         *int              `json:"num_labels"`
}

// hfPreprocessor is the part of ViTImageProcessor's preprocessor_config.json
// the loader reads.
type hfPreprocessor struct {
	DoNormalize *bool     `json:"do_normalize"`
	ImageMean   []float32 `json:"image_mean"`
	ImageStd    []float32 `json:"image_std"`
	Resample    *int      `json:"resample"`
}

// pillowFilters are Pillow's resampling filter numbers ("resample" in
// transformers' image processors) by name.
var pillowFilters = []string{0: "nearest", 1: "lanczos", 2: "bilinear", 3: "bicubic", 4: "box", 5: "hamming"}

// orDefault returns *p, or def when p is nil.
func orDefault[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// sizePair reads an int or an [h, w] pair (absent: def×def).
func sizePair(raw json.RawMessage, def int, field string) (int, int, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return def, def, nil
	}
	var n int
	if json.Unmarshal(raw, &n) == nil {
		return n, n, nil
	}
	var hw []int
	if json.Unmarshal(raw, &hw) == nil && len(hw) == 2 {
		return hw[0], hw[1], nil
	}
	return 0, 0, fmt.Errorf("%s is %s, want a number or [height, width]", field, raw)
}

func loadHF(ctx context.Context, path string) (*Pretrained, error) {
	dir := path
	if st, err := os.Stat(path); err == nil && !st.IsDir() {
		dir = filepath.Dir(path)
	}
	cfgPath := filepath.Join(dir, ConfigFile)
	b, err := readConfig(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("loading Hugging Face model %s: %w (a Hugging Face checkpoint needs its config.json)", path, err)
	}
	var hc hfConfig
	if err := json.Unmarshal(b, &hc); err != nil {
		return nil, fmt.Errorf("loading Hugging Face model: %s: %w", cfgPath, err)
	}
	if hfEncoderTypes[hc.ModelType] {
		return loadHFEncoder(ctx, path, dir, cfgPath, b)
	}
	if hc.ModelType != "" && hc.ModelType != "vit" {
		return nil, fmt.Errorf("loading Hugging Face model %s: model_type %q is not supported (vit, deit, dinov2, dinov2_with_registers, clip, clip_vision_model, siglip and siglip_vision_model are)", path, hc.ModelType)
	}
	if act := orDefault(hc.HiddenAct, "gelu"); act != "gelu" {
		return nil, fmt.Errorf("loading Hugging Face model %s: hidden_act %q is not supported (only the exact \"gelu\")", path, act)
	}
	ih, iw, err := sizePair(hc.ImageSize, 224, "image_size")
	if err != nil {
		return nil, fmt.Errorf("loading Hugging Face model %s: %w", path, err)
	}
	ph, pw, err := sizePair(hc.PatchSize, 16, "patch_size")
	if err != nil {
		return nil, fmt.Errorf("loading Hugging Face model %s: %w", path, err)
	}
	if ph != pw {
		return nil, fmt.Errorf("loading Hugging Face model %s: patch %d×%d is not square", path, ph, pw)
	}

	weights, err := weightsFile(path)
	if err != nil {
		return nil, fmt.Errorf("loading Hugging Face model: %w", err)
	}
	src, err := openWeights(weights)
	if err != nil {
		return nil, fmt.Errorf("loading Hugging Face model: %w", err)
	}
	defer src.close()
	r := newReader(ctx, src, weights)

	prefix := ""
	switch {
	case r.has("vit.embeddings.cls_token"):
		prefix = "vit."
	case r.has("embeddings.cls_token"):
	default:
		return nil, fmt.Errorf("loading Hugging Face model %s: no vit.embeddings.cls_token or embeddings.cls_token: not a ViT checkpoint", weights)
	}

	c := hc.vitConfig(ih, iw, ph, 1e-12)
	p := &Pretrained{Format: FormatHF}
	labels, err := hfLabels(hc.ID2Label)
	if err != nil {
		return nil, fmt.Errorf("loading Hugging Face model %s: %w", cfgPath, err)
	}
	if sh, ok := src.shape("classifier.weight"); ok {
		if len(sh) != 2 {
			return nil, fmt.Errorf("loading Hugging Face model %s: tensor \"classifier.weight\" has shape %v, expected [classes %d]", weights, sh, c.Dim)
		}
		c.Classes = sh[0]
	} else {
		p.Headless = true
		c.Classes = max(len(labels), 1)
		p.note("no classifier in the checkpoint (a ViTModel): the head is zeros with %d classes; train or replace it", c.Classes)
	}
	if labels != nil {
		if len(labels) != c.Classes {
			return nil, fmt.Errorf("loading Hugging Face model %s: id2label has %d labels but the classifier has %d outputs", path, len(labels), c.Classes)
		}
		if !generic(labels) {
			c.Labels = labels
		}
	}
	if hc.NumLabels != nil && *hc.NumLabels != c.Classes && !p.Headless {
		return nil, fmt.Errorf("loading Hugging Face model %s: num_labels is %d but the classifier has %d outputs", path, *hc.NumLabels, c.Classes)
	}
	if err := hfReadPreprocessor(dir, &c, p); err != nil {
		return nil, err
	}
	// Check the config against the weights before allocating its model.
	if err := fitsWeights(c, sourceValues(src), "loading Hugging Face model: "+cfgPath); err != nil {
		return nil, err
	}
	r.check(prefix+"embeddings.cls_token", c.Dim)
	r.check(prefix+"embeddings.patch_embeddings.projection.weight", c.Dim, c.Channels, c.Patch, c.Patch)
	r.check(prefix+"embeddings.position_embeddings", c.Tokens(), c.Dim)
	r.checkDepth(prefix+"encoder.layer.%d.layernorm_before.weight", c.Depth, "num_hidden_layers")
	r.check(prefix+"encoder.layer.0.intermediate.dense.weight", c.MLPDim, c.Dim)
	if r.err != nil {
		return nil, r.err
	}
	m, err := newModel(c, path)
	if err != nil {
		return nil, err
	}
	p.Model = m

	d := c.Dim
	loadHFEmbeddings(r, m, prefix+"embeddings.")
	loadBlocks(r, m, prefix+"encoder.layer.%d", hfViTBlock)
	setNorm(r, m.Norm, prefix+"layernorm")
	if !p.Headless {
		setLinear(r, m.Head, "classifier")
	}
	for _, pp := range []string{prefix + "pooler.dense", "pooler.dense"} {
		if r.has(pp+".weight") && p.Pooler == nil {
			p.Pooler = nn.NewLinear("pooler.dense", d, d, true)
			setLinear(r, p.Pooler, pp)
			p.note("kept the ViTModel pooler (tanh dense on the class token) beside the model; classification does not use it")
		}
	}
	if err := r.unused(nil); err != nil {
		return nil, err
	}
	return p, nil
}

// vitConfig is the model of a ViTConfig-like config (transformers' defaults
// for absent fields; eps the LayerNorm epsilon's) for ih×iw images in
// patches of patch.
func (hc hfConfig) vitConfig(ih, iw, patch int, eps float64) vit.Config {
	return vit.Config{
		ImageHeight: ih, ImageWidth: iw, Patch: patch,
		Channels:     orDefault(hc.NumChannels, 3),
		Dim:          orDefault(hc.HiddenSize, 768),
		Depth:        orDefault(hc.NumHiddenLayers, 12),
		Heads:        orDefault(hc.NumAttentionHeads, 12),
		MLPDim:       orDefault(hc.IntermediateSize, 3072),
		NoQKVBias:    !orDefault(hc.QKVBias, true),
		LayerNormEps: float32(orDefault(hc.LayerNormEps, eps)),
	}
}

// loadHFEmbeddings reads the class token, the position embeddings and the
// patch projection of transformers' ViT-like embeddings (prefix e).
func loadHFEmbeddings(r *reader, m *vit.Model, e string) {
	c := m.Config
	d := c.Dim
	set(m.ClassToken, r.get(e+"cls_token", d))
	set(m.PosEmbed, r.get(e+"position_embeddings", c.PosTokens(), d))
	set(m.PatchEmbed.W, r.get(e+"patch_embeddings.projection.weight", d, c.Channels, c.Patch, c.Patch))
	set(m.PatchEmbed.B, r.get(e+"patch_embeddings.projection.bias", d))
}

// hfLabels orders id2label by id; ids must be 0…n−1.
func hfLabels(id2label map[string]string) ([]string, error) {
	if len(id2label) == 0 {
		return nil, nil
	}
	labels := make([]string, len(id2label))
	seen := make([]bool, len(id2label))
	for k, v := range id2label {
		i, err := strconv.Atoi(k)
		if err != nil || i < 0 || i >= len(labels) || seen[i] {
			return nil, fmt.Errorf("id2label key %q is not one of 0…%d", k, len(labels)-1)
		}
		labels[i], seen[i] = v, true
	}
	return labels, nil
}

// generic reports transformers' placeholder labels LABEL_0, LABEL_1, …
func generic(labels []string) bool {
	for i, l := range labels {
		if l != "LABEL_"+strconv.Itoa(i) {
			return false
		}
	}
	return true
}

// hfReadPreprocessor takes the normalisation from preprocessor_config.json.
func hfReadPreprocessor(dir string, c *vit.Config, p *Pretrained) error {
	path := filepath.Join(dir, hfPreprocessorFile)
	b, err := readConfig(path)
	if errors.Is(err, fs.ErrNotExist) {
		p.note("no %s: normalisation unknown (ViTImageProcessor's default is mean 0.5, std 0.5)", hfPreprocessorFile)
		return nil
	}
	if err != nil {
		return err
	}
	var pp hfPreprocessor
	if err := json.Unmarshal(b, &pp); err != nil {
		return fmt.Errorf("loading Hugging Face model: %s: %w", path, err)
	}
	if r := orDefault(pp.Resample, 2); r >= 0 && r < len(pillowFilters) {
		c.Resample = pillowFilters[r]
	} else {
		return fmt.Errorf("loading Hugging Face model: %s: unknown resample filter %d", path, r)
	}
	if !orDefault(pp.DoNormalize, true) {
		return nil
	}
	mean, std := pp.ImageMean, pp.ImageStd
	if mean == nil && std == nil {
		mean, std = []float32{0.5, 0.5, 0.5}, []float32{0.5, 0.5, 0.5}
	}
	return setNormalisation(c, mean, std, path)
}

// setNormalisation stores mean and std, given per channel (three values
// for a grey model are averaged, as converting the image to grey would).
func setNormalisation(c *vit.Config, mean, std []float32, where string) error {
	if len(mean) != len(std) || len(mean) == 0 {
		return fmt.Errorf("loading model: %s: %d means and %d standard deviations", where, len(mean), len(std))
	}
	if len(mean) == 1 && c.Channels == 3 {
		mean = []float32{mean[0], mean[0], mean[0]}
		std = []float32{std[0], std[0], std[0]}
	}
	if len(mean) != c.Channels {
		return fmt.Errorf("loading model: %s: normalisation for %d channels, the model has %d", where, len(mean), c.Channels)
	}
	for _, s := range std {
		if !(s > 0) {
			return fmt.Errorf("loading model: %s: standard deviation %v is not positive", where, s)
		}
	}
	c.Mean, c.Std = mean, std
	return nil
}

// setLinear reads name.weight ([out, in]) and name.bias into l.
func setLinear(r *reader, l *nn.Linear, name string) {
	set(l.W, r.get(name+".weight", l.Out, l.In))
	if l.B != nil {
		set(l.B, r.get(name+".bias", l.Out))
	}
}

// setNorm reads name.weight and name.bias into ln.
func setNorm(r *reader, ln *nn.LayerNorm, name string) {
	set(ln.G, r.get(name+".weight", ln.Dim))
	set(ln.B, r.get(name+".bias", ln.Dim))
}

func copyInto(dst, src []float32) {
	if src != nil {
		copy(dst, src)
	}
}

// weightsFile finds a Hugging Face or timm checkpoint's weights: path
// itself when it names a weights file, else the first of model.safetensors,
// model.safetensors.index.json (shards), pytorch_model.bin and
// pytorch_model.bin.index.json in its folder.
func weightsFile(path string) (string, error) {
	dir := path
	if st, err := os.Stat(path); err == nil && !st.IsDir() {
		if !strings.HasSuffix(path, ConfigFile) {
			return path, nil
		}
		dir = filepath.Dir(path)
	}
	for _, name := range []string{WeightsFile, hfIndexFile, torchWeightsFile, torchIndexFile} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: no %s, %s, %s or %s", path, WeightsFile, hfIndexFile, torchWeightsFile, torchIndexFile)
}

// openWeights opens a weights file or the shards its index lists.
func openWeights(weights string) (*stSource, error) {
	if strings.HasSuffix(weights, ".index.json") {
		return openSharded(weights)
	}
	return openSafetensors(weights)
}
