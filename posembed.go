package vit

import (
	"fmt"
	"slices"

	"github.com/vitgo/vit/nn"
)

// PosEmbeds lists the position embeddings Config.PosEmbed accepts (the
// paper's Table 8): none; learned, one vector per token (the default);
// learned-2d, a learned row and column embedding of dim/2 each,
// concatenated; sincos, fixed 2-D sine-cosine; relative, a learned bias per
// head and relative 2-D offset in every block's attention logits.
var PosEmbeds = []string{"none", "learned", "learned-2d", "sincos", "relative"}

// posEmbedError refuses an unknown position embedding or one the rest of
// the configuration cannot take.
func (c Config) posEmbedError() error {
	switch {
	case c.PosEmbed != "" && !slices.Contains(PosEmbeds, c.PosEmbed):
		return fmt.Errorf("pos_embed must be one of %v, got %q", PosEmbeds, c.PosEmbed)
	case c.PosEmbed == "sincos" && c.Dim%4 != 0:
		return fmt.Errorf("sincos position embeddings need dim divisible by 4, got %d", c.Dim)
	case c.PosEmbed == "learned-2d" && c.Dim%2 != 0:
		return fmt.Errorf("learned-2d position embeddings need an even dim, got %d", c.Dim)
	case c.PosEmbed == "relative" && c.Performer():
		return fmt.Errorf("relative position biases need softmax attention: FAVOR+ never forms the attention logits they add to")
	}
	return nil
}

// absolutePos reports whether the model has a table E_pos of one vector
// per token (learned or sincos).
func (c Config) absolutePos() bool {
	return c.PosEmbed == "" || c.PosEmbed == "learned" || c.PosEmbed == "sincos"
}

// Relative reports whether the blocks add relative position biases.
func (c Config) Relative() bool { return c.PosEmbed == "relative" }

// PosEmbed2D is the paper's 2-D learned position embedding (Appendix
// D.4): the patch at row r, column c gets [Row[r]; Col[c]], dim/2 values
// each. The class token, itself learned, gets none.
type PosEmbed2D struct {
	Row *nn.Param // pos_embed_row: [gridH, dim/2]
	Col *nn.Param // pos_embed_col: [gridW, dim/2]
}

func newPosEmbed2D(gh, gw, dim int) *PosEmbed2D {
	return &PosEmbed2D{Row: nn.NewParam("pos_embed_row", true, gh, dim/2), Col: nn.NewParam("pos_embed_col", true, gw, dim/2)}
}

// Params lists the module's tensors.
func (p *PosEmbed2D) Params() []*nn.Param { return []*nn.Param{p.Row, p.Col} }

// Replica shares p's tables with gradients of its own.
func (p *PosEmbed2D) Replica() *PosEmbed2D {
	return &PosEmbed2D{Row: p.Row.Share(), Col: p.Col.Share()}
}

// add adds the embeddings to the patch tokens of z: [batch, tokens, dim],
// whose patches start at token first.
func (p *PosEmbed2D) add(z []float32, batch, tokens, first int) {
	gh, gw, h := p.Row.Shape[0], p.Col.Shape[0], p.Row.Shape[1]
	d := 2 * h
	for b := range batch {
		for r := range gh {
			row := p.Row.Data[r*h : (r+1)*h]
			for c := range gw {
				v := z[(b*tokens+first+r*gw+c)*d:][:d]
				for j, e := range row {
					v[j] += e
				}
				for j, e := range p.Col.Data[c*h : (c+1)*h] {
					v[h+j] += e
				}
			}
		}
	}
}

// backward adds the tables' gradients from dz = ∂L/∂z.
func (p *PosEmbed2D) backward(dz []float32, batch, tokens, first int) {
	gh, gw, h := p.Row.Shape[0], p.Col.Shape[0], p.Row.Shape[1]
	d := 2 * h
	for b := range batch {
		for r := range gh {
			row := p.Row.Grad[r*h : (r+1)*h]
			for c := range gw {
				v := dz[(b*tokens+first+r*gw+c)*d:][:d]
				for j := range row {
					row[j] += v[j]
				}
				col := p.Col.Grad[c*h : (c+1)*h]
				for j := range col {
					col[j] += v[h+j]
				}
			}
		}
	}
}

// Table returns the per-token embedding the module adds: [tokens, dim],
// zero for the class token when first is 1.
func (p *PosEmbed2D) Table(first int) []float32 {
	gh, gw, h := p.Row.Shape[0], p.Col.Shape[0], p.Row.Shape[1]
	t := make([]float32, (first+gh*gw)*2*h)
	p.add(t, 1, first+gh*gw, first)
	return t
}

// PositionTable returns the position embedding the model adds to each
// token, [tokens, dim]: E_pos (learned or sincos), or the concatenated rows
// and columns of learned-2d; nil for none and relative, which add none.
func (m *Model) PositionTable() []float32 {
	switch {
	case m.PosEmbed != nil:
		return m.PosEmbed.Data
	case m.PosEmbed2D != nil:
		first := 0
		if m.Config.ClassToken() {
			first = 1
		}
		return m.PosEmbed2D.Table(first)
	}
	return nil
}

// addPositions adds the position embeddings to z₀: [batch, tokens, dim].
func (m *Model) addPositions(z0 []float32, batch int) {
	c := m.Config
	t, d := c.Tokens(), c.Dim
	first := 0
	if c.ClassToken() {
		first = 1
	}
	switch {
	case m.PosEmbed != nil:
		for b := range batch {
			zb := z0[b*t*d : (b+1)*t*d]
			for i, v := range m.PosEmbed.Data {
				zb[i] += v
			}
		}
	case m.PosEmbed2D != nil:
		m.PosEmbed2D.add(z0, batch, t, first)
	}
}

// positionsBackward adds the position embeddings' gradients from dz = ∂L/∂z₀.
func (m *Model) positionsBackward(dz []float32, batch int) {
	c := m.Config
	t, d := c.Tokens(), c.Dim
	first := 0
	if c.ClassToken() {
		first = 1
	}
	switch {
	case m.PosEmbed != nil && !m.PosEmbed.Frozen:
		for b := range batch {
			for i, v := range dz[b*t*d : (b+1)*t*d] {
				m.PosEmbed.Grad[i] += v
			}
		}
	case m.PosEmbed2D != nil && !m.PosEmbed2D.Row.Frozen:
		m.PosEmbed2D.backward(dz, batch, t, first)
	}
}
