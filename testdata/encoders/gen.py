#!/usr/bin/python3
"""Writes the image-encoder goldens (issue 16): tiny random CLIP, SigLIP,
DINOv2 (with and without registers, SwiGLU), DeiT and timm encoder
checkpoints in each source's exact tensor names and config formats, with the
outputs of reference forward passes.

Run with Debian's python3 (torch 1.13, numpy, Pillow):

    /usr/bin/python3 testdata/encoders/gen.py

The reference modules are written here from the published architectures and
the sources' code (transformers' modeling_clip.py, modeling_siglip.py,
modeling_dinov2.py, modeling_dinov2_with_registers.py, modeling_deit.py and
timm's vision_transformer.py): the same parameter names (so state_dict() is
the checkpoint) and the same operations. The image preprocessing of each
Hugging Face processor is reproduced with Pillow and NumPy as transformers
does it (PIL resize of the uint8 image, centre crop at ((H-h)//2, (W-w)//2),
rescale in float64 then float32, normalise in float32).

Nothing here runs at test time: the Go tests (checkpoint/encoders_test.go)
read the files it writes.
"""

import json
import os
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

OUT = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(16)
np.random.seed(16)

DIM, HEADS, DEPTH, MLP, PATCH = 16, 2, 2, 32, 4
CLIP_MEAN, CLIP_STD = [0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711]
IN_MEAN, IN_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def write_safetensors(path, tensors):
    """Writes a safetensors file by hand: u64 header length, JSON, data."""
    header, blobs, off = {}, [], 0
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


def randomize(module, std=0.3):
    """Random weights everywhere (LayerNorm scales around 1), so that every
    tensor changes the outputs."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("norm.weight") or "norm1.weight" in name or "norm2.weight" in name or \
                    "layernorm" in name and name.endswith("weight") or "layer_norm" in name and name.endswith("weight") or \
                    "pre_layrnorm.weight" in name or name.endswith("gamma") or name.endswith("lambda1") or "norm_pre.weight" in name or \
                    (".ln_" in name or name.startswith("visual.ln_")) and name.endswith("weight"):
                p.copy_(1 + 0.3 * torch.randn_like(p))
            else:
                p.copy_(std * torch.randn_like(p))


def save_model(name, module, config, preprocessor=None, extra=None, filename="model.safetensors"):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    sd = {k: v.detach().numpy() for k, v in module.state_dict().items()}
    if extra:
        sd.update(extra)
    write_safetensors(os.path.join(d, filename), sd)
    write_json(os.path.join(d, "config.json"), config)
    if preprocessor is not None:
        write_json(os.path.join(d, "preprocessor_config.json"), preprocessor)


class Holder(nn.Module):
    pass


def quick_gelu(x):
    return x * torch.sigmoid(1.702 * x)


ACTS = {"gelu": F.gelu, "quick_gelu": quick_gelu, "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh")}


def attention(q, k, v, heads):
    """Softmax attention of [b, n, d] queries over [b, m, d] keys/values."""
    b, n, d = q.shape
    m = k.shape[1]
    dh = d // heads
    q = q.view(b, n, heads, dh).transpose(1, 2)
    k = k.view(b, m, heads, dh).transpose(1, 2)
    v = v.view(b, m, heads, dh).transpose(1, 2)
    p = (q @ k.transpose(-1, -2) * dh ** -0.5).softmax(dim=-1)
    return (p @ v).transpose(1, 2).reshape(b, n, d)


# ------------------------------------------------------------ CLIP / SigLIP

class CLIPLayer(nn.Module):
    """CLIPEncoderLayer / SiglipEncoderLayer."""

    def __init__(self, eps, act):
        super().__init__()
        self.self_attn = Holder()
        for n in ("q_proj", "k_proj", "v_proj", "out_proj"):
            setattr(self.self_attn, n, nn.Linear(DIM, DIM))
        self.layer_norm1 = nn.LayerNorm(DIM, eps=eps)
        self.mlp = Holder()
        self.mlp.fc1 = nn.Linear(DIM, MLP)
        self.mlp.fc2 = nn.Linear(MLP, DIM)
        self.layer_norm2 = nn.LayerNorm(DIM, eps=eps)
        self.act = ACTS[act]

    def forward(self, x):
        a = self.self_attn
        h = self.layer_norm1(x)
        x = x + a.out_proj(attention(a.q_proj(h), a.k_proj(h), a.v_proj(h), HEADS))
        return x + self.mlp.fc2(self.act(self.mlp.fc1(self.layer_norm2(x))))


class CLIPVision(nn.Module):
    """CLIPVisionTransformer: class embedding, patch conv without bias,
    position embedding, pre_layrnorm, encoder, post_layernorm on the class
    token."""

    def __init__(self, grid, eps=1e-5, act="quick_gelu"):
        super().__init__()
        self.embeddings = Holder()
        self.embeddings.class_embedding = nn.Parameter(torch.zeros(DIM))
        self.embeddings.patch_embedding = nn.Conv2d(3, DIM, PATCH, PATCH, bias=False)
        self.embeddings.position_embedding = nn.Embedding(grid * grid + 1, DIM)
        self.pre_layrnorm = nn.LayerNorm(DIM, eps=eps)
        self.encoder = Holder()
        self.encoder.layers = nn.ModuleList([CLIPLayer(eps, act) for _ in range(DEPTH)])
        self.post_layernorm = nn.LayerNorm(DIM, eps=eps)

    def forward(self, x):
        e = self.embeddings
        p = e.patch_embedding(x).flatten(2).transpose(1, 2)
        x = torch.cat([e.class_embedding.expand(p.shape[0], 1, -1), p], dim=1) + e.position_embedding.weight
        x = self.pre_layrnorm(x)
        for l in self.encoder.layers:
            x = l(x)
        return self.post_layernorm(x[:, 0])


class SiglipHead(nn.Module):
    """SiglipMultiheadAttentionPoolingHead, with torch's own
    nn.MultiheadAttention as transformers uses it."""

    def __init__(self, eps, act):
        super().__init__()
        self.probe = nn.Parameter(torch.randn(1, 1, DIM))
        self.attention = nn.MultiheadAttention(DIM, HEADS, batch_first=True)
        self.layernorm = nn.LayerNorm(DIM, eps=eps)
        self.mlp = Holder()
        self.mlp.fc1 = nn.Linear(DIM, MLP)
        self.mlp.fc2 = nn.Linear(MLP, DIM)
        self.act = ACTS[act]

    def forward(self, x):
        probe = self.probe.repeat(x.shape[0], 1, 1)
        h = self.attention(probe, x, x)[0]
        h = h + self.mlp.fc2(self.act(self.mlp.fc1(self.layernorm(h))))
        return h[:, 0]


class SiglipVision(nn.Module):
    """SiglipVisionTransformer: patch conv with bias, position embedding
    (no class token), encoder, post_layernorm, attention-pool head."""

    def __init__(self, grid, eps=1e-6, act="gelu_pytorch_tanh"):
        super().__init__()
        self.embeddings = Holder()
        self.embeddings.patch_embedding = nn.Conv2d(3, DIM, PATCH, PATCH)
        self.embeddings.position_embedding = nn.Embedding(grid * grid, DIM)
        self.encoder = Holder()
        self.encoder.layers = nn.ModuleList([CLIPLayer(eps, act) for _ in range(DEPTH)])
        self.post_layernorm = nn.LayerNorm(DIM, eps=eps)
        self.head = SiglipHead(eps, act)

    def forward(self, x):
        e = self.embeddings
        x = e.patch_embedding(x).flatten(2).transpose(1, 2) + e.position_embedding.weight
        for l in self.encoder.layers:
            x = l(x)
        return self.head(self.post_layernorm(x))


class CLIPWithProjection(nn.Module):
    """CLIPVisionModelWithProjection: the image embedding."""

    def __init__(self, grid, embed):
        super().__init__()
        self.vision_model = CLIPVision(grid)
        self.visual_projection = nn.Linear(DIM, embed, bias=False)

    def forward(self, x):
        return self.visual_projection(self.vision_model(x))


# ------------------------------------------------------------------- DINOv2

class Dinov2Layer(nn.Module):
    def __init__(self, eps, swiglu):
        super().__init__()
        self.norm1 = nn.LayerNorm(DIM, eps=eps)
        self.attention = Holder()
        self.attention.attention = Holder()
        for n in ("query", "key", "value"):
            setattr(self.attention.attention, n, nn.Linear(DIM, DIM))
        self.attention.output = Holder()
        self.attention.output.dense = nn.Linear(DIM, DIM)
        self.layer_scale1 = Holder()
        self.layer_scale1.lambda1 = nn.Parameter(torch.ones(DIM))
        self.norm2 = nn.LayerNorm(DIM, eps=eps)
        self.mlp = Holder()
        self.swiglu = swiglu
        if swiglu:
            hidden = (int(int(DIM * 4) * 2 / 3) + 7) // 8 * 8  # Dinov2SwiGLUFFN
            self.mlp.weights_in = nn.Linear(DIM, 2 * hidden)
            self.mlp.weights_out = nn.Linear(hidden, DIM)
        else:
            self.mlp.fc1 = nn.Linear(DIM, MLP)
            self.mlp.fc2 = nn.Linear(MLP, DIM)
        self.layer_scale2 = Holder()
        self.layer_scale2.lambda1 = nn.Parameter(torch.ones(DIM))

    def forward(self, x):
        a = self.attention.attention
        h = self.norm1(x)
        x = x + self.attention.output.dense(attention(a.query(h), a.key(h), a.value(h), HEADS)) * self.layer_scale1.lambda1
        h = self.norm2(x)
        if self.swiglu:
            x1, x2 = self.mlp.weights_in(h).chunk(2, dim=-1)
            h = self.mlp.weights_out(F.silu(x1) * x2)
        else:
            h = self.mlp.fc2(F.gelu(self.mlp.fc1(h)))
        return x + h * self.layer_scale2.lambda1


class Dinov2(nn.Module):
    """Dinov2Model / Dinov2WithRegistersModel; forward returns the
    pooler_output, layernorm(sequence)[:, 0]. The position embeddings are
    interpolated to the input as each class's interpolate_pos_encoding does
    (bicubic, align_corners=False; antialias only with registers)."""

    def __init__(self, grid, registers=0, swiglu=False, eps=1e-6):
        super().__init__()
        self.grid, self.registers = grid, registers
        self.embeddings = Holder()
        self.embeddings.cls_token = nn.Parameter(torch.randn(1, 1, DIM))
        self.embeddings.mask_token = nn.Parameter(torch.zeros(1, DIM))
        if registers:
            self.embeddings.register_tokens = nn.Parameter(torch.zeros(1, registers, DIM))
        self.embeddings.patch_embeddings = Holder()
        self.embeddings.patch_embeddings.projection = nn.Conv2d(3, DIM, PATCH, PATCH)
        self.embeddings.position_embeddings = nn.Parameter(torch.randn(1, grid * grid + 1, DIM))
        self.encoder = Holder()
        self.encoder.layer = nn.ModuleList([Dinov2Layer(eps, swiglu) for _ in range(DEPTH)])
        self.layernorm = nn.LayerNorm(DIM, eps=eps)

    def pos(self, h, w):
        pe = self.embeddings.position_embeddings
        n = pe.shape[1] - 1
        if n == h * w and h == w:
            return pe
        g = self.grid
        patch = pe[:, 1:].reshape(1, g, g, DIM).permute(0, 3, 1, 2)
        patch = F.interpolate(patch, size=(h, w), mode="bicubic", align_corners=False, antialias=bool(self.registers))
        return torch.cat([pe[:, :1], patch.permute(0, 2, 3, 1).reshape(1, -1, DIM)], dim=1)

    def forward(self, x):
        e = self.embeddings
        hh, ww = x.shape[2] // PATCH, x.shape[3] // PATCH
        p = e.patch_embeddings.projection(x).flatten(2).transpose(1, 2)
        x = torch.cat([e.cls_token.expand(p.shape[0], -1, -1), p], dim=1) + self.pos(hh, ww)
        if self.registers:
            x = torch.cat([x[:, :1], e.register_tokens.expand(x.shape[0], -1, -1), x[:, 1:]], dim=1)
        for l in self.encoder.layer:
            x = l(x)
        return self.layernorm(x)[:, 0]


# --------------------------------------------------------------------- DeiT

class DeiTLayer(nn.Module):
    def __init__(self, eps):
        super().__init__()
        self.attention = Holder()
        self.attention.attention = Holder()
        for n in ("query", "key", "value"):
            setattr(self.attention.attention, n, nn.Linear(DIM, DIM))
        self.attention.output = Holder()
        self.attention.output.dense = nn.Linear(DIM, DIM)
        self.intermediate = Holder()
        self.intermediate.dense = nn.Linear(DIM, MLP)
        self.output = Holder()
        self.output.dense = nn.Linear(MLP, DIM)
        self.layernorm_before = nn.LayerNorm(DIM, eps=eps)
        self.layernorm_after = nn.LayerNorm(DIM, eps=eps)

    def forward(self, x):
        a = self.attention.attention
        h = self.layernorm_before(x)
        x = x + self.attention.output.dense(attention(a.query(h), a.key(h), a.value(h), HEADS))
        return x + self.output.dense(F.gelu(self.intermediate.dense(self.layernorm_after(x))))


class DeiT(nn.Module):
    """DeiTModel body: [cls, distillation, patches] + position embeddings,
    encoder, layernorm. forward returns the normalised sequence."""

    def __init__(self, grid, eps=1e-12):
        super().__init__()
        self.embeddings = Holder()
        self.embeddings.cls_token = nn.Parameter(torch.zeros(1, 1, DIM))
        self.embeddings.distillation_token = nn.Parameter(torch.zeros(1, 1, DIM))
        self.embeddings.patch_embeddings = Holder()
        self.embeddings.patch_embeddings.projection = nn.Conv2d(3, DIM, PATCH, PATCH)
        self.embeddings.position_embeddings = nn.Parameter(torch.zeros(1, grid * grid + 2, DIM))
        self.encoder = Holder()
        self.encoder.layer = nn.ModuleList([DeiTLayer(eps) for _ in range(DEPTH)])
        self.layernorm = nn.LayerNorm(DIM, eps=eps)

    def forward(self, x):
        e = self.embeddings
        p = e.patch_embeddings.projection(x).flatten(2).transpose(1, 2)
        b = p.shape[0]
        x = torch.cat([e.cls_token.expand(b, -1, -1), e.distillation_token.expand(b, -1, -1), p], dim=1)
        x = x + e.position_embeddings
        for l in self.encoder.layer:
            x = l(x)
        return self.layernorm(x)


class DeiTTeacher(nn.Module):
    """DeiTForImageClassificationWithTeacher: logits = mean of the class and
    distillation heads."""

    def __init__(self, grid, classes):
        super().__init__()
        self.deit = DeiT(grid)
        self.cls_classifier = nn.Linear(DIM, classes)
        self.distillation_classifier = nn.Linear(DIM, classes)

    def forward(self, x):
        s = self.deit(x)
        return s[:, 0], (self.cls_classifier(s[:, 0]) + self.distillation_classifier(s[:, 1])) / 2


# --------------------------------------------------------------------- timm

class TimmBlock(nn.Module):
    def __init__(self, eps, act, ls, swiglu):
        super().__init__()
        self.norm1 = nn.LayerNorm(DIM, eps=eps)
        self.attn = Holder()
        self.attn.qkv = nn.Linear(DIM, 3 * DIM)
        self.attn.proj = nn.Linear(DIM, DIM)
        self.norm2 = nn.LayerNorm(DIM, eps=eps)
        self.mlp = Holder()
        self.swiglu = swiglu
        if swiglu:  # SwiGLUPacked: fc1 [2h, d], act(x1) * x2
            self.mlp.fc1 = nn.Linear(DIM, 2 * MLP)
            self.mlp.fc2 = nn.Linear(MLP, DIM)
        else:
            self.mlp.fc1 = nn.Linear(DIM, MLP)
            self.mlp.fc2 = nn.Linear(MLP, DIM)
        if ls:
            self.ls1, self.ls2 = Holder(), Holder()
            self.ls1.gamma = nn.Parameter(torch.ones(DIM))
            self.ls2.gamma = nn.Parameter(torch.ones(DIM))
        self.ls = ls
        self.act = ACTS[act]

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.attn.qkv(self.norm1(x)).reshape(b, n, 3, c)
        a = self.attn.proj(attention(qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2], HEADS))
        x = x + (a * self.ls1.gamma if self.ls else a)
        h = self.mlp.fc1(self.norm2(x))
        if self.swiglu:
            x1, x2 = h.chunk(2, dim=-1)
            h = F.silu(x1) * x2
        else:
            h = self.act(h)
        h = self.mlp.fc2(h)
        return x + (h * self.ls2.gamma if self.ls else h)


class TimmAttnPool(nn.Module):
    """timm's AttentionPoolLatent (latent_len 1, no q/k norm)."""

    def __init__(self, eps, act):
        super().__init__()
        self.latent = nn.Parameter(torch.randn(1, 1, DIM))
        self.q = nn.Linear(DIM, DIM)
        self.kv = nn.Linear(DIM, 2 * DIM)
        self.proj = nn.Linear(DIM, DIM)
        self.norm = nn.LayerNorm(DIM, eps=eps)
        self.mlp = Holder()
        self.mlp.fc1 = nn.Linear(DIM, MLP)
        self.mlp.fc2 = nn.Linear(MLP, DIM)
        self.act = ACTS[act]

    def forward(self, x):
        b, n, c = x.shape
        q = self.q(self.latent.expand(b, -1, -1))
        kv = self.kv(x).reshape(b, n, 2, c)
        h = self.proj(attention(q, kv[:, :, 0], kv[:, :, 1], HEADS))
        h = h + self.mlp.fc2(self.act(self.mlp.fc1(self.norm(h))))
        return h[:, 0]


class TimmViT(nn.Module):
    """timm's VisionTransformer with the options of the encoders:
    class/distillation/register tokens, no_embed_class, norm_pre, LayerScale,
    SwiGLUPacked, global_pool token/avg(+fc_norm)/map, distilled heads.
    forward returns (features, logits)."""

    def __init__(self, grid, classes, cls=True, dist=False, reg=0, no_embed_class=False, norm_pre=False,
                 patch_bias=True, ls=False, swiglu=False, pool="token", act="gelu", eps=1e-6):
        super().__init__()
        self.patch_embed = Holder()
        self.patch_embed.proj = nn.Conv2d(3, DIM, PATCH, PATCH, bias=patch_bias)
        self.cls, self.dist, self.reg, self.no_embed_class, self.pool = cls, dist, reg, no_embed_class, pool
        if cls:
            self.cls_token = nn.Parameter(torch.randn(1, 1, DIM))
        if dist:
            self.dist_token = nn.Parameter(torch.randn(1, 1, DIM))
        if reg:
            self.reg_token = nn.Parameter(torch.randn(1, reg, DIM))
        npos = grid * grid + (0 if no_embed_class else int(cls) + int(dist))
        self.pos_embed = nn.Parameter(torch.randn(1, npos, DIM))
        if norm_pre:
            self.norm_pre = nn.LayerNorm(DIM, eps=eps)
        self.has_norm_pre = norm_pre
        self.blocks = nn.ModuleList([TimmBlock(eps, act, ls, swiglu) for _ in range(DEPTH)])
        if pool == "avg":
            self.fc_norm = nn.LayerNorm(DIM, eps=eps)
        else:
            self.norm = nn.LayerNorm(DIM, eps=eps)
        if pool == "map":
            self.attn_pool = TimmAttnPool(eps, act)
        self.head = nn.Linear(DIM, classes)
        if dist:
            self.head_dist = nn.Linear(DIM, classes)

    def forward(self, x):
        x = self.patch_embed.proj(x).flatten(2).transpose(1, 2)
        b = x.shape[0]
        pre = []
        if self.cls:
            pre.append(self.cls_token.expand(b, -1, -1))
        if self.dist:
            pre.append(self.dist_token.expand(b, -1, -1))
        if self.no_embed_class:  # timm _pos_embed: position first, then the prefix tokens
            x = x + self.pos_embed
            x = torch.cat(pre + ([self.reg_token.expand(b, -1, -1)] if self.reg else []) + [x], dim=1)
        else:
            x = torch.cat(pre + [x], dim=1) + self.pos_embed
            if self.reg:
                k = len(pre)
                x = torch.cat([x[:, :k], self.reg_token.expand(b, -1, -1), x[:, k:]], dim=1)
        if self.has_norm_pre:
            x = self.norm_pre(x)
        for blk in self.blocks:
            x = blk(x)
        prefix = int(self.cls) + int(self.dist) + self.reg
        if self.pool == "avg":
            f = self.fc_norm(x[:, prefix:].mean(dim=1))
        elif self.pool == "map":
            f = self.attn_pool(self.norm(x))
        else:
            x = self.norm(x)
            f = x[:, 0]
        logits = self.head(f)
        if self.dist:
            logits = (logits + self.head_dist(x[:, 1])) / 2
        return f, logits


# ----------------------------------------------------------------- OpenCLIP

class OpenCLIPBlock(nn.Module):
    """open_clip's ResidualAttentionBlock: torch's nn.MultiheadAttention,
    c_fc / c_proj MLP with QuickGELU."""

    def __init__(self):
        super().__init__()
        self.ln_1 = nn.LayerNorm(DIM)
        self.attn = nn.MultiheadAttention(DIM, HEADS)
        self.ln_2 = nn.LayerNorm(DIM)
        self.mlp = Holder()
        self.mlp.c_fc = nn.Linear(DIM, MLP)
        self.mlp.c_proj = nn.Linear(MLP, DIM)

    def forward(self, x):  # x: [n, b, d], open_clip's sequence-first layout
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp.c_proj(quick_gelu(self.mlp.c_fc(self.ln_2(x))))


class OpenCLIP(nn.Module):
    """open_clip's VisionTransformer (pool "tok"): conv1 without bias,
    class_embedding, positional_embedding, ln_pre, resblocks, ln_post on the
    class token, then @ proj."""

    def __init__(self, grid):
        super().__init__()
        self.visual = Holder()
        v = self.visual
        v.conv1 = nn.Conv2d(3, DIM, PATCH, PATCH, bias=False)
        v.class_embedding = nn.Parameter(torch.randn(DIM))
        v.positional_embedding = nn.Parameter(torch.randn(grid * grid + 1, DIM))
        v.ln_pre = nn.LayerNorm(DIM)
        v.transformer = Holder()
        v.transformer.resblocks = nn.ModuleList([OpenCLIPBlock() for _ in range(DEPTH)])
        v.ln_post = nn.LayerNorm(DIM)
        v.proj = nn.Parameter(torch.randn(DIM, 8))

    def forward(self, x):
        v = self.visual
        x = v.conv1(x).flatten(2).permute(0, 2, 1)
        x = torch.cat([v.class_embedding.view(1, 1, -1).expand(x.shape[0], -1, -1), x], dim=1) + v.positional_embedding
        x = v.ln_pre(x).permute(1, 0, 2)
        for blk in v.transformer.resblocks:
            x = blk(x)
        return v.ln_post(x.permute(1, 0, 2)[:, 0]) @ v.proj


# ------------------------------------------------------------ preprocessing

def hf_preprocess(img, resize, crop, mean, std, resample=Image.BICUBIC):
    """transformers' processors: resize is ("short", n) or ("square", n);
    crop is (h, w) or None. Returns [3, H, W] float32."""
    w, h = img.size
    kind, n = resize
    if kind == "short":
        short, long = (w, h) if w <= h else (h, w)
        new_long = int(n * long / short)
        size = (n, new_long) if w <= h else (new_long, n)
    else:
        size = (n, n)
    a = np.asarray(img.resize(size, resample))
    if crop is not None:
        ch, cw = crop
        top, left = (a.shape[0] - ch) // 2, (a.shape[1] - cw) // 2
        a = a[top:top + ch, left:left + cw]
    a = (a.astype(np.float64) * (1 / 255)).astype(np.float32)
    a = (a - np.array(mean, dtype=np.float32)) / np.array(std, dtype=np.float32)
    return a.transpose(2, 0, 1).astype(np.float32)


def photo():
    """A small real photograph (skimage's chelsea, the cat, reduced) saved
    beside the goldens."""
    path = os.path.join(OUT, "chelsea.png")
    img = Image.open("/usr/lib/python3/dist-packages/skimage/data/chelsea.png").convert("RGB")
    img = img.resize((45, 30), Image.BOX)
    img.save(path, optimize=True)
    return Image.open(path).convert("RGB")


# ------------------------------------------------------------------ models

golden = {}


def record(name, model, size, photo_pixels=None, classes=False):
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        out = model(x)
    f, logits = out if isinstance(out, tuple) else (out, None)
    golden[name + ".x"] = x.numpy()
    golden[name + ".features"] = f.numpy()
    if logits is not None:
        golden[name + ".logits"] = logits.numpy()
    if photo_pixels is not None:
        px = torch.from_numpy(photo_pixels[None])
        with torch.no_grad():
            out = model(px)
        f = out[0] if isinstance(out, tuple) else out
        golden[name + ".photo.x"] = photo_pixels[None]
        golden[name + ".photo.features"] = f.numpy()


def vision_config(**kw):
    c = {"hidden_size": DIM, "intermediate_size": MLP, "num_hidden_layers": DEPTH, "num_attention_heads": HEADS,
         "num_channels": 3, "patch_size": PATCH}
    c.update(kw)
    return c


def main():
    img = photo()

    # CLIPModel (vision half; the text half and logit_scale are skipped).
    clip = CLIPWithProjection(4, 8)
    randomize(clip)
    clip_pp = {"crop_size": {"height": 16, "width": 16}, "do_center_crop": True, "do_normalize": True, "do_resize": True,
               "do_rescale": True, "rescale_factor": 1 / 255, "do_convert_rgb": True,
               "image_mean": CLIP_MEAN, "image_std": CLIP_STD, "image_processor_type": "CLIPImageProcessor",
               "resample": 3, "size": {"shortest_edge": 16}}
    text = {"text_model.embeddings.token_embedding.weight": np.zeros((10, DIM), np.float32),
            "text_projection.weight": np.zeros((8, DIM), np.float32), "logit_scale": np.array(2.6592, np.float32)}
    save_model("hf_clip", clip, {"architectures": ["CLIPModel"], "model_type": "clip", "projection_dim": 8,
                                 "text_config": {"hidden_size": DIM, "model_type": "clip_text_model"},
                                 "vision_config": vision_config(image_size=16, projection_dim=8, hidden_act="quick_gelu",
                                                                layer_norm_eps=1e-5, model_type="clip_vision_model")},
               clip_pp, extra=text)
    record("hf_clip", clip, 16, hf_preprocess(img, ("short", 16), (16, 16), CLIP_MEAN, CLIP_STD))

    # CLIPVisionModel: no projection; old-style int sizes in the processor.
    cv = nn.Module()
    cv.vision_model = CLIPVision(4)
    cv.forward = lambda x: cv.vision_model(x)
    randomize(cv)
    save_model("hf_clip_vision", cv, dict(vision_config(image_size=16, hidden_act="quick_gelu", layer_norm_eps=1e-5),
                                          architectures=["CLIPVisionModel"], model_type="clip_vision_model"),
               dict(clip_pp, size=20, crop_size=16))
    record("hf_clip_vision", cv, 16, hf_preprocess(img, ("short", 20), (16, 16), CLIP_MEAN, CLIP_STD))

    # SiglipModel (vision half).
    sig = nn.Module()
    sig.vision_model = SiglipVision(4)
    sig.forward = lambda x: sig.vision_model(x)
    randomize(sig)
    sig_pp = {"do_normalize": True, "do_rescale": True, "do_resize": True, "image_mean": [0.5, 0.5, 0.5],
              "image_std": [0.5, 0.5, 0.5], "image_processor_type": "SiglipImageProcessor", "resample": 3,
              "rescale_factor": 1 / 255, "size": {"height": 16, "width": 16}}
    save_model("hf_siglip", sig, {"architectures": ["SiglipModel"], "model_type": "siglip",
                                  "text_config": {"hidden_size": DIM, "model_type": "siglip_text_model"},
                                  "vision_config": vision_config(image_size=16, model_type="siglip_vision_model")},
               sig_pp, extra={"text_model.final_layer_norm.weight": np.ones(DIM, np.float32),
                              "logit_scale": np.array([2.3], np.float32), "logit_bias": np.array([-10.0], np.float32)})
    record("hf_siglip", sig, 16, hf_preprocess(img, ("square", 16), None, [0.5] * 3, [0.5] * 3))

    # Dinov2Model: 5×5 stored grid, 16-pixel inputs (4×4): bicubic at every call.
    dino_pp = {"crop_size": {"height": 16, "width": 16}, "do_center_crop": True, "do_normalize": True,
               "do_rescale": True, "do_resize": True, "image_mean": IN_MEAN, "image_std": IN_STD,
               "image_processor_type": "BitImageProcessor", "resample": 3, "rescale_factor": 1 / 255,
               "size": {"shortest_edge": 18}}
    dino = Dinov2(5)
    randomize(dino)
    save_model("hf_dinov2", dino, dict(vision_config(image_size=20, mlp_ratio=4, layerscale_value=1.0),
                                       architectures=["Dinov2Model"], model_type="dinov2", hidden_act="gelu",
                                       layer_norm_eps=1e-6, use_swiglu_ffn=False), dino_pp)
    record("hf_dinov2", dino, 16, hf_preprocess(img, ("short", 18), (16, 16), IN_MEAN, IN_STD))

    # Dinov2WithRegistersModel with SwiGLU: antialiased bicubic.
    reg = Dinov2(5, registers=2, swiglu=True)
    randomize(reg)
    save_model("hf_dinov2_reg", reg, dict(vision_config(image_size=20, mlp_ratio=4, layerscale_value=1.0),
                                          architectures=["Dinov2WithRegistersModel"], model_type="dinov2_with_registers",
                                          num_register_tokens=2, use_swiglu_ffn=True), dino_pp)
    record("hf_dinov2_reg", reg, 16, hf_preprocess(img, ("short", 18), (16, 16), IN_MEAN, IN_STD))

    # DeiTForImageClassificationWithTeacher: square 20, crop 16.
    deit = DeiTTeacher(4, 5)
    randomize(deit)
    labels = ["cat", "dog", "car", "tree", "boat"]
    save_model("hf_deit", deit, dict(vision_config(image_size=16), architectures=["DeiTForImageClassificationWithTeacher"],
                                     model_type="deit", id2label={str(i): l for i, l in enumerate(labels)},
                                     label2id={l: i for i, l in enumerate(labels)}),
               {"crop_size": 16, "do_center_crop": True, "do_normalize": True, "do_resize": True,
                "feature_extractor_type": "DeiTFeatureExtractor", "image_mean": IN_MEAN, "image_std": IN_STD,
                "resample": 3, "size": 20})
    record("hf_deit", deit, 16, hf_preprocess(img, ("square", 20), (16, 16), IN_MEAN, IN_STD))

    # timm models.
    def timm_cfg(arch, classes, pool, size, **args):
        return {"architecture": arch, "num_classes": classes, "num_features": DIM, "global_pool": pool,
                "model_args": dict(num_heads=HEADS, patch_size=PATCH, img_size=size, **args),
                "pretrained_cfg": {"input_size": [3, size, size], "interpolation": "bicubic", "crop_pct": 1.0,
                                   "mean": IN_MEAN, "std": IN_STD, "num_classes": classes}}

    t = TimmViT(4, 5, reg=2, no_embed_class=True, ls=True, swiglu=True)
    randomize(t)
    save_model("timm_dinov2_reg", t, timm_cfg("vit_tiny_patch4_reg2_dinov2.test", 5, "token", 16))
    record("timm_dinov2_reg", t, 16)

    t = TimmViT(4, 8, norm_pre=True, patch_bias=False, act="quick_gelu")
    randomize(t)
    with torch.no_grad():
        t.head.bias.zero_()
    cfg = timm_cfg("vit_tiny_patch4_clip_16.test", 8, "token", 16, act_layer="quick_gelu", pre_norm=True)
    cfg["pretrained_cfg"].update(mean=CLIP_MEAN, std=CLIP_STD)
    save_model("timm_clip", t, cfg)
    record("timm_clip", lambda x: t(x)[1], 16)  # timm's head is CLIP's projection: the embedding

    t = TimmViT(4, 5, cls=False, pool="map")
    randomize(t)
    cfg = timm_cfg("vit_tiny_patch4_siglip_16.test", 5, "map", 16, class_token=False)
    cfg["pretrained_cfg"].update(mean=[0.5] * 3, std=[0.5] * 3)
    save_model("timm_siglip", t, cfg)
    record("timm_siglip", t, 16)

    t = TimmViT(4, 5, dist=True)
    randomize(t)
    save_model("timm_deit", t, timm_cfg("deit_tiny_distilled_patch4_16.test", 5, "token", 16))
    record("timm_deit", t, 16)

    t = TimmViT(4, 5, reg=1, pool="avg")
    randomize(t)
    save_model("timm_avg", t, timm_cfg("vit_tiny_patch4_16.test", 5, "avg", 16, reg_tokens=1, fc_norm=True))
    record("timm_avg", t, 16)

    # OpenCLIP (open_clip's VisionTransformer, QuickGELU, head_width 8).
    oc = OpenCLIP(4)
    randomize(oc)
    d = os.path.join(OUT, "openclip")
    os.makedirs(d, exist_ok=True)
    sd = {k: v.detach().numpy() for k, v in oc.state_dict().items()}
    sd.update({"token_embedding.weight": np.zeros((10, 8), np.float32), "text_projection": np.zeros((8, 8), np.float32),
               "logit_scale": np.array(4.6052, np.float32)})
    write_safetensors(os.path.join(d, "open_clip_model.safetensors"), sd)
    write_json(os.path.join(d, "open_clip_config.json"), {
        "model_cfg": {"embed_dim": 8, "quick_gelu": True,
                      "vision_cfg": {"image_size": 16, "layers": DEPTH, "width": DIM, "head_width": DIM // HEADS,
                                     "patch_size": PATCH, "mlp_ratio": MLP / DIM},
                      "text_cfg": {"context_length": 8, "vocab_size": 10, "width": 8, "heads": 1, "layers": 0}},
        "preprocess_cfg": {"mean": CLIP_MEAN, "std": CLIP_STD, "interpolation": "bicubic", "resize_mode": "shortest"}})
    import torchvision.transforms as T
    tf = T.Compose([T.Resize(16, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(16), T.ToTensor(),
                    T.Normalize(CLIP_MEAN, CLIP_STD)])
    record("openclip", oc, 16, tf(img).numpy())

    write_safetensors(os.path.join(OUT, "golden.safetensors"), golden)


if __name__ == "__main__":
    main()
