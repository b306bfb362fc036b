#!/usr/bin/python3
"""Writes small random CLIP and SigLIP text towers in Hugging Face's exact
layout (config.json, model.safetensors with transformers' key names) and
the goldens the Go tests compare with. Run from this folder with Debian's
/usr/bin/python3 (python3-torch, python3-regex, python3-sentencepiece);
tests never run it.

The reference forward passes are written here from transformers'
modeling_clip.py (CLIPTextTransformer, CLIPModel.get_text_features) and
modeling_siglip.py (SiglipTextTransformer, SiglipModel), since
transformers itself cannot be installed. The token ids come from the
tokenizer references of ../../tokenizer/testdata/gen_goldens.py over its
vocabularies.

clip/        CLIPModel: legacy eos_token_id 2 (pooled at the largest id),
             quick_gelu, text_projection, logit_scale; a vision tensor
             the text loader must leave alone.
clip_text/   CLIPTextModelWithProjection: eos_token_id 913, exact gelu.
siglip/      SiglipModel: gelu_pytorch_tanh, head, logit_scale, logit_bias.
openclip/    the clip/ tower in OpenCLIP's layout (open_clip_config.json,
             open_clip_model.safetensors: transformer.resblocks.N with a
             stacked in_proj, text_projection as [width, embed_dim]): its
             embeddings are clip/'s.
goldens.json per model: texts, ids, text embeddings (get_text_features),
             and zero-shot probabilities of fixed image embeddings.
"""
import json
import math
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, "../../tokenizer/testdata")
import gen_goldens as tokref  # noqa: E402

TOK = "../../tokenizer/testdata"

TEXTS = ["a photo of a cat.", "a photo of a dog.", "", "Café ❤️ 猫 ΟΔΟΣ — long " + "text " * 90, "A PHOTO OF THE ZEBRA!"]
LABELS = ["cat", "dog", "car", "zebra"]
TEMPLATE = "a photo of a {}."


def act_fn(name):
    if name == "quick_gelu":
        return lambda x: x * torch.sigmoid(1.702 * x)
    if name == "gelu":
        return F.gelu
    if name in ("gelu_pytorch_tanh", "gelu_new"):
        return lambda x: F.gelu(x, approximate="tanh")
    raise ValueError(name)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["hidden_size"]
        self.heads, self.dh = c["num_attention_heads"], d // c["num_attention_heads"]
        self.scale = self.dh ** -0.5
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(d, d) for _ in range(4))

    def forward(self, x, mask):
        b, t, d = x.shape
        shape = lambda y: y.view(b, t, self.heads, self.dh).transpose(1, 2)
        q = shape(self.q_proj(x) * self.scale)
        k, v = shape(self.k_proj(x)), shape(self.v_proj(x))
        w = q @ k.transpose(-1, -2)
        if mask is not None:
            w = w + mask
        w = F.softmax(w, dim=-1, dtype=torch.float32)
        return self.out_proj((w @ v).transpose(1, 2).reshape(b, t, d))


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.act = act_fn(c["hidden_act"])
        self.fc1 = nn.Linear(c["hidden_size"], c["intermediate_size"])
        self.fc2 = nn.Linear(c["intermediate_size"], c["hidden_size"])

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class EncoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, eps = c["hidden_size"], c["layer_norm_eps"]
        self.self_attn = Attention(c)
        self.layer_norm1 = nn.LayerNorm(d, eps=eps)
        self.mlp = MLP(c)
        self.layer_norm2 = nn.LayerNorm(d, eps=eps)

    def forward(self, x, mask):
        x = x + self.self_attn(self.layer_norm1(x), mask)
        return x + self.mlp(self.layer_norm2(x))


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layers = nn.ModuleList(EncoderLayer(c) for _ in range(c["num_hidden_layers"]))


class Embeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.token_embedding = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.position_embedding = nn.Embedding(c["max_position_embeddings"], c["hidden_size"])

    def forward(self, ids):
        pos = torch.arange(ids.shape[1]).unsqueeze(0)
        return self.token_embedding(ids) + self.position_embedding(pos)


class TextTransformer(nn.Module):
    """CLIPTextTransformer (causal) or SiglipTextTransformer (with head)."""

    def __init__(self, c, siglip):
        super().__init__()
        self.c, self.siglip = c, siglip
        self.embeddings = Embeddings(c)
        self.encoder = Encoder(c)
        self.final_layer_norm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        if siglip:
            self.head = nn.Linear(c["hidden_size"], c.get("projection_size", c["hidden_size"]))

    def forward(self, ids):
        x = self.embeddings(ids)
        t = ids.shape[1]
        mask = None
        if not self.siglip:  # CLIP's causal mask: finfo.min above the diagonal
            mask = torch.full((t, t), torch.finfo(x.dtype).min).triu(1)[None, None]
        for layer in self.encoder.layers:
            x = layer(x, mask)
        x = self.final_layer_norm(x)
        if self.siglip:
            return self.head(x[:, -1, :])
        eos = self.c["eos_token_id"]
        if eos == 2:
            idx = ids.to(torch.int).argmax(dim=-1)
        else:
            idx = (ids.to(torch.int) == eos).int().argmax(dim=-1)
        return x[torch.arange(x.shape[0]), idx]


def save_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        b = t.detach().to(torch.float32).contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def randomize(module, gen):
    with torch.no_grad():
        for name, p in module.named_parameters():
            if "layer_norm" in name and name.endswith("weight"):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(0.5 * torch.randn(p.shape, generator=gen))


def build(name, config, text_cfg, siglip, extra, gen):
    os.makedirs(name, exist_ok=True)
    tt = TextTransformer(text_cfg, siglip)
    randomize(tt, gen)
    tensors = {"text_model." + k: v for k, v in tt.state_dict().items()}
    proj = None
    if not siglip and "projection_dim" in extra:
        proj = nn.Linear(text_cfg["hidden_size"], extra["projection_dim"], bias=False)
        randomize(proj, gen)
        tensors["text_projection.weight"] = proj.weight
    tensors.update(extra.get("tensors", {}))
    save_safetensors(os.path.join(name, "model.safetensors"), tensors)
    if name == "clip":
        save_openclip(tensors, text_cfg, extra["projection_dim"])
    with open(os.path.join(name, "config.json"), "w") as f:
        json.dump(config, f, indent=2)

    def features(ids):
        with torch.no_grad():
            y = tt(torch.tensor(ids))
            return proj(y) if proj is not None else y
    return features


def save_openclip(t, c, embed_dim):
    """Writes the CLIP tower t (transformers' names) as OpenCLIP names it."""
    os.makedirs("openclip", exist_ok=True)
    o = {"token_embedding.weight": t["text_model.embeddings.token_embedding.weight"],
         "positional_embedding": t["text_model.embeddings.position_embedding.weight"],
         "ln_final.weight": t["text_model.final_layer_norm.weight"], "ln_final.bias": t["text_model.final_layer_norm.bias"],
         "text_projection": t["text_projection.weight"].t(), "logit_scale": t["logit_scale"],
         "visual.proj": t["visual_projection.weight"].t()}
    for i in range(c["num_hidden_layers"]):
        h, p = f"text_model.encoder.layers.{i}.", f"transformer.resblocks.{i}."
        o[p + "attn.in_proj_weight"] = torch.cat([t[h + f"self_attn.{n}_proj.weight"] for n in "qkv"])
        o[p + "attn.in_proj_bias"] = torch.cat([t[h + f"self_attn.{n}_proj.bias"] for n in "qkv"])
        for a, b in [("attn.out_proj", "self_attn.out_proj"), ("ln_1", "layer_norm1"), ("ln_2", "layer_norm2"),
                     ("mlp.c_fc", "mlp.fc1"), ("mlp.c_proj", "mlp.fc2")]:
            o[p + a + ".weight"], o[p + a + ".bias"] = t[h + b + ".weight"], t[h + b + ".bias"]
    save_safetensors("openclip/open_clip_model.safetensors", o)
    cfg = {"model_cfg": {"embed_dim": embed_dim, "quick_gelu": True,
                         "vision_cfg": {"image_size": 16, "layers": 1, "width": 8, "patch_size": 8},
                         "text_cfg": {"context_length": c["max_position_embeddings"], "vocab_size": c["vocab_size"],
                                      "width": c["hidden_size"], "heads": c["num_attention_heads"],
                                      "layers": c["num_hidden_layers"], "mlp_ratio": c["intermediate_size"] / c["hidden_size"]}},
           "preprocess_cfg": {"mean": [0.48145466, 0.4578275, 0.40821073], "std": [0.26862954, 0.26130258, 0.27577711]}}
    with open("openclip/open_clip_config.json", "w") as f:
        json.dump(cfg, f, indent=2)


def zeroshot(text_emb, image_emb, scale, bias, siglip):
    t = F.normalize(text_emb, dim=-1)
    i = F.normalize(image_emb, dim=-1)
    logits = i @ t.t() * math.exp(scale)
    if siglip:
        return torch.sigmoid(logits + bias)
    return logits.softmax(dim=-1)


def main():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1234)
    clip_tok = tokref.SimpleTokenizer(json.load(open(f"{TOK}/clip/vocab.json", encoding="utf-8")),
                                      [tuple(l.split()) for l in open(f"{TOK}/clip/merges.txt", encoding="utf-8").read().strip().split("\n")[1:]])
    sig_tok = tokref.SiglipTokenizer(f"{TOK}/siglip/spiece.model")
    vocab = len(clip_tok.encoder)
    sig_vocab = sig_tok.sp.get_piece_size()
    gold = {}

    clip_text = dict(model_type="clip_text_model", vocab_size=vocab, hidden_size=16, intermediate_size=32,
                     num_hidden_layers=2, num_attention_heads=2, max_position_embeddings=77,
                     hidden_act="quick_gelu", layer_norm_eps=1e-5, bos_token_id=0, eos_token_id=2, pad_token_id=1)
    clip_cfg = dict(architectures=["CLIPModel"], model_type="clip", projection_dim=12, logit_scale_init_value=2.6592,
                    text_config=clip_text, vision_config=dict(model_type="clip_vision_model", hidden_size=8, projection_dim=12))
    scale = torch.tensor(2.6592 + 0.3)
    f = build("clip", clip_cfg, clip_text, False, dict(projection_dim=12, tensors={
        "logit_scale": scale, "visual_projection.weight": torch.randn(12, 8, generator=gen)}), gen)
    gold["clip"] = run(f, clip_tok.tokenize, scale.item(), 0.0, False, 12, gen)

    ct = dict(clip_text, eos_token_id=vocab - 1, hidden_act="gelu", projection_dim=10, architectures=["CLIPTextModelWithProjection"])
    f = build("clip_text", ct, ct, False, dict(projection_dim=10), gen)
    gold["clip_text"] = run(f, clip_tok.tokenize, None, None, False, 10, gen)

    sig_text = dict(model_type="siglip_text_model", vocab_size=sig_vocab, hidden_size=16, intermediate_size=32,
                    num_hidden_layers=2, num_attention_heads=2, max_position_embeddings=64,
                    hidden_act="gelu_pytorch_tanh", layer_norm_eps=1e-6, projection_size=16)
    sig_cfg = dict(architectures=["SiglipModel"], model_type="siglip", text_config=sig_text,
                   vision_config=dict(model_type="siglip_vision_model", hidden_size=16))
    scale, bias = torch.tensor([math.log(10.0) + 0.2]), torch.tensor([-2.5])
    f = build("siglip", sig_cfg, sig_text, True, dict(tensors={"logit_scale": scale, "logit_bias": bias}), gen)
    gold["siglip"] = run(f, sig_tok, scale.item(), bias.item(), True, 16, gen)

    with open("goldens.json", "w", encoding="utf-8") as fo:
        json.dump(gold, fo, ensure_ascii=False)


def run(features, tokenize, scale, bias, siglip, out, gen):
    ids = [tokenize(t) for t in TEXTS]
    g = {"texts": TEXTS, "ids": ids, "embeddings": features(ids).tolist()}
    if scale is not None:
        label_ids = [tokenize(TEMPLATE.format(l)) for l in LABELS]
        images = torch.randn(3, out, generator=gen)
        images[0] = features(label_ids[0:1])[0] + 0.1 * images[0]  # one image near "cat"
        g.update(labels=LABELS, template=TEMPLATE, label_ids=label_ids, images=images.tolist(),
                 probs=zeroshot(features(label_ids), images, scale, bias, siglip).tolist())
    return g


if __name__ == "__main__":
    main()
