package text

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vitgo/vit/checkpoint"
	"github.com/vitgo/vit/internal/boundedread"
	"github.com/vitgo/vit/nn"
)

// Hugging Face file names.
const (
	ConfigFile     = "config.json"
	maxConfigBytes = 64 << 20
	logitScaleName = "logit_scale"
	logitBiasName  = "logit_bias"
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
	TextConfigOld *hfTextConfig `json:"text_config_dict"` // configs written before transformers 4.27
	ProjectionDim *int          `json:"projection_dim"`   // CLIPConfig's, or CLIPTextConfig's in a text model's own config
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
		if hc.TextConfig == nil {
			hc.TextConfig = hc.TextConfigOld
		}
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

// Load reads the text tower of the model in dir: a Hugging Face folder
// (config.json and model.safetensors, its shards, or pytorch_model.bin),
// or an OpenCLIP one (open_clip_config.json and
// open_clip_model.safetensors or open_clip_pytorch_model.bin; see
// LoadOpenCLIP). Every tensor's shape is checked against the config
// before the model is allocated, so a config cannot make it allocate more
// than the weights hold.
func Load(ctx context.Context, dir string) (*Model, error) {
	cfgPath := filepath.Join(dir, ConfigFile)
	b, err := boundedread.File(cfgPath, maxConfigBytes)
	if errors.Is(err, fs.ErrNotExist) {
		if _, err := os.Stat(filepath.Join(dir, checkpoint.OpenCLIPConfigFile)); err == nil {
			return LoadOpenCLIP(ctx, dir)
		}
	}
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
	return load(ctx, c, weights{t}, hfLayout(c.Kind))
}

// layout names a checkpoint's tensors of a text tower.
type layout struct {
	tokenEmbed, posEmbed, finalNorm string
	layer                           string // the prefix of layer %d
	norm1, norm2, fc1, fc2, outProj string // within a layer
	q, k, v                         string // separate projections, or
	qkv                             string // one stacked [3·dim, dim] projection
	proj                            string // the output projection's weight
	projBias                        string // its bias, or ""
	projTransposed                  bool   // proj is stored [dim, out] (used as x·P)
	own                             string // the prefix of the tower's names: others are left alone
	ignore                          []string
}

// hfLayout is transformers' CLIPTextModel / SiglipTextModel naming.
func hfLayout(k Kind) layout {
	l := layout{
		tokenEmbed: "text_model.embeddings.token_embedding.weight", posEmbed: "text_model.embeddings.position_embedding.weight",
		finalNorm: "text_model.final_layer_norm", layer: "text_model.encoder.layers.%d.",
		norm1: "layer_norm1", norm2: "layer_norm2", fc1: "mlp.fc1", fc2: "mlp.fc2", outProj: "self_attn.out_proj",
		q: "self_attn.q_proj", k: "self_attn.k_proj", v: "self_attn.v_proj",
		proj: "text_projection.weight", own: "text_model.", ignore: []string{"text_model.embeddings.position_ids"},
	}
	if k == SigLIP {
		l.proj, l.projBias = "text_model.head.weight", "text_model.head.bias"
	}
	return l
}

// tensorSpec is one tensor to read: its name, shape and destination.
type tensorSpec struct {
	name  string
	shape []int
	dst   func(m *Model) []float32
}

// specs lists every tensor of a tower of config c in layout l.
func (l layout) specs(c Config) []tensorSpec {
	d := c.Dim
	var s []tensorSpec
	add := func(name string, dst func(m *Model) []float32, shape ...int) {
		s = append(s, tensorSpec{name, shape, dst})
	}
	norm := func(name string, ln func(m *Model) *nn.LayerNorm) {
		add(name+".weight", func(m *Model) []float32 { return ln(m).G.Data }, d)
		add(name+".bias", func(m *Model) []float32 { return ln(m).B.Data }, d)
	}
	linear := func(name string, lin func(m *Model) *nn.Linear, out, in int) {
		add(name+".weight", func(m *Model) []float32 { return lin(m).W.Data }, out, in)
		add(name+".bias", func(m *Model) []float32 { return lin(m).B.Data }, out)
	}
	add(l.tokenEmbed, func(m *Model) []float32 { return m.TokenEmbed.Data }, c.Vocab, d)
	add(l.posEmbed, func(m *Model) []float32 { return m.PosEmbed.Data }, c.Positions, d)
	for i := range c.Depth {
		p := fmt.Sprintf(l.layer, i)
		blk := func(m *Model) *Block { return m.Blocks[i] }
		norm(p+l.norm1, func(m *Model) *nn.LayerNorm { return blk(m).Norm1 })
		if l.qkv != "" {
			add(p+l.qkv+"_weight", func(m *Model) []float32 { return blk(m).QKV.W.Data }, 3*d, d)
			add(p+l.qkv+"_bias", func(m *Model) []float32 { return blk(m).QKV.B.Data }, 3*d)
		} else {
			for j, n := range []string{l.q, l.k, l.v} {
				add(p+n+".weight", func(m *Model) []float32 { return blk(m).QKV.W.Data[j*d*d : (j+1)*d*d] }, d, d)
				add(p+n+".bias", func(m *Model) []float32 { return blk(m).QKV.B.Data[j*d : (j+1)*d] }, d)
			}
		}
		linear(p+l.outProj, func(m *Model) *nn.Linear { return blk(m).Proj }, d, d)
		norm(p+l.norm2, func(m *Model) *nn.LayerNorm { return blk(m).Norm2 })
		linear(p+l.fc1, func(m *Model) *nn.Linear { return blk(m).FC1 }, c.MLPDim, d)
		linear(p+l.fc2, func(m *Model) *nn.Linear { return blk(m).FC2 }, d, c.MLPDim)
	}
	norm(l.finalNorm, func(m *Model) *nn.LayerNorm { return m.Norm })
	if c.Out > 0 {
		shape := []int{c.Out, d}
		if l.projTransposed {
			shape = []int{d, c.Out}
		}
		add(l.proj, func(m *Model) []float32 { return m.Proj.W.Data }, shape...)
		if l.projBias != "" {
			add(l.projBias, func(m *Model) []float32 { return m.Proj.B.Data }, c.Out)
		}
	}
	return s
}

func load(ctx context.Context, c Config, w weights, l layout) (*Model, error) {
	d := c.Dim
	// The projection: its presence and width come from the weights.
	if sh, ok := w.shape(l.proj); ok {
		out, in := 0, 0
		if len(sh) == 2 {
			out, in = sh[0], sh[1]
			if l.projTransposed {
				out, in = in, out
			}
		}
		if in != d {
			return nil, fmt.Errorf("loading text tower: %s has shape %v, want an output projection of width %d", l.proj, sh, d)
		}
		if out != c.Out {
			return nil, fmt.Errorf("loading text tower: %s has %d outputs, the config says %d", l.proj, out, c.Out)
		}
	} else if c.Kind == SigLIP {
		return nil, fmt.Errorf("loading text tower: no %s in the weights: not a SigLIP text model", l.proj)
	} else {
		c.Out = 0
	}
	if !w.has(l.tokenEmbed) {
		return nil, fmt.Errorf("loading text tower: no %s in the weights: not a CLIP or SigLIP model with a text tower", l.tokenEmbed)
	}
	if n := w.layers(l.layer+l.norm1+".weight", c.Depth); n != c.Depth {
		return nil, fmt.Errorf("loading text tower: the config says %d layers, the weights hold %d", c.Depth, n)
	}
	// Every shape, before anything is allocated.
	specs := l.specs(c)
	named := map[string]bool{}
	for _, s := range specs {
		named[s.name] = true
		got, ok := w.shape(s.name)
		if !ok {
			return nil, fmt.Errorf("loading text tower: tensor %q is missing", s.name)
		}
		if !slices.Equal(got, s.shape) {
			return nil, fmt.Errorf("loading text tower: tensor %q has shape %v, the config wants %v", s.name, got, s.shape)
		}
	}
	for _, name := range w.names() {
		if l.owns(name) && !named[name] && !slices.Contains(l.ignore, name) {
			return nil, fmt.Errorf("loading text tower: unexpected tensor %q (not part of the text tower this loader understands)", name)
		}
	}
	m, err := New(c)
	if err != nil {
		return nil, fmt.Errorf("loading text tower: %w", err)
	}
	r := &reader{ctx: ctx, w: w}
	for _, s := range specs {
		r.into(s.dst(m), s.name)
	}
	if l.projTransposed && m.Proj != nil && r.err == nil {
		transposeInPlace(m.Proj.W.Data, d, c.Out)
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

// owns reports whether a tensor name belongs to the tower in layout l.
func (l layout) owns(name string) bool {
	if l.own != "" {
		return strings.HasPrefix(name, l.own)
	}
	// OpenCLIP keeps the text tower's tensors at the top level, beside
	// visual.*.
	for _, p := range []string{"token_embedding.", "positional_embedding", "transformer.", "ln_final.", "text_projection"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// transposeInPlace turns x: [rows, cols] into its transpose [cols, rows].
func transposeInPlace(x []float32, rows, cols int) {
	t := make([]float32, len(x))
	for i := range rows {
		for j := range cols {
			t[j*rows+i] = x[i*cols+j]
		}
	}
	copy(x, t)
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
