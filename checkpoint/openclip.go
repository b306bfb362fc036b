package checkpoint

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/vitgo/vit"
)

// OpenCLIP's file names (open_clip.push_to_hf_hub): its config, and its weights as safetensors or a PyTorch pickle.
const (
	OpenCLIPConfigFile   = "open_clip_config.json"
	OpenCLIPWeights      = "open_clip_model.safetensors"
	OpenCLIPTorchWeights = "open_clip_pytorch_model.bin"
)

// openCLIPConfig is the part of open_clip_config.json the loader reads:
// the vision tower of model_cfg and preprocess_cfg.
type openCLIPConfig struct {
	ModelCfg struct {
		EmbedDim  *int  `json:"embed_dim"`
		QuickGELU *bool `json:"quick_gelu"`
		VisionCfg struct {
			ImageSize    json.RawMessage `json:"image_size"`
			Layers       *int            `json:"layers"`
			Width        *int            `json:"width"`
			HeadWidth    *int            `json:"head_width"`
			PatchSize    *int            `json:"patch_size"`
			MLPRatio     *float64        `json:"mlp_ratio"`
			GlobalPool   *bool           `json:"global_average_pool"`
			AttnPooler   *bool           `json:"attentional_pool"`
			FinalLNAfter *bool           `json:"final_ln_after_pool"`
		} `json:"vision_cfg"`
	} `json:"model_cfg"`
	PreprocessCfg struct {
		Mean          []float32 `json:"mean"`
		Std           []float32 `json:"std"`
		Interpolation string    `json:"interpolation"`
		ResizeMode    string    `json:"resize_mode"`
	} `json:"preprocess_cfg"`
}

// openCLIPDir reports whether dir holds an OpenCLIP checkpoint (its
// open_clip_config.json).
func openCLIPDir(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, OpenCLIPConfigFile))
	return err == nil
}

// loadOpenCLIP loads the image tower of an OpenCLIP checkpoint (the
// layout of open_clip's VisionTransformer, documented by its model.py and
// transformer.py): visual.conv1 (no bias), visual.class_embedding,
// visual.positional_embedding, visual.ln_pre, visual.transformer.resblocks
// (ln_1, attn.in_proj_weight/in_proj_bias, attn.out_proj, ls_1.gamma, ln_2,
// mlp.c_fc, mlp.c_proj, ls_2.gamma), visual.ln_post and visual.proj
// ([width, embed_dim], applied as x·proj). The text tower is skipped.
// LayerNorm eps 1e-5; QuickGELU when model_cfg.quick_gelu. The
// preprocessing is open_clip's: short side to the image size (bicubic),
// centre crop, preprocess_cfg's mean and std.
func loadOpenCLIP(ctx context.Context, path string) (*Pretrained, error) {
	dir := path
	if st, err := os.Stat(path); err == nil && !st.IsDir() {
		dir = filepath.Dir(path)
	}
	cfgPath := filepath.Join(dir, OpenCLIPConfigFile)
	b, err := readConfig(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("loading OpenCLIP model %s: %w", path, err)
	}
	var oc openCLIPConfig
	if err := json.Unmarshal(b, &oc); err != nil {
		return nil, fmt.Errorf("loading OpenCLIP model: %s: %w", cfgPath, err)
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("loading OpenCLIP model %s: %s", path, fmt.Sprintf(format, args...))
	}
	vc := oc.ModelCfg.VisionCfg
	for _, f := range []*bool{vc.GlobalPool, vc.AttnPooler, vc.FinalLNAfter} {
		if f != nil && *f {
			return nil, fail("global_average_pool, attentional_pool and final_ln_after_pool are not supported (only the class-token pooling)")
		}
	}
	weights := ""
	for _, n := range []string{OpenCLIPWeights, OpenCLIPTorchWeights, WeightsFile} {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			weights = filepath.Join(dir, n)
			break
		}
	}
	if st, err := os.Stat(path); err == nil && !st.IsDir() {
		weights = path
	}
	if weights == "" {
		return nil, fail("no %s or %s", OpenCLIPWeights, OpenCLIPTorchWeights)
	}
	src, err := openSafetensors(weights)
	if err != nil {
		return nil, fail("%v", err)
	}
	defer src.close()
	r := newReader(ctx, src, weights)

	pe := r.shapeOf("visual.conv1.weight")
	if r.err != nil {
		return nil, r.err
	}
	if len(pe) != 4 || pe[2] != pe[3] {
		return nil, fail("visual.conv1.weight has shape %v, expected [width, channels, patch, patch]", pe)
	}
	width, patch := orDefault(vc.Width, pe[0]), orDefault(vc.PatchSize, pe[2])
	size, _, err := sizePair(vc.ImageSize, 224, "vision_cfg.image_size")
	if err != nil {
		return nil, fail("%v", err)
	}
	headWidth := orDefault(vc.HeadWidth, 64)
	if headWidth <= 0 || width%headWidth != 0 {
		return nil, fail("width %d is not a multiple of head_width %d", width, headWidth)
	}
	mlp := int(float64(width) * orDefault(vc.MLPRatio, 4.0))
	c := vit.Config{ImageHeight: size, ImageWidth: size, Channels: pe[1], Patch: patch, Dim: width,
		Depth: orDefault(vc.Layers, 12), Heads: width / headWidth, MLPDim: mlp, Classes: 1, LayerNormEps: 1e-5}
	c.NormPre, c.NoPatchBias = true, true
	if orDefault(oc.ModelCfg.QuickGELU, false) {
		c.Act = "quick_gelu"
	}
	if sh, ok := src.shape("visual.proj"); ok && len(sh) == 2 {
		c.EmbedDim = sh[1]
	}
	c.LayerScale = r.has("visual.transformer.resblocks.0.ls_1.gamma")
	p := &Pretrained{Format: FormatOpenCLIP, Headless: true}
	p.note("an image–text encoder: the features are its image embeddings (%d values); the classifier head is zeros with 1 class", c.FeatureDim())
	pc := oc.PreprocessCfg
	if pc.ResizeMode != "" && pc.ResizeMode != "shortest" {
		return nil, fail("preprocess_cfg.resize_mode %q is not supported (only shortest)", pc.ResizeMode)
	}
	c.CropPct, c.Resample = 1, "bicubic"
	if it := pc.Interpolation; slices.Contains(pillowFilters, it) {
		c.Resample = it
	}
	mean, std := pc.Mean, pc.Std
	if mean == nil && std == nil { // OPENAI_DATASET_MEAN and _STD, open_clip's default
		mean, std = []float32{0.48145466, 0.4578275, 0.40821073}, []float32{0.26862954, 0.26130258, 0.27577711}
	}
	if err := setNormalisation(&c, mean, std, cfgPath); err != nil {
		return nil, err
	}
	if err := fitsWeights(c, sourceValues(src), "loading OpenCLIP model: "+cfgPath); err != nil {
		return nil, err
	}
	r.check("visual.positional_embedding", c.PosTokens(), c.Dim)
	r.checkDepth("visual.transformer.resblocks.%d.ln_1.weight", c.Depth, "vision_cfg.layers")
	r.check("visual.transformer.resblocks.0.mlp.c_fc.weight", c.MLPDim, c.Dim)
	if r.err != nil {
		return nil, r.err
	}
	m, err := newModel(c, path)
	if err != nil {
		return nil, err
	}
	p.Model = m
	d := c.Dim
	set(m.ClassToken, r.get("visual.class_embedding", d))
	set(m.PosEmbed, r.get("visual.positional_embedding", c.PosTokens(), d))
	set(m.PatchEmbed.W, r.get("visual.conv1.weight", d, c.Channels, c.Patch, c.Patch))
	setNorm(r, m.NormPre, "visual.ln_pre")
	loadBlocks(r, m, "visual.transformer.resblocks.%d", openCLIPBlock)
	setNorm(r, m.Norm, "visual.ln_post")
	if m.Proj != nil {
		if w := r.get("visual.proj", d, c.EmbedDim); w != nil {
			copy(m.Proj.W.Data, transpose2(w, d, c.EmbedDim))
		}
	}
	skip := func(n string) bool { return len(n) < 7 || n[:7] != "visual." }
	if err := r.unused(skip); err != nil {
		return nil, err
	}
	return p, nil
}
