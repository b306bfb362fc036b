package text

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vitgo/vit/checkpoint"
	"github.com/vitgo/vit/internal/boundedread"
)

// Hugging Face file names.
const (
	ConfigFile      = "config.json"
	maxConfigBytes  = 64 << 20
	logitScaleName  = "logit_scale"
	logitBiasName   = "logit_bias"
	projectionName  = "text_projection.weight"
	textPrefix      = "text_model."
	positionIDsName = "text_model.embeddings.position_ids"
)

// hfTextConfig is the part of transformers' CLIPTextConfig and
// SiglipTextConfig the loader reads; nil fields take their defaults.
type hfTextConfig struct {
	ModelType         string   `json:"model_type"`
	VocabSize         *int     `json:"vocab_size"`
	HiddenSize        *int     `json:"hidden_size"`
	IntermediateSize  *int     `json:"intermediate_size"`
	NumHiddenLayers   *int     `json:"num_hidden_layers"`
	NumAttentionHeads *int     `json:"num_attention_heads"`
	MaxPositions      *int     `json:"max_position_embeddings"`
	HiddenAct         *string  `json:"hidden_act"`
	LayerNormEps      *float64 `json:"layer_norm_eps"`
	ProjectionSize    *int     `json:"projection_size"` // SigLIP's head
	EOSTokenID        *int     `json:"eos_token_id"`
}

// hfConfig is the top of a config.json: a CLIPConfig or SiglipConfig
// (text_config inside) or a text model's own config.
type hfConfig struct {
	hfTextConfig
	TextConfig    *hfTextConfig `json:"text_config"`
	ProjectionDim *int          `json:"projection_dim"` // CLIPConfig's, or CLIPTextConfig's in a text model's own config
}

func orDefault[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// ParseConfig reads a Hugging Face config.json of a CLIPModel,
// CLIPTextModel(WithProjection), SiglipModel or SiglipTextModel into the
// text tower's Config. Out is the config's projection width; the loader
// takes it from the weights (0 when they hold no projection). The config
// is validated.
func ParseConfig(b []byte) (Config, error) {
	var hc hfConfig
	if err := json.Unmarshal(b, &hc); err != nil {
		return Config{}, err
	}
	tc := hc.hfTextConfig
	var c Config
	switch hc.ModelType {
	case "clip", "siglip":
		if hc.TextConfig != nil {
			tc = *hc.TextConfig
		} else {
			tc = hfTextConfig{}
		}
	case "clip_text_model", "siglip_text_model":
	case "":
		return Config{}, fmt.Errorf("no model_type: not a Hugging Face CLIP or SigLIP config")
	default:
		return Config{}, fmt.Errorf("model_type %q has no text tower here (valid: clip, clip_text_model, siglip, siglip_text_model)", hc.ModelType)
	}
	if strings.HasPrefix(hc.ModelType, "siglip") {
		dim := orDefault(tc.HiddenSize, 768)
		c = Config{
			Kind: SigLIP, Vocab: orDefault(tc.VocabSize, 32000), Positions: orDefault(tc.MaxPositions, 64),
			Dim: dim, Depth: orDefault(tc.NumHiddenLayers, 12), Heads: orDefault(tc.NumAttentionHeads, 12),
			MLPDim: orDefault(tc.IntermediateSize, 3072), Act: orDefault(tc.HiddenAct, ActGELUTanh),
			Eps: float32(orDefault(tc.LayerNormEps, 1e-6)), Out: orDefault(tc.ProjectionSize, dim),
		}
	} else {
		out := orDefault(hc.ProjectionDim, 512)
		c = Config{
			Kind: CLIP, Vocab: orDefault(tc.VocabSize, 49408), Positions: orDefault(tc.MaxPositions, 77),
			Dim: orDefault(tc.HiddenSize, 512), Depth: orDefault(tc.NumHiddenLayers, 12), Heads: orDefault(tc.NumAttentionHeads, 8),
			MLPDim: orDefault(tc.IntermediateSize, 2048), Act: orDefault(tc.HiddenAct, ActQuickGELU),
			Eps: float32(orDefault(tc.LayerNormEps, 1e-5)), Out: out, EOS: orDefault(tc.EOSTokenID, 49407),
		}
	}
	if c.Act == "gelu_new" {
		c.Act = ActGELUTanh
	}
	return c, c.Validate()
}

// Load reads the text tower of the Hugging Face model in dir (a folder
// with config.json and model.safetensors, its shards, or
// pytorch_model.bin). Every tensor's shape is checked against the config
// before the model is allocated, so a config cannot make it allocate more
// than the weights hold.
func Load(ctx context.Context, dir string) (*Model, error) {
	cfgPath := filepath.Join(dir, ConfigFile)
	b, err := boundedread.File(cfgPath, maxConfigBytes)
	if err != nil {
		return nil, fmt.Errorf("loading text tower: %w (a Hugging Face model needs its %s)", err, ConfigFile)
	}
	c, err := ParseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("loading text tower: %s: %w", cfgPath, err)
	}
	t, err := checkpoint.OpenTensors(dir)
	if err != nil {
		return nil, fmt.Errorf("loading text tower: %w", err)
	}
	defer t.Close()
	return load(ctx, c, weights{t})
}

func load(ctx context.Context, c Config, w weights) (*Model, error) {
	d := c.Dim
	p := textPrefix
	// The projection: its presence and width come from the weights.
	projName := projectionName
	if c.Kind == SigLIP {
		projName = p + "head.weight"
	}
	if sh, ok := w.shape(projName); ok {
		if len(sh) != 2 || sh[1] != d {
			return nil, fmt.Errorf("loading text tower: %s has shape %v, want [out, %d]", projName, sh, d)
		}
		if sh[0] != c.Out {
			return nil, fmt.Errorf("loading text tower: %s has %d outputs, the config says %d", projName, sh[0], c.Out)
		}
	} else if c.Kind == SigLIP {
		return nil, fmt.Errorf("loading text tower: no %s in the weights: not a SigLIP text model", projName)
	} else {
		c.Out = 0
	}
	if !w.has(p + "embeddings.token_embedding.weight") {
		return nil, fmt.Errorf("loading text tower: no %sembeddings.token_embedding.weight in the weights: not a CLIP or SigLIP model with a text tower", p)
	}
	// Every shape, before anything is allocated.
	want := map[string][]int{
		p + "embeddings.token_embedding.weight":    {c.Vocab, d},
		p + "embeddings.position_embedding.weight": {c.Positions, d},
		p + "final_layer_norm.weight":              {d},
		p + "final_layer_norm.bias":                {d},
	}
	if c.Out > 0 {
		want[projName] = []int{c.Out, d}
		if c.Kind == SigLIP {
			want[p+"head.bias"] = []int{c.Out}
		}
	}
	if n := w.layers(p+"encoder.layers.%d.layer_norm1.weight", c.Depth); n != c.Depth {
		return nil, fmt.Errorf("loading text tower: the config says %d layers, the weights hold %d", c.Depth, n)
	}
	for i := range c.Depth {
		l := fmt.Sprintf("%sencoder.layers.%d.", p, i)
		for _, n := range []string{"layer_norm1", "layer_norm2"} {
			want[l+n+".weight"], want[l+n+".bias"] = []int{d}, []int{d}
		}
		for _, n := range []string{"q_proj", "k_proj", "v_proj", "out_proj"} {
			want[l+"self_attn."+n+".weight"], want[l+"self_attn."+n+".bias"] = []int{d, d}, []int{d}
		}
		want[l+"mlp.fc1.weight"], want[l+"mlp.fc1.bias"] = []int{c.MLPDim, d}, []int{c.MLPDim}
		want[l+"mlp.fc2.weight"], want[l+"mlp.fc2.bias"] = []int{d, c.MLPDim}, []int{d}
	}
	for name, sh := range want {
		got, ok := w.shape(name)
		if !ok {
			return nil, fmt.Errorf("loading text tower: tensor %q is missing", name)
		}
		if !slices.Equal(got, sh) {
			return nil, fmt.Errorf("loading text tower: tensor %q has shape %v, the config wants %v", name, got, sh)
		}
	}
	for _, name := range w.names() {
		if strings.HasPrefix(name, p) && want[name] == nil && name != positionIDsName {
			return nil, fmt.Errorf("loading text tower: unexpected tensor %q (not part of the text tower this loader understands)", name)
		}
	}
	m, err := New(c)
	if err != nil {
		return nil, fmt.Errorf("loading text tower: %w", err)
	}
	r := &reader{ctx: ctx, w: w}
	r.into(m.TokenEmbed.Data, p+"embeddings.token_embedding.weight")
	r.into(m.PosEmbed.Data, p+"embeddings.position_embedding.weight")
	for i, blk := range m.Blocks {
		l := fmt.Sprintf("%sencoder.layers.%d.", p, i)
		r.into(blk.Norm1.G.Data, l+"layer_norm1.weight")
		r.into(blk.Norm1.B.Data, l+"layer_norm1.bias")
		for j, n := range []string{"q_proj", "k_proj", "v_proj"} {
			r.into(blk.QKV.W.Data[j*d*d:(j+1)*d*d], l+"self_attn."+n+".weight")
			r.into(blk.QKV.B.Data[j*d:(j+1)*d], l+"self_attn."+n+".bias")
		}
		r.into(blk.Proj.W.Data, l+"self_attn.out_proj.weight")
		r.into(blk.Proj.B.Data, l+"self_attn.out_proj.bias")
		r.into(blk.Norm2.G.Data, l+"layer_norm2.weight")
		r.into(blk.Norm2.B.Data, l+"layer_norm2.bias")
		r.into(blk.FC1.W.Data, l+"mlp.fc1.weight")
		r.into(blk.FC1.B.Data, l+"mlp.fc1.bias")
		r.into(blk.FC2.W.Data, l+"mlp.fc2.weight")
		r.into(blk.FC2.B.Data, l+"mlp.fc2.bias")
	}
	r.into(m.Norm.G.Data, p+"final_layer_norm.weight")
	r.into(m.Norm.B.Data, p+"final_layer_norm.bias")
	if m.Proj != nil {
		r.into(m.Proj.W.Data, projName)
		if m.Proj.B != nil {
			r.into(m.Proj.B.Data, p+"head.bias")
		}
	}
	if w.has(logitScaleName) {
		m.LogitScale, m.HasLogits = r.scalar(logitScaleName), true
		if c.Kind == SigLIP {
			m.LogitBias = r.scalar(logitBiasName)
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	return m, nil
}

// reader copies tensors into a model, remembering the first error.
type reader struct {
	ctx context.Context
	w   weights
	err error
}

func (r *reader) into(dst []float32, name string) {
	if r.err != nil {
		return
	}
	if err := r.ctx.Err(); err != nil {
		r.err = fmt.Errorf("loading text tower: %w", err)
		return
	}
	v, err := r.w.read(name)
	if err == nil && len(v) != len(dst) {
		err = fmt.Errorf("%d values, want %d", len(v), len(dst))
	}
	if err != nil {
		r.err = fmt.Errorf("loading text tower: tensor %q: %w", name, err)
		return
	}
	copy(dst, v)
}

// scalar reads a tensor of one finite value (shape [] or [1]).
func (r *reader) scalar(name string) float32 {
	if r.err != nil {
		return 0
	}
	sh, ok := r.w.shape(name)
	if !ok {
		r.err = fmt.Errorf("loading text tower: tensor %q is missing", name)
		return 0
	}
	if n := product(sh); n != 1 {
		r.err = fmt.Errorf("loading text tower: tensor %q has shape %v, want one value", name, sh)
		return 0
	}
	var v [1]float32
	r.into(v[:], name)
	if r.err == nil && (math.IsNaN(float64(v[0])) || math.IsInf(float64(v[0]), 0)) {
		r.err = fmt.Errorf("loading text tower: %s is %v", name, v[0])
	}
	return v[0]
}

func product(sh []int) int {
	n := 1
	for _, d := range sh {
		if d < 0 || (d > 0 && n > math.MaxInt32/d) {
			return -1
		}
		n *= d
	}
	return n
}

// weights are a checkpoint's tensors.
type weights struct{ *checkpoint.Tensors }

func (w weights) has(name string) bool                { _, ok := w.Shape(name); return ok }
func (w weights) shape(name string) ([]int, bool)     { return w.Shape(name) }
func (w weights) read(name string) ([]float32, error) { return w.Float32(name) }
func (w weights) names() []string                     { return w.Names() }

// layers counts the consecutive layers 0, 1, … named by format, up to
// limit+1.
func (w weights) layers(format string, limit int) int {
	n := 0
	for n <= limit && w.has(fmt.Sprintf(format, n)) {
		n++
	}
	return n
}
