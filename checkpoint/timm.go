package checkpoint

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/vitgo/vit/nn"

	"github.com/vitgo/vit"
)

// timmConfig is the part of the config.json that timm writes beside
// model.safetensors (timm.models._hub.save_config) the loader reads.
type timmConfig struct {
	Architecture string  `json:"architecture"`
	NumClasses   *int    `json:"num_classes"`
	GlobalPool   *string `json:"global_pool"`
	ModelArgs    struct {
		NumHeads   *int            `json:"num_heads"`
		PatchSize  *int            `json:"patch_size"`
		ImgSize    json.RawMessage `json:"img_size"`
		GlobalPool *string         `json:"global_pool"`
		ActLayer   *string         `json:"act_layer"`
	} `json:"model_args"`
	PretrainedCfg struct {
		InputSize     []int     `json:"input_size"` // [channels, height, width]
		Mean          []float32 `json:"mean"`
		Std           []float32 `json:"std"`
		Interpolation string    `json:"interpolation"`
		CropPct       float64   `json:"crop_pct"`
	} `json:"pretrained_cfg"`
	LabelNames []string `json:"label_names"`
}

// timmArch matches timm's ViT names: vit_base_patch16_224,
// vit_small_patch16_384.augreg_in21k_ft_in1k, vit_large_patch14_clip_224, …
var timmArch = regexp.MustCompile(`^vit_([a-z]+)_patch(\d+)(?:_[a-z0-9]+)*?_(\d+)(?:\.|$)`)

// timmHeads are the head counts of timm's ViT sizes.
var timmHeads = map[string]int{"tiny": 3, "small": 6, "medium": 8, "base": 12, "large": 16, "huge": 16, "giant": 16, "gigantic": 16}

func loadTimm(ctx context.Context, path string) (*Pretrained, error) {
	dir := path
	if st, err := os.Stat(path); err == nil && !st.IsDir() {
		dir = filepath.Dir(path)
	}
	weights, err := weightsFile(path)
	if err != nil {
		return nil, fmt.Errorf("loading timm model: %w", err)
	}
	var tc timmConfig
	haveCfg := false
	if b, err := readConfig(filepath.Join(dir, ConfigFile)); err == nil {
		if err := json.Unmarshal(b, &tc); err != nil {
			return nil, fmt.Errorf("loading timm model: %s: %w", filepath.Join(dir, ConfigFile), err)
		}
		haveCfg = tc.Architecture != ""
	}
	src, err := openWeights(weights)
	if err != nil {
		return nil, fmt.Errorf("loading timm model: %w", err)
	}
	defer src.close()
	r := newReader(ctx, src, weights)
	p := &Pretrained{Format: FormatTimm}

	pe := r.shapeOf("patch_embed.proj.weight")
	if r.err != nil {
		return nil, r.err
	}
	if len(pe) != 4 || pe[2] != pe[3] {
		return nil, fmt.Errorf("checkpoint %s: tensor \"patch_embed.proj.weight\" has shape %v, expected [dim, channels, patch, patch]", weights, pe)
	}
	c := vit.Config{Dim: pe[0], Channels: pe[1], Patch: pe[2], LayerNormEps: 1e-6}
	for r.has(fmt.Sprintf("blocks.%d.norm1.weight", c.Depth)) {
		c.Depth++
	}
	if c.Depth == 0 {
		return nil, fmt.Errorf("checkpoint %s: no blocks.0.norm1.weight: not a timm VisionTransformer", weights)
	}
	fc1 := r.shapeOf("blocks.0.mlp.fc1.weight")
	if r.err != nil {
		return nil, r.err
	}
	if len(fc1) != 2 {
		return nil, fmt.Errorf("checkpoint %s: tensor \"blocks.0.mlp.fc1.weight\" has shape %v, expected [mlp, %d]", weights, fc1, c.Dim)
	}
	c.MLPDim = fc1[0]
	if fc2, ok := src.shape("blocks.0.mlp.fc2.weight"); ok && len(fc2) == 2 && fc2[1]*2 == fc1[0] {
		c.FFN, c.MLPDim = "swiglu", fc2[1] // SwiGLUPacked: fc1 holds [x1; x2]
	}
	c.NoQKVBias = !r.has("blocks.0.attn.qkv.bias")
	if err := timmEncoder(r, src, tc, &c, weights); err != nil {
		return nil, err
	}
	pool := "token"
	for _, g := range []*string{tc.GlobalPool, tc.ModelArgs.GlobalPool} {
		if g != nil {
			pool = *g
		}
	}
	switch {
	case c.Pool == "map" || c.Pool == "avg":
	case !r.has("cls_token"):
		c.Pool = "gap"
		if pool != "avg" && haveCfg {
			return nil, fmt.Errorf("checkpoint %s: no class token and global_pool %q: only average pooling is supported without one", weights, pool)
		}
	case pool != "token" && pool != "":
		return nil, fmt.Errorf("checkpoint %s: global_pool %q with a class token and no fc_norm is not supported (vit.Model pools the class token)", weights, pool)
	}
	if a := tc.ModelArgs.ActLayer; a != nil {
		act, ok := map[string]string{"gelu": "gelu", "quick_gelu": "quick_gelu", "gelu_tanh": "gelu_tanh"}[*a]
		if !ok {
			return nil, fmt.Errorf("checkpoint %s: model_args.act_layer %q is not supported (gelu, quick_gelu, gelu_tanh are)", weights, *a)
		}
		c.Act = act
	} else if strings.Contains(tc.Architecture, "quickgelu") {
		c.Act = "quick_gelu"
	}

	if ps := tc.ModelArgs.PatchSize; ps != nil && *ps != c.Patch {
		return nil, fmt.Errorf("checkpoint %s: model_args.patch_size is %d but patch_embed.proj.weight is %v", weights, *ps, pe)
	}
	// Heads: model_args, then the architecture name, then the width.
	arch := timmArch.FindStringSubmatch(tc.Architecture)
	switch {
	case tc.ModelArgs.NumHeads != nil:
		c.Heads = *tc.ModelArgs.NumHeads
	case arch != nil && timmHeads[arch[1]] != 0:
		c.Heads = timmHeads[arch[1]]
	default:
		h, ok := defaultHeads(c.Dim)
		if !ok {
			return nil, fmt.Errorf("checkpoint %s: cannot tell the number of attention heads of width %d: give config.json with model_args.num_heads", weights, c.Dim)
		}
		c.Heads = h
		p.note("no config.json naming the heads: assumed %d (head dimension %d)", h, c.Dim/h)
	}
	if arch != nil && tc.ModelArgs.PatchSize == nil {
		if n, _ := strconv.Atoi(arch[2]); n != c.Patch {
			return nil, fmt.Errorf("checkpoint %s: architecture %s has patch %d but patch_embed.proj.weight is %v", weights, tc.Architecture, n, pe)
		}
	}

	// Image size: pretrained_cfg.input_size, model_args.img_size, the
	// architecture name, else a square grid from pos_embed.
	pos := r.shapeOf("pos_embed")
	if r.err != nil {
		return nil, r.err
	}
	if len(pos) != 3 || pos[0] != 1 || pos[2] != c.Dim {
		return nil, fmt.Errorf("checkpoint %s: tensor \"pos_embed\" has shape %v, expected [1, tokens, %d]", weights, pos, c.Dim)
	}
	switch is := tc.PretrainedCfg.InputSize; {
	case len(is) == 3:
		c.ImageHeight, c.ImageWidth = is[1], is[2]
	case len(tc.ModelArgs.ImgSize) > 0:
		h, w, err := sizePair(tc.ModelArgs.ImgSize, 0, "model_args.img_size")
		if err != nil {
			return nil, fmt.Errorf("loading timm model %s: %w", path, err)
		}
		c.ImageHeight, c.ImageWidth = h, w
	case arch != nil:
		n, _ := strconv.Atoi(arch[3])
		c.ImageHeight, c.ImageWidth = n, n
	default:
		n := pos[1]
		if pre := c.PrefixTokens() - c.Registers; n > pre && squareGrid(n) == 0 {
			n -= pre
		}
		g := squareGrid(n)
		if g == 0 {
			return nil, fmt.Errorf("checkpoint %s: pos_embed has %d patch positions, not a square grid, and no config.json gives the image size", weights, n)
		}
		c.ImageHeight, c.ImageWidth = g*c.Patch, g*c.Patch
	}

	clipProj := strings.Contains(tc.Architecture, "_clip_") && len(tc.LabelNames) == 0
	if sh, ok := src.shape("head.weight"); ok && clipProj && len(sh) == 2 {
		// timm keeps CLIP's visual projection as the head (zero bias).
		c.EmbedDim = sh[0]
		p.Headless = true
		c.Classes = 1
		p.note("a CLIP image tower: its head (%d outputs) is the visual projection, kept as the model's projection; the features are the image embeddings", sh[0])
	} else if ok {
		if len(sh) != 2 {
			return nil, fmt.Errorf("checkpoint %s: tensor \"head.weight\" has shape %v, expected [classes, %d]", weights, sh, c.Dim)
		}
		c.Classes = sh[0]
		if tc.NumClasses != nil && *tc.NumClasses != c.Classes {
			return nil, fmt.Errorf("loading timm model %s: num_classes is %d but head.weight has %d rows", path, *tc.NumClasses, c.Classes)
		}
	} else {
		p.Headless = true
		c.Classes = max(len(tc.LabelNames), 1)
		p.note("no head in the checkpoint: the head is zeros with %d classes; train or replace it", c.Classes)
	}
	if len(tc.LabelNames) == c.Classes {
		c.Labels = tc.LabelNames
	}
	if cfg := tc.PretrainedCfg; cfg.Mean != nil || cfg.Std != nil {
		if err := setNormalisation(&c, cfg.Mean, cfg.Std, filepath.Join(dir, ConfigFile)); err != nil {
			return nil, err
		}
	} else {
		p.note("no pretrained_cfg mean and std: normalisation unknown")
	}
	if it := tc.PretrainedCfg.Interpolation; slices.Contains(pillowFilters, it) {
		c.Resample = it
	} else if it != "" {
		p.note("pretrained_cfg.interpolation %q is not a Pillow filter: images will be resized bilinearly", it)
	}
	if cp := tc.PretrainedCfg.CropPct; cp > 0 && cp <= 1 {
		c.CropPct = float32(cp)
	} else if haveCfg {
		c.CropPct = 0.875 // timm's default crop_pct
	}

	if err := fitsWeights(c, sourceValues(src), "loading timm model "+path+": its config"); err != nil {
		return nil, err
	}
	if n := pos[1]; n != c.PosTokens() && n != c.NumPatches() {
		return nil, fmt.Errorf("checkpoint %s: tensor \"pos_embed\" has %d positions, but a %d×%d image in patches of %d has %d (the image size of config.json does not match the weights)",
			weights, n, c.ImageHeight, c.ImageWidth, c.Patch, c.PosTokens())
	}
	m, err := newModel(c, path)
	if err != nil {
		return nil, err
	}
	p.Model = m
	d := c.Dim
	set(m.PatchEmbed.W, r.get("patch_embed.proj.weight", d, c.Channels, c.Patch, c.Patch))
	if m.PatchEmbed.B != nil {
		set(m.PatchEmbed.B, r.get("patch_embed.proj.bias", d))
	}
	for _, t := range []*nn.Param{m.ClassToken, m.DistToken, m.RegTokens} {
		if t != nil {
			set(t, r.get(t.Name, t.Shape...))
		}
	}
	if pre := c.PosTokens() - c.NumPatches(); pre > 0 && pos[1] == c.NumPatches() {
		// no_embed_class: the prefix tokens get no position embedding.
		copy(m.PosEmbed.Data[pre*d:], r.get("pos_embed", c.NumPatches(), d))
		clear(m.PosEmbed.Data[:pre*d])
		p.note("position embeddings have no entry for the class token (no_embed_class): used zeros for it")
	} else {
		set(m.PosEmbed, r.get("pos_embed", c.PosTokens(), d))
	}
	// The modules of the encoders carry timm's names.
	var extra []*nn.Param
	if m.NormPre != nil {
		extra = append(extra, m.NormPre.Params()...)
	}
	if m.FCNorm != nil {
		extra = append(extra, m.FCNorm.Params()...)
	}
	if m.AttnPool != nil {
		extra = append(extra, m.AttnPool.Params()...)
	}
	if m.HeadDist != nil {
		extra = append(extra, m.HeadDist.Params()...)
	}
	for _, q := range extra {
		set(q, r.get(q.Name, q.Shape...))
	}
	if m.Proj != nil {
		set(m.Proj.W, r.get("head.weight", m.Proj.Out, d))
		if b := r.get("head.bias", m.Proj.Out); b != nil && slices.ContainsFunc(b, func(v float32) bool { return v != 0 }) {
			return nil, fmt.Errorf("checkpoint %s: the CLIP head (projection) has a non-zero bias, which CLIP's projection has not", weights)
		}
	}
	loadBlocks(r, m, "blocks.%d", timmBlock)
	if m.Norm != nil {
		setNorm(r, m.Norm, "norm")
	}
	if !p.Headless {
		setLinear(r, m.Head, "head")
	}
	if err := r.unused(nil); err != nil {
		return nil, err
	}
	return p, nil
}

// timmEncoder reads from the tensor names which encoder modules a timm
// VisionTransformer has: register tokens (reg_token), a distillation token
// and head (VisionTransformerDistilled), LayerScale (ls1.gamma), norm_pre,
// an attention pool (attn_pool, global_pool "map") or fc_norm (global_pool
// "avg"), and a patch embedding without bias.
func timmEncoder(r *reader, src source, tc timmConfig, c *vit.Config, weights string) error {
	if sh, ok := src.shape("reg_token"); ok {
		if len(sh) != 3 || sh[0] != 1 || sh[2] != c.Dim {
			return fmt.Errorf("checkpoint %s: tensor \"reg_token\" has shape %v, expected [1, registers, %d]", weights, sh, c.Dim)
		}
		c.Registers = sh[1]
	}
	c.DistToken = r.has("dist_token")
	c.NoDistHead = c.DistToken && !r.has("head_dist.weight")
	c.LayerScale = r.has("blocks.0.ls1.gamma")
	c.NormPre = r.has("norm_pre.weight")
	c.NoPatchBias = !r.has("patch_embed.proj.bias")
	switch {
	case r.has("attn_pool.latent"):
		c.Pool = "map"
	case r.has("fc_norm.weight"):
		c.Pool = "avg"
	}
	if (c.Pool == "map" || c.Pool == "avg") && !r.has("cls_token") {
		c.NoClassToken = true
	}
	if sh, ok := src.shape("attn_pool.mlp.fc1.weight"); ok && len(sh) == 2 && sh[0] != c.MLPDim {
		return fmt.Errorf("checkpoint %s: attn_pool's MLP has width %d, the blocks' %d: not supported", weights, sh[0], c.MLPDim)
	}
	return nil
}
