package text

import (
	"fmt"
	"math"

	"github.com/vitgo/vit/kernels"
	"github.com/vitgo/vit/nn"
)

// Kind names the family of a text tower.
type Kind int

const (
	CLIP   Kind = iota // causal, pooled at end-of-text, text_projection
	SigLIP             // bidirectional, pooled at the last token, head
)

func (k Kind) String() string {
	if k == SigLIP {
		return "siglip"
	}
	return "clip"
}

// Activations of the MLP, by their names in transformers' configs.
const (
	ActQuickGELU = "quick_gelu"        // x·σ(1.702x), OpenAI CLIP
	ActGELU      = "gelu"              // exact (erf) GELU
	ActGELUTanh  = "gelu_pytorch_tanh" // tanh approximation, SigLIP (also "gelu_new")
)

// Config describes a text tower.
type Config struct {
	Kind      Kind
	Vocab     int // rows of the token embedding
	Positions int // rows of the position embedding: the longest input
	Dim       int // width of the residual stream
	Depth     int // number of blocks
	Heads     int // attention heads
	MLPDim    int // hidden width of the MLP
	Act       string
	Eps       float32 // LayerNorm epsilon
	// Out is the width of the output: text_projection's (CLIP) or the
	// head's (SigLIP); 0 for a CLIPTextModel, whose output is the pooled
	// token itself.
	Out int
	// EOS is the end-of-text id a CLIP tower pools at (its first
	// occurrence). The legacy value 2 of old configs means "the largest id"
	// instead, as transformers reads it (OpenAI's <|endoftext|> is the
	// largest id of its vocabulary).
	EOS int
}

// Validate reports a config no model can have.
func (c Config) Validate() error {
	switch {
	case c.Vocab <= 0 || c.Positions <= 0 || c.Dim <= 0 || c.Depth <= 0 || c.Heads <= 0 || c.MLPDim <= 0:
		return fmt.Errorf("text tower: vocabulary %d, positions %d, width %d, depth %d, heads %d, MLP %d: all must be positive",
			c.Vocab, c.Positions, c.Dim, c.Depth, c.Heads, c.MLPDim)
	case c.Dim%c.Heads != 0:
		return fmt.Errorf("text tower: width %d is not a multiple of the %d heads", c.Dim, c.Heads)
	case c.Out < 0:
		return fmt.Errorf("text tower: output width %d", c.Out)
	case c.Kind == SigLIP && c.Out == 0:
		return fmt.Errorf("text tower: a SigLIP tower needs its head")
	case !(c.Eps > 0):
		return fmt.Errorf("text tower: LayerNorm epsilon %v is not positive", c.Eps)
	}
	switch c.Act {
	case ActQuickGELU, ActGELU, ActGELUTanh:
	default:
		return fmt.Errorf("text tower: activation %q is not supported (valid: %s, %s, %s)", c.Act, ActQuickGELU, ActGELU, ActGELUTanh)
	}
	return nil
}

// OutDim is the width of Embed's vectors.
func (c Config) OutDim() int {
	if c.Out > 0 {
		return c.Out
	}
	return c.Dim
}

// Block is a pre-LayerNorm Transformer block:
// x += Proj(Attention(QKV(Norm1(x)))); x += FC2(act(FC1(Norm2(x)))).
type Block struct {
	Norm1 *nn.LayerNorm // layer_norm1
	QKV   *nn.Linear    // [3·dim, dim]: q_proj, k_proj and v_proj stacked
	Proj  *nn.Linear    // out_proj
	Norm2 *nn.LayerNorm // layer_norm2
	FC1   *nn.Linear    // mlp.fc1: [mlp, dim]
	FC2   *nn.Linear    // mlp.fc2: [dim, mlp]
}

// Model is a text tower, with the contrastive scale (and SigLIP's bias)
// of the model it came from.
type Model struct {
	Config
	TokenEmbed *nn.Param // [vocab, dim]
	PosEmbed   *nn.Param // [positions, dim]
	Blocks     []*Block
	Norm       *nn.LayerNorm // final_layer_norm
	// Proj is text_projection (CLIP, no bias) or the head (SigLIP); nil
	// when Out is 0.
	Proj *nn.Linear
	// LogitScale is logit_scale, the logarithm of the temperature the
	// cosine similarities are multiplied by; LogitBias is SigLIP's
	// logit_bias. HasLogits says whether the checkpoint held them (a
	// CLIPModel or SiglipModel does; a lone text model does not).
	LogitScale, LogitBias float32
	HasLogits             bool
}

// New allocates a zeroed model (LayerNorms at identity) of a valid config.
func New(c Config) (*Model, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	d := c.Dim
	m := &Model{
		Config:     c,
		TokenEmbed: nn.NewParam("text_model.embeddings.token_embedding.weight", false, c.Vocab, d),
		PosEmbed:   nn.NewParam("text_model.embeddings.position_embedding.weight", false, c.Positions, d),
		Norm:       nn.NewLayerNorm("text_model.final_layer_norm", d, c.Eps),
	}
	for i := range c.Depth {
		p := fmt.Sprintf("text_model.encoder.layers.%d.", i)
		m.Blocks = append(m.Blocks, &Block{
			Norm1: nn.NewLayerNorm(p+"layer_norm1", d, c.Eps),
			QKV:   nn.NewLinear(p+"self_attn.qkv", d, 3*d, true),
			Proj:  nn.NewLinear(p+"self_attn.out_proj", d, d, true),
			Norm2: nn.NewLayerNorm(p+"layer_norm2", d, c.Eps),
			FC1:   nn.NewLinear(p+"mlp.fc1", d, c.MLPDim, true),
			FC2:   nn.NewLinear(p+"mlp.fc2", c.MLPDim, d, true),
		})
	}
	switch {
	case c.Kind == CLIP && c.Out > 0:
		m.Proj = nn.NewLinear("text_projection", d, c.Out, false)
	case c.Kind == SigLIP:
		m.Proj = nn.NewLinear("text_model.head", d, c.Out, true)
	}
	return m, nil
}

// Pack packs every Linear's weights in number format dt for inference.
func (m *Model) Pack(dt kernels.DType) {
	for _, b := range m.Blocks {
		for _, l := range []*nn.Linear{b.QKV, b.Proj, b.FC1, b.FC2} {
			l.Pack(dt)
		}
	}
	if m.Proj != nil {
		m.Proj.Pack(dt)
	}
}

// Scale is exp(LogitScale), the factor of the cosine similarities.
func (m *Model) Scale() float32 { return float32(math.Exp(float64(m.LogitScale))) }
