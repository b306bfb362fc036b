package checkpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/vitgo/vit"
)

// Hugging Face model types of the image encoders descended from ViT, with
// the config.json model_type that names each.
var hfEncoderTypes = map[string]bool{
	"clip": true, "clip_vision_model": true, "siglip": true, "siglip_vision_model": true,
	"dinov2": true, "dinov2_with_registers": true, "deit": true,
}

// hfVisionConfig is the part of CLIPVisionConfig, SiglipVisionConfig,
// Dinov2Config, Dinov2WithRegistersConfig and DeiTConfig the loader reads:
// ViTConfig's fields and theirs; CLIPConfig and SiglipConfig nest it as
// vision_config. Absent fields take each class's default.
type hfVisionConfig struct {
	hfConfig
	UseSwiGLU         *bool           `json:"use_swiglu_ffn"`
	NumRegisterTokens *int            `json:"num_register_tokens"`
	VisionUseHead     *bool           `json:"vision_use_head"`
	VisionConfig      *hfVisionConfig `json:"vision_config"`
}

// hfActs maps transformers' hidden_act names to vit's.
var hfActs = map[string]string{"gelu": "gelu", "quick_gelu": "quick_gelu", "gelu_pytorch_tanh": "gelu_tanh", "gelu_new": "gelu_tanh"}

// loadHFEncoder loads a Hugging Face CLIP, SigLIP, DINOv2 (with or without
// registers) or DeiT checkpoint folder (see LoadPretrained); raw is its
// config.json.
func loadHFEncoder(ctx context.Context, path, dir, cfgPath string, raw []byte) (*Pretrained, error) {
	var top hfVisionConfig
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, fmt.Errorf("loading Hugging Face model: %s: %w", cfgPath, err)
	}
	hc := top
	if top.VisionConfig != nil { // CLIPModel, SiglipModel: the vision half
		hc = *top.VisionConfig
	}
	kind := strings.TrimSuffix(strings.TrimSuffix(top.ModelType, "_vision_model"), "_with_registers")
	fail := func(format string, args ...any) error {
		return fmt.Errorf("loading Hugging Face %s model %s: %s", top.ModelType, path, fmt.Sprintf(format, args...))
	}

	// Defaults of each config class.
	def := map[string]struct {
		patch, image int
		act          string
		eps          float64
	}{
		"clip": {32, 224, "quick_gelu", 1e-5}, "siglip": {16, 224, "gelu_pytorch_tanh", 1e-6},
		"dinov2": {14, 224, "gelu", 1e-6}, "deit": {16, 224, "gelu", 1e-12},
	}[kind]
	ih, iw, err := sizePair(hc.ImageSize, def.image, "image_size")
	if err != nil {
		return nil, fail("%v", err)
	}
	ph, pw, err := sizePair(hc.PatchSize, def.patch, "patch_size")
	if err != nil {
		return nil, fail("%v", err)
	}
	if ph != pw {
		return nil, fail("patch %d×%d is not square", ph, pw)
	}
	act, ok := hfActs[orDefault(hc.HiddenAct, def.act)]
	if !ok {
		return nil, fail("hidden_act %q is not supported (want one of gelu, quick_gelu, gelu_pytorch_tanh)", orDefault(hc.HiddenAct, def.act))
	}
	c := hc.vitConfig(ih, iw, ph, def.eps)
	c.Act = act

	weights, err := weightsFile(path)
	if err != nil {
		return nil, fail("%v", err)
	}
	src, err := openWeights(weights)
	if err != nil {
		return nil, fail("%v", err)
	}
	defer src.close()
	r := newReader(ctx, src, weights)
	p := &Pretrained{Format: FormatHF}

	// The layout: which tensors exist decides the rest of the config.
	var names hfNames
	switch kind {
	case "clip", "siglip":
		names = clipNames(kind)
		c.Pool = "cls"
		if kind == "clip" {
			c.NormPre, c.NoPatchBias = true, true
			if sh, ok := src.shape("visual_projection.weight"); ok && len(sh) == 2 {
				c.EmbedDim = sh[0]
			}
		} else {
			if !orDefault(hc.VisionUseHead, true) {
				return nil, fail("vision_use_head is false: a SigLIP tower without its attention-pool head is not supported")
			}
			c.Pool, c.NoClassToken = "map", true
		}
		p.Headless = true
		c.Classes = 1
		p.note("an image–text encoder: the features are its image embeddings (%d values); the classifier head is zeros with 1 class: train or replace it, or use the embeddings", c.FeatureDim())
	case "dinov2":
		names = dinov2Names(src)
		c.LayerScale = true
		if top.ModelType == "dinov2_with_registers" {
			c.Registers = orDefault(hc.NumRegisterTokens, 4)
			c.PosResize = "bicubic-antialias"
		} else {
			c.PosResize = "bicubic"
		}
		if orDefault(hc.UseSwiGLU, false) {
			c.FFN = "swiglu"
			if sh, ok := src.shape(names.prefix + "encoder.layer.0.mlp.weights_out.weight"); ok && len(sh) == 2 {
				c.MLPDim = sh[1]
			}
		} else if sh, ok := src.shape(names.prefix + "encoder.layer.0.mlp.fc1.weight"); ok && len(sh) == 2 {
			c.MLPDim = sh[0]
		}
		if r.has(names.prefix+"classifier.weight") || r.has("classifier.weight") {
			return nil, fail("Dinov2ForImageClassification's head (the class token and the mean patch token, concatenated) is not supported: load the Dinov2Model body")
		}
		p.Headless = true
		c.Classes = 1
		p.note("no classifier in the checkpoint (a Dinov2Model): the features are the normalised class token; the head is zeros with 1 class")
	case "deit":
		names = deitNames(src)
		c.DistToken = true
		switch {
		case r.has("cls_classifier.weight"):
			sh, _ := src.shape("cls_classifier.weight")
			c.Classes = sh[0]
		case r.has("classifier.weight"):
			sh, _ := src.shape("classifier.weight")
			c.Classes, c.NoDistHead = sh[0], true
		default:
			p.Headless = true
			c.Classes, c.NoDistHead = 1, true
			p.note("no classifier in the checkpoint (a DeiTModel): the head is zeros with 1 class; train or replace it")
		}
		labels, err := hfLabels(hc.ID2Label)
		if err != nil {
			return nil, fail("%v", err)
		}
		if len(labels) == c.Classes && !generic(labels) {
			c.Labels = labels
		}
	default:
		return nil, fail("not an image encoder this loader knows")
	}

	// The position embeddings' grid is the config's image; the input size
	// comes from the preprocessor (DINOv2 resamples them at every call).
	gh, gw := c.GridH(), c.GridW()
	if err := hfEncoderPreprocessor(dir, kind, &c, p); err != nil {
		return nil, err
	}
	if c.GridH() != gh || c.GridW() != gw {
		if kind != "dinov2" {
			return nil, fail("the processor's %d×%d input differs from the model's %d×%d, and %s does not resample its position embeddings", c.ImageHeight, c.ImageWidth, ih, iw, kind)
		}
		c.PosGridH, c.PosGridW = gh, gw
	}
	if err := fitsWeights(c, sourceValues(src), "loading Hugging Face model: "+cfgPath); err != nil {
		return nil, err
	}
	// Check the config against the weights before allocating its model.
	r.check(names.pos, c.PosTokens(), c.Dim)
	r.checkDepth(names.layer+"."+names.norm1+".weight", c.Depth, "num_hidden_layers")
	if r.err != nil {
		return nil, r.err
	}
	m, err := newModel(c, path)
	if err != nil {
		return nil, err
	}
	p.Model = m
	names.load(r, m)
	skip := func(n string) bool {
		for _, s := range names.skip {
			if strings.HasPrefix(n, s) {
				return true
			}
		}
		return false
	}
	if err := r.unused(skip); err != nil {
		return nil, err
	}
	return p, nil
}

// hfNames is a Hugging Face encoder's tensor layout.
type hfNames struct {
	prefix string   // before every vision tensor
	pos    string   // the position embeddings
	layer  string   // Sprintf format of block l's prefix (without the dot)
	norm1  string   // a block's first LayerNorm, after layer
	skip   []string // prefixes of tensors the image model does not use
	load   func(r *reader, m *vit.Model)
}

// clipNames is the layout of CLIPVisionModel(WithProjection) and
// SiglipVisionModel, alone or as CLIPModel's and SiglipModel's vision half
// (prefix vision_model.; CLIP's projection visual_projection).
func clipNames(kind string) hfNames {
	v := "vision_model."
	n := hfNames{prefix: v, layer: v + "encoder.layers.%d",
		skip: []string{"text_model.", "text_projection.", "logit_scale", "logit_bias", v + "embeddings.position_ids"}, norm1: "layer_norm1",
		pos: v + "embeddings.position_embedding.weight"}
	n.load = func(r *reader, m *vit.Model) {
		c := m.Config
		d := c.Dim
		e := v + "embeddings."
		if m.ClassToken != nil {
			set(m.ClassToken, r.get(e+"class_embedding", d))
		}
		set(m.PatchEmbed.W, r.get(e+"patch_embedding.weight", d, c.Channels, c.Patch, c.Patch))
		if m.PatchEmbed.B != nil {
			set(m.PatchEmbed.B, r.get(e+"patch_embedding.bias", d))
		}
		set(m.PosEmbed, r.get(e+"position_embedding.weight", c.PosTokens(), d))
		if m.NormPre != nil {
			setNorm(r, m.NormPre, v+"pre_layrnorm")
		}
		loadBlocks(r, m, n.layer, hfCLIPBlock)
		setNorm(r, m.Norm, v+"post_layernorm")
		if m.Proj != nil {
			setLinear(r, m.Proj, "visual_projection")
		}
		if p := m.AttnPool; p != nil {
			h := v + "head."
			set(p.Latent, r.get(h+"probe", d))
			if w := r.get(h+"attention.in_proj_weight", 3*d, d); w != nil {
				copy(p.Q.W.Data, w[:d*d])
				copy(p.KV.W.Data, w[d*d:])
			}
			if b := r.get(h+"attention.in_proj_bias", 3*d); b != nil {
				copy(p.Q.B.Data, b[:d])
				copy(p.KV.B.Data, b[d:])
			}
			setLinear(r, p.Proj, h+"attention.out_proj")
			setNorm(r, p.Norm, h+"layernorm")
			setLinear(r, p.FC1, h+"mlp.fc1")
			setLinear(r, p.FC2, h+"mlp.fc2")
		}
	}
	return n
}

// dinov2Names is the layout of Dinov2Model and Dinov2WithRegistersModel.
func dinov2Names(src source) hfNames {
	pre := ""
	for _, p := range []string{"dinov2.", "dinov2_with_registers."} {
		if _, ok := src.shape(p + "embeddings.cls_token"); ok {
			pre = p
		}
	}
	n := hfNames{prefix: pre, layer: pre + "encoder.layer.%d", skip: []string{pre + "embeddings.mask_token"}, pos: pre + "embeddings.position_embeddings"}
	n.norm1 = "norm1"
	n.load = func(r *reader, m *vit.Model) {
		c := m.Config
		d := c.Dim
		e := pre + "embeddings."
		loadHFEmbeddings(r, m, e)
		if m.RegTokens != nil {
			set(m.RegTokens, r.get(e+"register_tokens", c.Registers, d))
		}
		bn := hfDinov2Block
		if c.FFN == "swiglu" {
			bn.fc1, bn.fc2 = "mlp.weights_in", "mlp.weights_out"
		}
		loadBlocks(r, m, n.layer, bn)
		setNorm(r, m.Norm, pre+"layernorm")
	}
	return n
}

// deitNames is the layout of DeiTForImageClassificationWithTeacher,
// DeiTForImageClassification (prefix deit.) and DeiTModel.
func deitNames(src source) hfNames {
	pre := ""
	if _, ok := src.shape("deit.embeddings.cls_token"); ok {
		pre = "deit."
	}
	n := hfNames{prefix: pre, layer: pre + "encoder.layer.%d", skip: []string{pre + "pooler.", pre + "embeddings.mask_token"}, pos: pre + "embeddings.position_embeddings"}
	n.norm1 = "layernorm_before"
	n.load = func(r *reader, m *vit.Model) {
		c := m.Config
		d := c.Dim
		e := pre + "embeddings."
		loadHFEmbeddings(r, m, e)
		set(m.DistToken, r.get(e+"distillation_token", d))
		loadBlocks(r, m, n.layer, hfViTBlock)
		setNorm(r, m.Norm, pre+"layernorm")
		switch {
		case m.HeadDist != nil:
			setLinear(r, m.Head, "cls_classifier")
			setLinear(r, m.HeadDist, "distillation_classifier")
		case r.has("classifier.weight"):
			setLinear(r, m.Head, "classifier")
		}
	}
	return n
}

// hfProcessor is the part of a Hugging Face image processor's
// preprocessor_config.json the encoders' loader reads. size and crop_size
// are a number, {"height", "width"} or {"shortest_edge"}.
type hfProcessor struct {
	DoResize     *bool           `json:"do_resize"`
	Size         json.RawMessage `json:"size"`
	DoCenterCrop *bool           `json:"do_center_crop"`
	CropSize     json.RawMessage `json:"crop_size"`
	Resample     *int            `json:"resample"`
	DoNormalize  *bool           `json:"do_normalize"`
	ImageMean    []float32       `json:"image_mean"`
	ImageStd     []float32       `json:"image_std"`
}

// hfSize is a processor size: height and width, or a shortest edge.
type hfSize struct {
	Height        int `json:"height"`
	Width         int `json:"width"`
	ShortestEdge  int `json:"shortest_edge"`
	set, shortest bool
}

// parseHFSize reads a processor size; a bare number is a shortest edge
// when short is set (CLIP's and DINOv2's processors), else a square.
func parseHFSize(raw json.RawMessage, short bool, field string) (hfSize, error) {
	var s hfSize
	if len(raw) == 0 || string(raw) == "null" {
		return s, nil
	}
	var n int
	if json.Unmarshal(raw, &n) == nil {
		if short {
			return hfSize{ShortestEdge: n, set: true, shortest: true}, nil
		}
		return hfSize{Height: n, Width: n, set: true}, nil
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return s, fmt.Errorf("%s is %s: want a number, {\"height\", \"width\"} or {\"shortest_edge\"}", field, raw)
	}
	s.set, s.shortest = true, s.ShortestEdge > 0
	if !s.shortest && (s.Height <= 0 || s.Width <= 0) {
		return s, fmt.Errorf("%s is %s: want positive sides", field, raw)
	}
	if s.ShortestEdge < 0 || s.ShortestEdge > vit.MaxSide || s.Height > vit.MaxSide || s.Width > vit.MaxSide {
		return s, fmt.Errorf("%s is %s: sides must be in [1, %d]", field, raw, vit.MaxSide)
	}
	return s, nil
}

// hfEncoderPreprocessor sets c's input size, resize, crop and
// normalisation from the folder's preprocessor_config.json (CLIP: short
// side, centre crop; SigLIP: square resize; DINOv2: short side 256, crop
// 224; DeiT: square 256, crop 224), or from the processor class's
// defaults when there is none.
func hfEncoderPreprocessor(dir, kind string, c *vit.Config, p *Pretrained) error {
	path := filepath.Join(dir, hfPreprocessorFile)
	b, err := readConfig(path)
	if errors.Is(err, fs.ErrNotExist) {
		p.note("no %s: images are resized to %d×%d bicubically, with no normalisation", hfPreprocessorFile, c.ImageHeight, c.ImageWidth)
		c.Resample = "bicubic"
		return nil
	}
	if err != nil {
		return err
	}
	var pp hfProcessor
	if err := json.Unmarshal(b, &pp); err != nil {
		return fmt.Errorf("loading Hugging Face model: %s: %w", path, err)
	}
	bad := func(err error) error { return fmt.Errorf("loading Hugging Face model: %s: %w", path, err) }
	short := kind == "clip" || kind == "dinov2"
	size, err := parseHFSize(pp.Size, short, "size")
	if err != nil {
		return bad(err)
	}
	crop, err := parseHFSize(pp.CropSize, false, "crop_size")
	if err != nil {
		return bad(err)
	}
	if crop.shortest {
		return bad(fmt.Errorf("crop_size %s: want {\"height\", \"width\"}", pp.CropSize))
	}
	doCrop := orDefault(pp.DoCenterCrop, crop.set) && crop.set
	if !orDefault(pp.DoResize, true) {
		return bad(errors.New("do_resize is false: a model needs images of its input size"))
	}
	switch {
	case doCrop && size.shortest:
		c.ImageHeight, c.ImageWidth, c.ResizeShort = crop.Height, crop.Width, size.ShortestEdge
	case doCrop && size.set && size.Height == size.Width:
		c.ImageHeight, c.ImageWidth, c.ResizeTo = crop.Height, crop.Width, size.Height
	case doCrop && size.set:
		return bad(fmt.Errorf("a %d×%d resize before a centre crop is not supported (only square or shortest_edge)", size.Width, size.Height))
	case size.shortest:
		return bad(errors.New("a shortest_edge resize without a centre crop gives images of any size: not supported"))
	case size.set:
		c.ImageHeight, c.ImageWidth = size.Height, size.Width
	}
	if r := orDefault(pp.Resample, 3); r >= 0 && r < len(pillowFilters) {
		c.Resample = pillowFilters[r]
	} else {
		return bad(fmt.Errorf("unknown resample filter %d", r))
	}
	if !orDefault(pp.DoNormalize, true) {
		return nil
	}
	mean, std := pp.ImageMean, pp.ImageStd
	if mean == nil && std == nil {
		return bad(errors.New("no image_mean and image_std"))
	}
	return setNormalisation(c, mean, std, path)
}
