package checkpoint

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/internal/atomicfile"
	"github.com/vitgo/vit/safetensors"
)

// exportable reports why m cannot be written for another library, if it
// cannot.
func exportable(m *vit.Model, to string) error {
	if m.Config.Performer() {
		return fmt.Errorf("%s has no Performer attention: switch the model to softmax attention first", to)
	}
	if m.PosEmbed == nil {
		return fmt.Errorf("%s has no ViT with %s position embeddings: keep the model in vit's own format (checkpoint.Save)", to, m.Config.PosEmbed)
	}
	if m.Config.Encoder != (vit.Encoder{}) || m.Config.Pool == "avg" || m.Config.Pool == "map" {
		return fmt.Errorf("%s has no place for this encoder's modules (register or distillation tokens, LayerScale, pre-norm, attention pool, projection, pre-logits...): keep the model in vit's own format (checkpoint.Save)", to)
	}
	if len(m.Config.Stem) > 0 {
		return fmt.Errorf("%s has no ViT with this convolution stem (a hybrid): keep the model in vit's own format (checkpoint.Save)", to)
	}
	return nil
}

// labelsOf returns the class names, transformers' LABEL_i when unnamed.
func labelsOf(c vit.Config) []string {
	if len(c.Labels) == c.Classes {
		return c.Labels
	}
	l := make([]string, c.Classes)
	for i := range l {
		l[i] = "LABEL_" + strconv.Itoa(i)
	}
	return l
}

// imageSizeJSON is an int for a square image, else [height, width].
func imageSizeJSON(c vit.Config) any {
	if c.ImageHeight == c.ImageWidth {
		return c.ImageHeight
	}
	return []int{c.ImageHeight, c.ImageWidth}
}

// hfTensors returns m's tensors under ViTForImageClassification's names
// and shapes.
func hfTensors(m *vit.Model) []safetensors.Tensor {
	c := m.Config
	d := c.Dim
	ts := []safetensors.Tensor{
		{Name: "vit.embeddings.cls_token", Shape: []int{1, 1, d}, Data: m.ClassToken.Data},
		{Name: "vit.embeddings.position_embeddings", Shape: []int{1, c.Tokens(), d}, Data: m.PosEmbed.Data},
		{Name: "vit.embeddings.patch_embeddings.projection.weight", Shape: []int{d, c.Channels, c.Patch, c.Patch}, Data: m.PatchEmbed.W.Data},
		{Name: "vit.embeddings.patch_embeddings.projection.bias", Shape: []int{d}, Data: m.PatchEmbed.B.Data},
		{Name: "vit.layernorm.weight", Shape: []int{d}, Data: m.Norm.G.Data},
		{Name: "vit.layernorm.bias", Shape: []int{d}, Data: m.Norm.B.Data},
		{Name: "classifier.weight", Shape: []int{c.Classes, d}, Data: m.Head.W.Data},
		{Name: "classifier.bias", Shape: []int{c.Classes}, Data: m.Head.B.Data},
	}
	for i, b := range m.Blocks {
		l := fmt.Sprintf("vit.encoder.layer.%d.", i)
		for j, n := range []string{"query", "key", "value"} {
			ts = append(ts, safetensors.Tensor{Name: l + "attention.attention." + n + ".weight", Shape: []int{d, d}, Data: b.QKV.W.Data[j*d*d : (j+1)*d*d]})
			if b.QKV.B != nil {
				ts = append(ts, safetensors.Tensor{Name: l + "attention.attention." + n + ".bias", Shape: []int{d}, Data: b.QKV.B.Data[j*d : (j+1)*d]})
			}
		}
		for _, x := range []struct {
			name string
			w, b []float32
			sh   []int
		}{
			{"attention.output.dense", b.Proj.W.Data, b.Proj.B.Data, []int{d, d}},
			{"layernorm_before", b.Norm1.G.Data, b.Norm1.B.Data, []int{d}},
			{"layernorm_after", b.Norm2.G.Data, b.Norm2.B.Data, []int{d}},
			{"intermediate.dense", b.FC1.W.Data, b.FC1.B.Data, []int{c.MLPDim, d}},
			{"output.dense", b.FC2.W.Data, b.FC2.B.Data, []int{d, c.MLPDim}},
		} {
			ts = append(ts,
				safetensors.Tensor{Name: l + x.name + ".weight", Shape: x.sh, Data: x.w},
				safetensors.Tensor{Name: l + x.name + ".bias", Shape: []int{x.sh[0]}, Data: x.b})
		}
	}
	return ts
}

// SaveHF writes m into dir (created if needed) as a Hugging Face
// transformers folder that ViTForImageClassification.from_pretrained
// reads: config.json (a ViTConfig), model.safetensors (float32, metadata
// format "pt", as transformers requires) and preprocessor_config.json (a
// ViTImageProcessor with the model's normalisation and resampling filter,
// resizing the whole image to the model's size: a CropPct is lost). Hugging Face's ViT pools a class token, so a
// model with pool "gap" cannot be written, nor one with Performer
// attention.
func SaveHF(dir string, m *vit.Model) error {
	c := m.Config
	if err := exportable(m, "Hugging Face ViT"); err != nil {
		return err
	}
	if !c.ClassToken() {
		return fmt.Errorf("Hugging Face ViT pools a class token; this model averages the tokens (pool gap): save it with --format timm or vit")
	}
	labels := labelsOf(c)
	id2label := map[string]string{}
	label2id := map[string]int{}
	for i, l := range labels {
		id2label[strconv.Itoa(i)] = l
		label2id[l] = i
	}
	cfg := struct {
		Architectures             []string          `json:"architectures"`
		ModelType                 string            `json:"model_type"`
		HiddenSize                int               `json:"hidden_size"`
		NumHiddenLayers           int               `json:"num_hidden_layers"`
		NumAttentionHeads         int               `json:"num_attention_heads"`
		IntermediateSize          int               `json:"intermediate_size"`
		HiddenAct                 string            `json:"hidden_act"`
		HiddenDropoutProb         float64           `json:"hidden_dropout_prob"`
		AttentionProbsDropoutProb float64           `json:"attention_probs_dropout_prob"`
		InitializerRange          float64           `json:"initializer_range"`
		LayerNormEps              float64           `json:"layer_norm_eps"`
		ImageSize                 any               `json:"image_size"`
		PatchSize                 int               `json:"patch_size"`
		NumChannels               int               `json:"num_channels"`
		QKVBias                   bool              `json:"qkv_bias"`
		EncoderStride             int               `json:"encoder_stride"`
		ID2Label                  map[string]string `json:"id2label"`
		Label2ID                  map[string]int    `json:"label2id"`
		TorchDtype                string            `json:"torch_dtype"`
	}{
		[]string{"ViTForImageClassification"}, "vit", c.Dim, c.Depth, c.Heads, c.MLPDim, "gelu", 0, 0, 0.02,
		roundEps(c.Eps()), imageSizeJSON(c), c.Patch, c.Channels, !c.NoQKVBias, c.Patch, id2label, label2id, "float32",
	}
	mean, std, normalize := c.Mean, c.Std, true
	if mean == nil {
		mean, std, normalize = make([]float32, c.Channels), make([]float32, c.Channels), false
		for i := range std {
			mean[i], std[i] = 0.5, 0.5
		}
	}
	resample := 2 // bilinear, ViTImageProcessor's default
	if i := slices.Index(pillowFilters, c.Resample); i >= 0 {
		resample = i
	}
	pre := struct {
		DoNormalize        bool           `json:"do_normalize"`
		DoRescale          bool           `json:"do_rescale"`
		DoResize           bool           `json:"do_resize"`
		ImageMean          []float32      `json:"image_mean"`
		ImageStd           []float32      `json:"image_std"`
		ImageProcessorType string         `json:"image_processor_type"`
		Resample           int            `json:"resample"`
		RescaleFactor      float64        `json:"rescale_factor"`
		Size               map[string]int `json:"size"`
	}{normalize, true, true, mean, std, "ViTImageProcessor", resample, 1.0 / 255, map[string]int{"height": c.ImageHeight, "width": c.ImageWidth}}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := safetensors.WriteFile(filepath.Join(dir, WeightsFile), hfTensors(m), map[string]string{"format": "pt"}); err != nil {
		return fmt.Errorf("saving %s: %w", dir, err)
	}
	if err := writeJSON(filepath.Join(dir, ConfigFile), cfg); err != nil {
		return err
	}
	return writeJSON(filepath.Join(dir, hfPreprocessorFile), pre)
}

// roundEps turns a float32 epsilon into the decimal it was written as
// (float32(1e-12) prints as 9.999999960041972e-13 otherwise).
func roundEps(e float32) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(float64(e), 'g', -1, 32), 64)
	return v
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	}, 0o644)
}

// timmSizes names timm's standard ViT widths.
var timmSizes = map[[4]int]string{
	{192, 12, 3, 768}: "tiny", {384, 12, 6, 1536}: "small", {768, 12, 12, 3072}: "base",
	{1024, 24, 16, 4096}: "large", {1280, 32, 16, 5120}: "huge",
}

// SaveTimm writes m into dir as a timm folder: model.safetensors under
// timm's names and shapes and a config.json as timm's push_to_hub writes
// it, with model_args giving every dimension (timm.create_model
// "hf-hub:…" or "local-dir:…" rebuilds it) and pretrained_cfg the input
// size and normalisation. timm's VisionTransformer uses LayerNorm eps
// 1e-6 whatever the model's; a model with pool "gap" is written with
// class_token false, global_pool "avg" and fc_norm false.
func SaveTimm(dir string, m *vit.Model) error {
	c := m.Config
	if err := exportable(m, "timm's VisionTransformer"); err != nil {
		return err
	}
	d := c.Dim
	ts := []safetensors.Tensor{
		{Name: "patch_embed.proj.weight", Shape: []int{d, c.Channels, c.Patch, c.Patch}, Data: m.PatchEmbed.W.Data},
		{Name: "patch_embed.proj.bias", Shape: []int{d}, Data: m.PatchEmbed.B.Data},
		{Name: "pos_embed", Shape: []int{1, c.Tokens(), d}, Data: m.PosEmbed.Data},
	}
	if m.ClassToken != nil {
		ts = append(ts, safetensors.Tensor{Name: "cls_token", Shape: []int{1, 1, d}, Data: m.ClassToken.Data})
	}
	for _, p := range m.Params() {
		if p.Name == "patch_embed.weight" || p.Name == "patch_embed.bias" || p.Name == "pos_embed" || p.Name == "cls_token" || p.Buffer && p != m.PosEmbed {
			continue
		}
		ts = append(ts, safetensors.Tensor{Name: p.Name, Shape: p.Shape, Data: p.Data})
	}
	arch := "vit_base_patch16_224"
	if size, ok := timmSizes[[4]int{c.Dim, c.Depth, c.Heads, c.MLPDim}]; ok && c.ImageHeight == c.ImageWidth {
		arch = fmt.Sprintf("vit_%s_patch%d_%d", size, c.Patch, c.ImageHeight)
	}
	pool := "token"
	if !c.ClassToken() {
		pool = "avg"
	}
	mean, std := c.Mean, c.Std
	if mean == nil {
		mean, std = make([]float32, c.Channels), make([]float32, c.Channels)
		for i := range std {
			std[i] = 1
		}
	}
	interp, crop := c.Resample, float64(c.CropPct)
	if interp == "" {
		interp = "bilinear"
	}
	if crop == 0 {
		crop = 1 // resize the whole image (timm then centre-crops non-square inputs)
	}
	type obj = map[string]any
	cfg := obj{
		"architecture": arch,
		"num_classes":  c.Classes,
		"num_features": d,
		"global_pool":  pool,
		"model_args": obj{
			"img_size": []int{c.ImageHeight, c.ImageWidth}, "patch_size": c.Patch, "in_chans": c.Channels,
			"embed_dim": d, "depth": c.Depth, "num_heads": c.Heads, "mlp_ratio": float64(c.MLPDim) / float64(d),
			"qkv_bias": !c.NoQKVBias, "class_token": c.ClassToken(), "global_pool": pool, "fc_norm": false,
			"num_classes": c.Classes,
		},
		"pretrained_cfg": obj{
			"input_size": []int{c.Channels, c.ImageHeight, c.ImageWidth}, "fixed_input_size": true,
			"interpolation": interp, "crop_pct": crop, "crop_mode": "center",
			"mean": mean, "std": std, "num_classes": c.Classes,
			"first_conv": "patch_embed.proj", "classifier": "head",
		},
	}
	if len(c.Labels) == c.Classes {
		cfg["label_names"] = c.Labels
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := safetensors.WriteFile(filepath.Join(dir, WeightsFile), ts, map[string]string{"format": "pt"}); err != nil {
		return fmt.Errorf("saving %s: %w", dir, err)
	}
	return writeJSON(filepath.Join(dir, ConfigFile), cfg)
}
