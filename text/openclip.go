package text

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vitgo/vit/checkpoint"
	"github.com/vitgo/vit/internal/boundedread"
)

// openCLIPConfig is the part of open_clip_config.json the loader reads:
// model_cfg with open_clip's CLIPTextCfg; absent fields take its defaults.
type openCLIPConfig struct {
	ModelCfg struct {
		EmbedDim  *int  `json:"embed_dim"`
		QuickGELU *bool `json:"quick_gelu"`
		TextCfg   struct {
			ContextLength *int            `json:"context_length"`
			VocabSize     *int            `json:"vocab_size"`
			Width         *int            `json:"width"`
			Heads         *int            `json:"heads"`
			Layers        *int            `json:"layers"`
			MLPRatio      *float64        `json:"mlp_ratio"`
			LSInitValue   *float64        `json:"ls_init_value"`
			PoolType      *string         `json:"pool_type"`
			NoCausalMask  *bool           `json:"no_causal_mask"`
			ProjBias      *bool           `json:"proj_bias"`
			EmbedCls      *bool           `json:"embed_cls"`
			FinalLNAfter  *bool           `json:"final_ln_after_pool"`
			HFModelName   *string         `json:"hf_model_name"`
			NormKwargs    json.RawMessage `json:"norm_kwargs"`
			ActKwargs     json.RawMessage `json:"act_kwargs"`
		} `json:"text_cfg"`
	} `json:"model_cfg"`
}

// ParseOpenCLIPConfig reads an open_clip_config.json into a text tower's
// Config. Only OpenCLIP's own CLIP text Transformer is accepted (causal,
// pooled at the largest id, a bias-free projection, LayerNorm ε 1e-5):
// towers built from a Hugging Face model, with LayerScale, a class token
// or other pooling are refused by name.
func ParseOpenCLIPConfig(b []byte) (Config, error) {
	var oc openCLIPConfig
	if err := json.Unmarshal(b, &oc); err != nil {
		return Config{}, err
	}
	tc := oc.ModelCfg.TextCfg
	switch {
	case tc.HFModelName != nil:
		return Config{}, fmt.Errorf("text_cfg.hf_model_name %q: OpenCLIP towers built from Hugging Face models are not supported", *tc.HFModelName)
	case tc.LSInitValue != nil:
		return Config{}, fmt.Errorf("text_cfg.ls_init_value: LayerScale in the text tower is not supported")
	case orDefault(tc.PoolType, "argmax") != "argmax":
		return Config{}, fmt.Errorf("text_cfg.pool_type %q is not supported (only argmax)", *tc.PoolType)
	case orDefault(tc.NoCausalMask, false), orDefault(tc.ProjBias, false), orDefault(tc.EmbedCls, false), orDefault(tc.FinalLNAfter, false):
		return Config{}, fmt.Errorf("text_cfg: no_causal_mask, proj_bias, embed_cls and final_ln_after_pool are not supported")
	case len(tc.NormKwargs) > 0 && string(tc.NormKwargs) != "null" && string(tc.NormKwargs) != "{}",
		len(tc.ActKwargs) > 0 && string(tc.ActKwargs) != "null" && string(tc.ActKwargs) != "{}":
		return Config{}, fmt.Errorf("text_cfg: norm_kwargs and act_kwargs are not supported")
	}
	width := orDefault(tc.Width, 512)
	ratio := orDefault(tc.MLPRatio, 4)
	if !(ratio > 0 && ratio < 1<<10) {
		return Config{}, fmt.Errorf("text_cfg.mlp_ratio %v", ratio)
	}
	act := ActGELU
	if orDefault(oc.ModelCfg.QuickGELU, false) {
		act = ActQuickGELU
	}
	c := Config{
		Kind: CLIP, Vocab: orDefault(tc.VocabSize, 49408), Positions: orDefault(tc.ContextLength, 77),
		Dim: width, Depth: orDefault(tc.Layers, 12), Heads: orDefault(tc.Heads, 8), MLPDim: int(float64(width) * ratio),
		Act: act, Eps: 1e-5, Out: orDefault(oc.ModelCfg.EmbedDim, 512), EOS: 2, // argmax pooling
	}
	return c, c.Validate()
}

// openCLIPLayout is OpenCLIP's naming of its CLIP model's text tower.
func openCLIPLayout() layout {
	return layout{
		tokenEmbed: "token_embedding.weight", posEmbed: "positional_embedding", finalNorm: "ln_final",
		layer: "transformer.resblocks.%d.", norm1: "ln_1", norm2: "ln_2", fc1: "mlp.c_fc", fc2: "mlp.c_proj",
		outProj: "attn.out_proj", qkv: "attn.in_proj", proj: "text_projection", projTransposed: true,
		ignore: []string{"attn_mask"},
	}
}

// LoadOpenCLIP reads the text tower of an OpenCLIP model as the Hugging
// Face hub stores one: open_clip_config.json beside
// open_clip_model.safetensors or open_clip_pytorch_model.bin. The
// activation is QuickGELU when model_cfg.quick_gelu says so (OpenAI's
// weights), else GELU, as open_clip builds it.
func LoadOpenCLIP(ctx context.Context, dir string) (*Model, error) {
	cfgPath := filepath.Join(dir, checkpoint.OpenCLIPConfigFile)
	b, err := boundedread.File(cfgPath, maxConfigBytes)
	if err != nil {
		return nil, fmt.Errorf("loading OpenCLIP text tower: %w", err)
	}
	c, err := ParseOpenCLIPConfig(b)
	if err != nil {
		return nil, fmt.Errorf("loading OpenCLIP text tower: %s: %w", cfgPath, err)
	}
	path := filepath.Join(dir, checkpoint.OpenCLIPWeights)
	if _, err := os.Stat(path); err != nil {
		path = filepath.Join(dir, checkpoint.OpenCLIPTorchWeights)
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("loading OpenCLIP text tower: %s has no %s or %s", dir, checkpoint.OpenCLIPWeights, checkpoint.OpenCLIPTorchWeights)
		}
	}
	t, err := checkpoint.OpenTensors(path)
	if err != nil {
		return nil, fmt.Errorf("loading OpenCLIP text tower: %w", err)
	}
	defer t.Close()
	return load(ctx, c, weights{t}, openCLIPLayout())
}
