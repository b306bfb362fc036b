package text

import (
	"context"
	"fmt"

	"github.com/vitgo/vit/nn"
)

// embedChunk is how many texts one forward pass takes: the activations of
// a pass are about chunk·tokens·(6·dim + mlp) floats (40 MB for CLIP B at
// 16 texts).
const embedChunk = 16

// Embed returns the output vectors of the texts ids (each a tokenised
// text of at most Positions ids; all of one length): [len(ids), OutDim()],
// row-major. The vectors are not normalised.
func (m *Model) Embed(ctx context.Context, ids [][]int) ([]float32, error) {
	out := m.OutDim()
	res := make([]float32, len(ids)*out)
	for lo := 0; lo < len(ids); lo += embedChunk {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hi := min(len(ids), lo+embedChunk)
		if err := m.embed(res[lo*out:hi*out], ids[lo:hi]); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// PoolIndex returns the position Embed pools one text at: its last token
// for SigLIP; for CLIP the first EOS (or, with the legacy EOS 2, the first
// largest id), as transformers' CLIPTextTransformer chooses it.
func (m *Model) PoolIndex(ids []int) int {
	if m.Kind == SigLIP || len(ids) == 0 {
		return len(ids) - 1
	}
	best := 0
	for i, id := range ids {
		if m.EOS == 2 {
			if id > ids[best] {
				best = i
			}
		} else if id == m.EOS {
			return i
		}
	}
	if m.EOS != 2 {
		return 0 // no EOS: argmax of an all-false mask is 0
	}
	return best
}

// embed runs one chunk of texts.
func (m *Model) embed(dst []float32, ids [][]int) error {
	batch := len(ids)
	tokens := len(ids[0])
	for i, t := range ids {
		if len(t) != tokens {
			return fmt.Errorf("text %d has %d tokens, text 0 has %d: tokenise them to one length", i, len(t), tokens)
		}
	}
	if tokens == 0 || tokens > m.Positions {
		return fmt.Errorf("texts of %d tokens: the model takes 1…%d", tokens, m.Positions)
	}
	pool := make([]int, batch)
	for b, t := range ids {
		for _, id := range t {
			if id < 0 || id >= m.Vocab {
				return fmt.Errorf("token id %d outside the vocabulary of %d", id, m.Vocab)
			}
		}
		pool[b] = m.PoolIndex(t)
	}
	// CLIP is causal: the pooled token sees only the tokens up to it, so
	// the pass can stop at the last pooled position.
	if m.Kind == CLIP {
		last := 0
		for _, p := range pool {
			last = max(last, p)
		}
		tokens = last + 1
	}
	d, n := m.Dim, batch*tokens
	x := make([]float32, n*d)
	te, pe := m.TokenEmbed.Data, m.PosEmbed.Data
	for b := range batch {
		for t := range tokens {
			row := x[(b*tokens+t)*d : (b*tokens+t+1)*d]
			id := ids[b][t]
			copy(row, te[id*d:(id+1)*d])
			for j, v := range pe[t*d : (t+1)*d] {
				row[j] += v
			}
		}
	}
	y := make([]float32, n*d) // the residual stream after a layer (x before it)
	h := make([]float32, n*d)
	qkv := make([]float32, n*3*d)
	att := make([]float32, n*d)
	f := make([]float32, n*m.MLPDim)
	g := make([]float32, n*m.MLPDim)
	attn := nn.Attention{Heads: m.Heads, Dim: d}
	for _, blk := range m.Blocks {
		blk.Norm1.Forward(h, x, nil, nil, n)
		blk.QKV.Infer(qkv, h, n)
		if m.Kind == CLIP {
			attn.ForwardCausal(att, qkv, batch, tokens)
		} else {
			attn.Forward(att, nil, nil, nil, qkv, batch, tokens)
		}
		blk.Proj.InferResidual(y, att, x, n)
		x, y = y, x
		blk.Norm2.Forward(h, x, nil, nil, n)
		blk.FC1.InferAct(nnAct(m.Act), g, f, h, n)
		blk.FC2.InferResidual(y, g, x, n)
		x, y = y, x
	}
	// The final LayerNorm, of the pooled tokens only (it is per token).
	pooled := make([]float32, batch*d)
	for b, p := range pool {
		copy(pooled[b*d:(b+1)*d], x[(b*tokens+p)*d:(b*tokens+p+1)*d])
	}
	m.Norm.Forward(pooled, pooled, nil, nil, batch)
	if m.Proj == nil {
		copy(dst, pooled)
		return nil
	}
	m.Proj.Infer(dst, pooled, batch)
	return nil
}

// nnAct is nn.Activate's name of a text tower's activation.
func nnAct(act string) string {
	if act == ActGELUTanh {
		return "gelu_tanh"
	}
	return act
}
