#!/usr/bin/python3
"""Writes the pretrained-checkpoint goldens of package checkpoint.

Run with Debian's python3 (torch 1.13, numpy, scipy):

    /usr/bin/python3 checkpoint/testdata/gen.py

It builds tiny random Vision Transformers as torch modules that reproduce the
forward passes of Hugging Face's ViTForImageClassification / ViTModel and of
timm's VisionTransformer (pre-LayerNorm blocks, exact GELU, softmax attention
scaled by dh^-0.5), saves them in the three public layouts (a Hugging Face
folder, a timm folder, the official JAX .npz and big_vision's variant), and
records in golden.safetensors a fixed input batch and the logits of the torch
modules, at the native resolution and at a larger one after the position
embeddings are resampled by each convention:

  bicubic            F.interpolate(size=..., mode="bicubic", align_corners=False)
                     (HF ViTEmbeddings.interpolate_pos_encoding)
  bicubic-antialias  the same with antialias=True (timm resample_abs_pos_embed)
  bilinear-jax       scipy.ndimage.zoom(order=1) (vit_jax checkpoint.interpolate_posembed)

Nothing here runs at test time: the Go tests read the files it writes.
"""

import json
import os
import struct
from collections import OrderedDict

import numpy as np
import scipy.ndimage
import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(20240611)
np.random.seed(7)


def write_safetensors(path, tensors, metadata=None):
    """Writes a safetensors file by hand: u64 header length, JSON, data."""
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    blobs, off = [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(np.asarray(tensors[name], dtype="<f4"))
        b = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def sd_numpy(module):
    return {k: v.detach().cpu().numpy().astype(np.float32) for k, v in module.state_dict().items()}


# ---------------------------------------------------------------- timm layout

class TimmAttention(nn.Module):
    def __init__(self, dim, heads, qkv_bias):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        dh = c // self.heads
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, dh).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        a = ((q * dh ** -0.5) @ k.transpose(-2, -1)).softmax(dim=-1)
        return self.proj((a @ v).transpose(1, 2).reshape(b, n, c))


class TimmMlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class TimmBlock(nn.Module):
    def __init__(self, dim, heads, mlp, qkv_bias, eps):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = TimmAttention(dim, heads, qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = TimmMlp(dim, mlp)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TimmViT(nn.Module):
    """timm's VisionTransformer: class token (or global average pool with
    the final norm before pooling, fc_norm=False), optional pre_logits."""

    def __init__(self, grid, chans, patch, dim, depth, heads, mlp, classes, qkv_bias=True,
                 class_token=True, representation=0, eps=1e-6):
        super().__init__()
        self.class_token = class_token
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(chans, dim, patch, patch)
        if class_token:
            self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        t = grid[0] * grid[1] + (1 if class_token else 0)
        self.pos_embed = nn.Parameter(torch.zeros(1, t, dim))
        self.blocks = nn.Sequential(*[TimmBlock(dim, heads, mlp, qkv_bias, eps) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=eps)
        self.representation = representation
        if representation:
            self.pre_logits = nn.Sequential(OrderedDict([("fc", nn.Linear(dim, representation)), ("act", nn.Tanh())]))
        self.head = nn.Linear(representation or dim, classes)

    def forward(self, x, pos=None):
        x = self.patch_embed.proj(x).flatten(2).transpose(1, 2)
        if self.class_token:
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = x + (self.pos_embed if pos is None else pos)
        x = self.norm(self.blocks(x))
        x = x[:, 0] if self.class_token else x.mean(dim=1)
        if self.representation:
            x = self.pre_logits(x)
        return self.head(x)


# ------------------------------------------------------- Hugging Face layout

class Holder(nn.Module):
    pass


class HFLayer(nn.Module):
    def __init__(self, dim, heads, mlp, qkv_bias, eps):
        super().__init__()
        self.heads = heads
        self.attention = Holder()
        self.attention.attention = Holder()
        for n in ("query", "key", "value"):
            setattr(self.attention.attention, n, nn.Linear(dim, dim, bias=qkv_bias))
        self.attention.output = Holder()
        self.attention.output.dense = nn.Linear(dim, dim)
        self.intermediate = Holder()
        self.intermediate.dense = nn.Linear(dim, mlp)
        self.output = Holder()
        self.output.dense = nn.Linear(mlp, dim)
        self.layernorm_before = nn.LayerNorm(dim, eps=eps)
        self.layernorm_after = nn.LayerNorm(dim, eps=eps)

    def forward(self, x):
        b, n, c = x.shape
        dh = c // self.heads
        h = self.layernorm_before(x)
        att = self.attention.attention

        def split(t):
            return t.view(b, n, self.heads, dh).permute(0, 2, 1, 3)

        q, k, v = split(att.query(h)), split(att.key(h)), split(att.value(h))
        p = (q @ k.transpose(-1, -2) / dh ** 0.5).softmax(dim=-1)
        ctx = (p @ v).permute(0, 2, 1, 3).reshape(b, n, c)
        x = self.attention.output.dense(ctx) + x
        h = F.gelu(self.intermediate.dense(self.layernorm_after(x)))
        return self.output.dense(h) + x


class HFViT(nn.Module):
    """ViTModel (pooler, no classifier) or the body of ViTForImageClassification."""

    def __init__(self, grid, chans, patch, dim, depth, heads, mlp, qkv_bias, eps, pooler):
        super().__init__()
        self.embeddings = Holder()
        self.embeddings.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.embeddings.position_embeddings = nn.Parameter(torch.zeros(1, grid[0] * grid[1] + 1, dim))
        self.embeddings.patch_embeddings = Holder()
        self.embeddings.patch_embeddings.projection = nn.Conv2d(chans, dim, patch, patch)
        self.encoder = Holder()
        self.encoder.layer = nn.ModuleList([HFLayer(dim, heads, mlp, qkv_bias, eps) for _ in range(depth)])
        self.layernorm = nn.LayerNorm(dim, eps=eps)
        if pooler:
            self.pooler = Holder()
            self.pooler.dense = nn.Linear(dim, dim)

    def forward(self, x, pos=None):
        e = self.embeddings
        x = e.patch_embeddings.projection(x).flatten(2).transpose(1, 2)
        x = torch.cat([e.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = x + (e.position_embeddings if pos is None else pos)
        for layer in self.encoder.layer:
            x = layer(x)
        return self.layernorm(x)


class HFForImageClassification(nn.Module):
    def __init__(self, classes, **kw):
        super().__init__()
        self.vit = HFViT(pooler=False, **kw)
        self.classifier = nn.Linear(kw["dim"], classes)

    def forward(self, x, pos=None):
        return self.classifier(self.vit(x, pos)[:, 0])


def randomize(module, std=0.3):
    """Random weights large enough that every term matters."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.copy_(1 + 0.2 * torch.randn_like(p))
            else:
                p.copy_(std * torch.randn_like(p))


def timm_to_hf(sd, prefix="vit."):
    """Maps timm tensor names and layouts to Hugging Face's (independent of Go)."""
    d = sd["cls_token"].shape[-1]
    out = {
        prefix + "embeddings.cls_token": sd["cls_token"],
        prefix + "embeddings.position_embeddings": sd["pos_embed"],
        prefix + "embeddings.patch_embeddings.projection.weight": sd["patch_embed.proj.weight"],
        prefix + "embeddings.patch_embeddings.projection.bias": sd["patch_embed.proj.bias"],
        prefix + "layernorm.weight": sd["norm.weight"],
        prefix + "layernorm.bias": sd["norm.bias"],
    }
    i = 0
    while f"blocks.{i}.norm1.weight" in sd:
        s, h = f"blocks.{i}.", f"{prefix}encoder.layer.{i}."
        for j, n in enumerate(("query", "key", "value")):
            out[h + f"attention.attention.{n}.weight"] = sd[s + "attn.qkv.weight"][j * d:(j + 1) * d]
            if s + "attn.qkv.bias" in sd:
                out[h + f"attention.attention.{n}.bias"] = sd[s + "attn.qkv.bias"][j * d:(j + 1) * d]
        pairs = {"attention.output.dense": "attn.proj", "intermediate.dense": "mlp.fc1", "output.dense": "mlp.fc2",
                 "layernorm_before": "norm1", "layernorm_after": "norm2"}
        for hn, tn in pairs.items():
            out[h + hn + ".weight"] = sd[s + tn + ".weight"]
            out[h + hn + ".bias"] = sd[s + tn + ".bias"]
        i += 1
    if "head.weight" in sd and prefix:
        out["classifier.weight"] = sd["head.weight"]
        out["classifier.bias"] = sd["head.bias"]
    return out


def timm_to_jax(sd, heads, big_vision=False):
    """Maps timm tensors to the official JAX .npz layout (or big_vision's)."""
    p = "params/" if big_vision else ""
    w = {}
    w[p + "embedding/kernel"] = sd["patch_embed.proj.weight"].transpose(2, 3, 1, 0)  # OIHW -> HWIO
    w[p + "embedding/bias"] = sd["patch_embed.proj.bias"]
    if "cls_token" in sd:
        w[p + "cls"] = sd["cls_token"]
    w[p + ("pos_embedding" if big_vision else "Transformer/posembed_input/pos_embedding")] = sd["pos_embed"]
    ln0, ln1, mha, mlp = ("LayerNorm_0", "LayerNorm_1", "MultiHeadDotProductAttention_0", "MlpBlock_0") if big_vision \
        else ("LayerNorm_0", "LayerNorm_2", "MultiHeadDotProductAttention_1", "MlpBlock_3")
    d = sd["patch_embed.proj.weight"].shape[0]
    dh = d // heads
    i = 0
    while f"blocks.{i}.norm1.weight" in sd:
        s, b = f"blocks.{i}.", f"{p}Transformer/encoderblock_{i}/"
        w[b + ln0 + "/scale"], w[b + ln0 + "/bias"] = sd[s + "norm1.weight"], sd[s + "norm1.bias"]
        w[b + ln1 + "/scale"], w[b + ln1 + "/bias"] = sd[s + "norm2.weight"], sd[s + "norm2.bias"]
        for j, n in enumerate(("query", "key", "value")):
            w[b + f"{mha}/{n}/kernel"] = sd[s + "attn.qkv.weight"][j * d:(j + 1) * d].T.reshape(d, heads, dh)
            w[b + f"{mha}/{n}/bias"] = sd[s + "attn.qkv.bias"][j * d:(j + 1) * d].reshape(heads, dh)
        w[b + f"{mha}/out/kernel"] = sd[s + "attn.proj.weight"].T.reshape(heads, dh, d)
        w[b + f"{mha}/out/bias"] = sd[s + "attn.proj.bias"]
        for r, n in enumerate(("fc1", "fc2")):
            w[b + f"{mlp}/Dense_{r}/kernel"] = sd[s + f"mlp.{n}.weight"].T
            w[b + f"{mlp}/Dense_{r}/bias"] = sd[s + f"mlp.{n}.bias"]
        i += 1
    w[p + "Transformer/encoder_norm/scale"], w[p + "Transformer/encoder_norm/bias"] = sd["norm.weight"], sd["norm.bias"]
    w[p + "head/kernel"], w[p + "head/bias"] = sd["head.weight"].T, sd["head.bias"]
    if "pre_logits.fc.weight" in sd:
        w[p + "pre_logits/kernel"], w[p + "pre_logits/bias"] = sd["pre_logits.fc.weight"].T, sd["pre_logits.fc.bias"]
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in w.items()}


# ------------------------------------------------- position-embedding resampling

def resample(pos, old, new, method, class_token=True):
    """pos: [1, T, D] float32 torch tensor; old, new: (rows, cols)."""
    pos = pos.detach().float()
    pre, grid = (pos[:, :1], pos[:, 1:]) if class_token else (pos[:, :0], pos)
    d = pos.shape[-1]
    if method == "bilinear-jax":
        g = grid[0].numpy().reshape(old[0], old[1], d)
        g = scipy.ndimage.zoom(g, (new[0] / old[0], new[1] / old[1], 1), order=1)
        assert g.shape[:2] == tuple(new), g.shape
        g = torch.from_numpy(np.ascontiguousarray(g)).reshape(1, -1, d)
    else:
        g = grid.reshape(1, old[0], old[1], d).permute(0, 3, 1, 2)
        g = F.interpolate(g, size=new, mode="bicubic", align_corners=False,
                          antialias=(method == "bicubic-antialias"))
        g = g.permute(0, 2, 3, 1).reshape(1, -1, d)
    return torch.cat([pre, g], dim=1)


METHODS = ("bicubic", "bicubic-antialias", "bilinear-jax")
golden = {}


def logits(module, x, pos=None):
    m = module.double()
    with torch.no_grad():
        out = m(torch.from_numpy(x).double(), None if pos is None else pos.double())
    module.float()
    return out.numpy().astype(np.float32)


def image(batch, h, w):
    return np.random.randn(batch, 3, h, w).astype(np.float32)


DIMS = dict(chans=3, patch=4, dim=16, depth=2, heads=4, mlp=32)
LABELS = ["tench", "goldfish", "great white shark", "tiger shark", "hammerhead"]
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def timm_config(arch, dims, size, classes, global_pool="token"):
    return {
        "architecture": arch,
        "num_classes": classes,
        "num_features": dims["dim"],
        "global_pool": global_pool,
        "model_args": {"patch_size": dims["patch"], "embed_dim": dims["dim"], "depth": dims["depth"],
                       "num_heads": dims["heads"], "mlp_ratio": dims["mlp"] / dims["dim"],
                       "img_size": list(size)},
        "pretrained_cfg": {
            "input_size": [3, size[0], size[1]], "interpolation": "bicubic", "crop_pct": 0.9,
            "crop_mode": "center", "mean": MEAN, "std": STD, "num_classes": classes,
            "first_conv": "patch_embed.proj", "classifier": "head",
        },
        "label_names": LABELS[:classes],
    }


def hf_config(dims, size, classes, qkv_bias, arch="ViTForImageClassification"):
    c = {
        "architectures": [arch], "model_type": "vit",
        "hidden_size": dims["dim"], "num_hidden_layers": dims["depth"], "num_attention_heads": dims["heads"],
        "intermediate_size": dims["mlp"], "hidden_act": "gelu", "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0, "initializer_range": 0.02, "layer_norm_eps": 1e-12,
        "image_size": size[0] if size[0] == size[1] else list(size), "patch_size": dims["patch"],
        "num_channels": 3, "qkv_bias": qkv_bias, "encoder_stride": dims["patch"], "torch_dtype": "float32",
        "transformers_version": "4.40.0",
    }
    if classes:
        c["id2label"] = {str(i): LABELS[i] for i in range(classes)}
        c["label2id"] = {LABELS[i]: i for i in range(classes)}
    return c


def hf_preprocessor(size):
    return {"do_normalize": True, "do_rescale": True, "do_resize": True, "image_mean": [0.5, 0.5, 0.5],
            "image_processor_type": "ViTImageProcessor", "image_std": [0.5, 0.5, 0.5], "resample": 2,
            "rescale_factor": 0.00392156862745098, "size": {"height": size[0], "width": size[1]}}


def save_hf(folder, module, cfg, prefix="vit.", preprocessor=None):
    os.makedirs(os.path.join(OUT, folder), exist_ok=True)
    sd = sd_numpy(module)
    write_safetensors(os.path.join(OUT, folder, "model.safetensors"), sd, {"format": "pt"})
    write_json(os.path.join(OUT, folder, "config.json"), cfg)
    if preprocessor:
        write_json(os.path.join(OUT, folder, "preprocessor_config.json"), preprocessor)


def save_timm(folder, module, cfg):
    os.makedirs(os.path.join(OUT, folder), exist_ok=True)
    write_safetensors(os.path.join(OUT, folder, "model.safetensors"), sd_numpy(module), {"format": "pt"})
    write_json(os.path.join(OUT, folder, "config.json"), cfg)


def hf_from_timm(timm_sd, classes, size, qkv_bias, eps=1e-12):
    grid = (size[0] // DIMS["patch"], size[1] // DIMS["patch"])
    hf = HFForImageClassification(classes, grid=grid, chans=3, patch=DIMS["patch"], dim=DIMS["dim"],
                                  depth=DIMS["depth"], heads=DIMS["heads"], mlp=DIMS["mlp"],
                                  qkv_bias=qkv_bias, eps=eps)
    hf.load_state_dict({k: torch.from_numpy(v) for k, v in timm_to_hf(timm_sd).items()}, strict=True)
    return hf


# ---- Model A: square 16×16, patch 4 (grid 4×4), class token, qkv bias, 5 classes.
a = TimmViT((4, 4), classes=5, **DIMS)
randomize(a)
a_sd = sd_numpy(a)
save_timm("timm", a, timm_config("vit_tiny_test_patch4_16", DIMS, (16, 16), 5))
a_hf = hf_from_timm(a_sd, 5, (16, 16), True)
save_hf("hf", a_hf, hf_config(DIMS, (16, 16), 5, True), preprocessor=hf_preprocessor((16, 16)))
np.savez_compressed(os.path.join(OUT, "jax.npz"), **timm_to_jax(a_sd, DIMS["heads"]))

x16 = image(2, 16, 16)
x24 = image(2, 24, 24)
golden["x16"], golden["x24"] = x16, x24
golden["a/timm"] = logits(a, x16)
golden["a/hf"] = logits(a_hf, x16)
for m in METHODS:
    pos = resample(a.pos_embed, (4, 4), (6, 6), m)
    golden[f"a/pos6x6/{m}"] = pos[0].numpy()
    golden[f"a/timm24/{m}"] = logits(a, x24, pos)
    golden[f"a/pos2x2/{m}"] = resample(a.pos_embed, (4, 4), (2, 2), m)[0].numpy()
    golden[f"a/pos3x5/{m}"] = resample(a.pos_embed, (4, 4), (3, 5), m)[0].numpy()
# HF's own forward at 24×24 with its interpolate_pos_encoding (bicubic).
golden["a/hf24/bicubic"] = logits(a_hf, x24, resample(a_hf.vit.embeddings.position_embeddings, (4, 4), (6, 6), "bicubic"))

# ---- Model B: non-square 16×12 (grid 4×3), no qkv bias, 3 classes.
b = TimmViT((4, 3), classes=3, qkv_bias=False, **DIMS)
randomize(b)
b_sd = sd_numpy(b)
save_timm("timm_rect", b, timm_config("vit_tiny_test_patch4_16", DIMS, (16, 12), 3))
b_hf = hf_from_timm(b_sd, 3, (16, 12), False)
save_hf("hf_rect", b_hf, hf_config(DIMS, (16, 12), 3, False))
x16x12 = image(2, 16, 12)
x24x20 = image(2, 24, 20)
golden["x16x12"], golden["x24x20"] = x16x12, x24x20
golden["b/timm"] = logits(b, x16x12)
golden["b/hf"] = logits(b_hf, x16x12)
for m in METHODS:
    pos = resample(b.pos_embed, (4, 3), (6, 5), m)
    golden[f"b/pos6x5/{m}"] = pos[0].numpy()
    golden[f"b/timm24x20/{m}"] = logits(b, x24x20, pos)

# ---- Model C: official JAX layout with a representation (pre_logits) layer.
c = TimmViT((4, 4), classes=5, representation=8, **DIMS)
randomize(c)
np.savez(os.path.join(OUT, "jax_prelogits.npz"), **timm_to_jax(sd_numpy(c), DIMS["heads"]))
golden["c/jax"] = logits(c, x16)

# ---- Model D: big_vision layout (params/ prefix, MlpBlock_0, LayerNorm_1), global average pool.
dd = dict(DIMS, depth=1)
d = TimmViT((4, 4), classes=4, class_token=False, **dd)
randomize(d)
np.savez(os.path.join(OUT, "big_vision_gap.npz"), **timm_to_jax(sd_numpy(d), DIMS["heads"], big_vision=True))
golden["d/jax"] = logits(d, x16)

# ---- Model E: HF ViTModel (no classifier, tanh pooler), depth 1.
e = HFViT((4, 4), chans=3, patch=4, dim=16, depth=1, heads=4, mlp=32, qkv_bias=True, eps=1e-12, pooler=True)
randomize(e)
save_hf("hf_base", e, hf_config(dd, (16, 16), 0, True, arch="ViTModel"))
with torch.no_grad():
    h = e.double()(torch.from_numpy(x16).double())[:, 0]
    golden["e/features"] = h.numpy().astype(np.float32)
    golden["e/pooler"] = torch.tanh(e.pooler.dense(h)).numpy().astype(np.float32)
e.float()

write_safetensors(os.path.join(OUT, "golden.safetensors"), golden)
total = 0
for root, _, files in os.walk(OUT):
    for f in files:
        total += os.path.getsize(os.path.join(root, f))
print(f"wrote {len(golden)} goldens; testdata is {total / 1024:.0f} KiB")
