package vit

import (
	"fmt"
	"slices"

	"github.com/vitgo/vit/internal/interp"
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

// learnedTable reports whether E_pos is learned, one vector per token: the
// only table a model may store at a grid of its own (Encoder.PosGridH).
func (c Config) learnedTable() bool { return c.PosEmbed == "" || c.PosEmbed == "learned" }

// Relative reports whether the blocks add relative position biases.
func (c Config) Relative() bool { return c.PosEmbed == "relative" }

// PosEmbed2D is the paper's 2-D learned position embedding (Appendix
// D.4): the patch at row r, column c gets [Row[r]; Col[c]], dim/2 values
// each. The prefix tokens (class, distillation, registers), themselves
// learned, get none.
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
// token, [tokens, dim]: the class and distillation tokens' rows of E_pos
// (zero with learned-2d, which gives them none), zero for the register
// tokens, then the patches' (see PatchPosEmbed); nil for none and
// relative, which add none. The result is a new slice.
func (m *Model) PositionTable() []float32 {
	patches := m.PatchPosEmbed()
	if patches == nil {
		return nil
	}
	c := m.Config
	d := c.Dim
	t := make([]float32, c.Tokens()*d)
	if m.PosEmbed != nil {
		copy(t, m.PosEmbed.Data[:c.posPrefix()*d])
	}
	copy(t[c.PrefixTokens()*d:], patches)
	return t
}

// PatchPosEmbed returns the patch tokens' position embeddings at the
// input's grid: [NumPatches, dim], row-major, as the forward pass adds them
// (E_pos resampled from PosGrid when the model stores it at another grid,
// or learned-2d's concatenated rows and columns); nil for none and
// relative, which add none. The result is a new slice.
func (m *Model) PatchPosEmbed() []float32 {
	c := m.Config
	switch {
	case m.PosEmbed2D != nil:
		return m.PosEmbed2D.Table(0)
	case m.PosEmbed == nil:
		return nil
	}
	d, pp := c.Dim, c.posPrefix()
	src := m.PosEmbed.Data[pp*d:]
	if !c.resamplesPos() {
		return append([]float32(nil), src...)
	}
	sh, sw := c.PosGrid()
	out := make([]float32, c.NumPatches()*d)
	interp.Grid(out, src, interp.Weights(sh, c.GridH(), c.PosResize), interp.Weights(sw, c.GridW(), c.PosResize), sw, d)
	return out
}

// posEmbed returns E_pos at the input's grid: [class and distillation
// tokens + patches, dim]: the stored table, or the one resampled into the
// workspace from Config.PosGrid with Config.PosResize.
func (m *Model) posEmbed(ws *Workspace) []float32 {
	c := m.Config
	if !c.resamplesPos() {
		return m.PosEmbed.Data
	}
	d, pp := c.Dim, c.posPrefix()
	_, sw := c.PosGrid()
	copy(ws.enc.pos, m.PosEmbed.Data[:pp*d])
	interp.Grid(ws.enc.pos[pp*d:], m.PosEmbed.Data[pp*d:], ws.enc.posWy, ws.enc.posWx, sw, d)
	return ws.enc.pos
}

// addPositions adds the position embeddings to z₀: [batch, tokens, dim]:
// E_pos's prefix rows to the class and distillation tokens and its patch
// rows to the patches (the register tokens between them get none), or
// learned-2d's to the patches.
func (m *Model) addPositions(ws *Workspace, z0 []float32, batch int) {
	c := m.Config
	t, d, pp, pre := c.Tokens(), c.Dim, c.posPrefix(), c.PrefixTokens()
	switch {
	case m.PosEmbed != nil:
		pos := m.posEmbed(ws)
		for b := range batch {
			zb := z0[b*t*d : (b+1)*t*d]
			for i, v := range pos[:pp*d] {
				zb[i] += v
			}
			p := zb[pre*d:]
			for i, v := range pos[pp*d:] {
				p[i] += v
			}
		}
	case m.PosEmbed2D != nil:
		m.PosEmbed2D.add(z0, batch, t, pre)
	}
}

// positionsBackward adds the position embeddings' gradients from dz =
// ∂L/∂z₀: [batch, tokens, dim], through the resampling when the model
// stores E_pos at a grid of its own.
func (m *Model) positionsBackward(ws *Workspace, dz []float32, batch int) {
	c := m.Config
	t, d, pp, pre := c.Tokens(), c.Dim, c.posPrefix(), c.PrefixTokens()
	switch pos := m.PosEmbed; {
	case pos != nil && !pos.Frozen:
		dpos := pos.Grad
		if c.resamplesPos() {
			dpos = ws.enc.dpos
			clear(dpos)
		}
		for b := range batch {
			zb := dz[b*t*d : (b+1)*t*d]
			for i, v := range zb[:pp*d] {
				dpos[i] += v
			}
			p := dpos[pp*d:]
			for i, v := range zb[pre*d:] {
				p[i] += v
			}
		}
		if c.resamplesPos() {
			_, sw := c.PosGrid()
			for i, v := range dpos[:pp*d] {
				pos.Grad[i] += v
			}
			interp.GridBackward(pos.Grad[pp*d:], dpos[pp*d:], ws.enc.posWy, ws.enc.posWx, sw, d)
		}
	case m.PosEmbed2D != nil && !m.PosEmbed2D.Row.Frozen:
		m.PosEmbed2D.backward(dz, batch, t, pre)
	}
}
