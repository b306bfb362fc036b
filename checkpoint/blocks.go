package checkpoint

import (
	"fmt"

	"github.com/vitgo/vit"
)

// blockNames are one source's names of an encoder block's tensors, after
// the block's prefix (a Sprintf format with the block's index).
type blockNames struct {
	norm1, norm2 string
	qkv          string // the fused projection (timm), or "" for separate q, k, v
	qkvFlat      bool   // the fused projection's tensors are qkv_weight and qkv_bias (torch's nn.MultiheadAttention)
	q, k, v      string
	proj         string
	fc1, fc2     string
	ls1, ls2     string // LayerScale's scales, "" without
}

// The block layouts of the sources.
var (
	timmBlock = blockNames{norm1: "norm1", norm2: "norm2", qkv: "attn.qkv", proj: "attn.proj",
		fc1: "mlp.fc1", fc2: "mlp.fc2", ls1: "ls1.gamma", ls2: "ls2.gamma"}
	hfViTBlock = blockNames{norm1: "layernorm_before", norm2: "layernorm_after",
		q: "attention.attention.query", k: "attention.attention.key", v: "attention.attention.value",
		proj: "attention.output.dense", fc1: "intermediate.dense", fc2: "output.dense"}
	hfDinov2Block = blockNames{norm1: "norm1", norm2: "norm2",
		q: "attention.attention.query", k: "attention.attention.key", v: "attention.attention.value",
		proj: "attention.output.dense", fc1: "mlp.fc1", fc2: "mlp.fc2", ls1: "layer_scale1.lambda1", ls2: "layer_scale2.lambda1"}
	openCLIPBlock = blockNames{norm1: "ln_1", norm2: "ln_2", qkv: "attn.in_proj", qkvFlat: true, proj: "attn.out_proj",
		fc1: "mlp.c_fc", fc2: "mlp.c_proj", ls1: "ls_1.gamma", ls2: "ls_2.gamma"}
	hfCLIPBlock = blockNames{norm1: "layer_norm1", norm2: "layer_norm2",
		q: "self_attn.q_proj", k: "self_attn.k_proj", v: "self_attn.v_proj", proj: "self_attn.out_proj",
		fc1: "mlp.fc1", fc2: "mlp.fc2"}
)

// loadBlocks reads every block of m from the tensors named layer (with
// the block's index) + "." + n's names: separate query, key and value
// projections are stacked into the fused qkv, LayerScale's scales are read
// when the model has them.
func loadBlocks(r *reader, m *vit.Model, layer string, n blockNames) {
	for i, b := range m.Blocks {
		l := fmt.Sprintf(layer, i) + "."
		setNorm(r, b.Norm1, l+n.norm1)
		switch {
		case n.qkvFlat:
			set(b.QKV.W, r.get(l+n.qkv+"_weight", b.QKV.Out, b.QKV.In))
			if b.QKV.B != nil {
				set(b.QKV.B, r.get(l+n.qkv+"_bias", b.QKV.Out))
			}
		case n.qkv != "":
			setLinear(r, b.QKV, l+n.qkv)
		default:
			d := b.QKV.In
			for j, name := range []string{n.q, n.k, n.v} {
				copyInto(b.QKV.W.Data[j*d*d:], r.get(l+name+".weight", d, d))
				if b.QKV.B != nil {
					copyInto(b.QKV.B.Data[j*d:], r.get(l+name+".bias", d))
				}
			}
		}
		setLinear(r, b.Proj, l+n.proj)
		setNorm(r, b.Norm2, l+n.norm2)
		setLinear(r, b.FC1, l+n.fc1)
		setLinear(r, b.FC2, l+n.fc2)
		if b.LS1 != nil {
			set(b.LS1, r.get(l+n.ls1, b.LS1.Size()))
			set(b.LS2, r.get(l+n.ls2, b.LS2.Size()))
		}
	}
}
