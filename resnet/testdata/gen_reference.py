"""Goldens for package resnet: a small random BiT ResNet v2 in PyTorch.

Run from the repository root with Debian's python3-torch (a development-only
oracle; tests never run Python):

    /usr/bin/python3 resnet/testdata/gen_reference.py

It writes resnet/testdata/reference_<case>.safetensors for two cases: the
small stem (3x3/1, no max pool) and the standard stem (7x7/2 and a 3x3/2
max pool), each with the input images x, the labels, every parameter under
package resnet's names and layout (convolution kernels [out, k, k, in]),
the logits, the mean cross-entropy loss and every parameter's gradient
("grad." + name). The network follows timm's resnetv2.py (PreActBottleneck,
StdConv2d with eps 1e-8, GroupNormAct with eps 1e-5), written out here.
"""
import json
import math
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

DEPTHS = {26: [2, 2, 2, 2], 50: [3, 4, 6, 3]}


def groups(ch):
    return math.gcd(32, ch // 2)


class StdConv(nn.Conv2d):
    def __init__(self, cin, cout, k, stride):
        super().__init__(cin, cout, k, stride=stride, padding=k // 2, bias=False)

    def forward(self, x):
        w = F.batch_norm(self.weight.reshape(1, self.out_channels, -1), None, None,
                         training=True, momentum=0.0, eps=1e-8).reshape_as(self.weight)
        return F.conv2d(x, w, None, self.stride, self.padding)


class GNAct(nn.GroupNorm):
    def __init__(self, ch):
        super().__init__(groups(ch), ch, eps=1e-5)

    def forward(self, x):
        return F.relu(super().forward(x))


class Block(nn.Module):
    def __init__(self, cin, mid, cout, stride):
        super().__init__()
        self.norm1 = GNAct(cin)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Module()
            self.downsample.conv = StdConv(cin, cout, 1, stride)
        self.conv1 = StdConv(cin, mid, 1, 1)
        self.norm2 = GNAct(mid)
        self.conv2 = StdConv(mid, mid, 3, stride)
        self.norm3 = GNAct(mid)
        self.conv3 = StdConv(mid, cout, 1, 1)

    def forward(self, x):
        p = self.norm1(x)
        short = self.downsample.conv(p) if self.downsample is not None else x
        y = self.conv1(p)
        y = self.conv2(self.norm2(y))
        y = self.conv3(self.norm3(y))
        return y + short


class ResNetV2(nn.Module):
    def __init__(self, depth, width, channels, classes, small):
        super().__init__()
        self.small = small
        self.stem = nn.Module()
        self.stem.conv = StdConv(channels, width, 3, 1) if small else StdConv(channels, width, 7, 2)
        self.stages = nn.ModuleList()
        cin = width
        for s, n in enumerate(DEPTHS[depth]):
            stage = nn.Module()
            stage.blocks = nn.ModuleList()
            mid = width << s
            for i in range(n):
                stage.blocks.append(Block(cin, mid, 4 * mid, 2 if s > 0 and i == 0 else 1))
                cin = 4 * mid
            self.stages.append(stage)
        self.norm = GNAct(cin)
        self.head = nn.Module()
        self.head.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.stem.conv(x)
        if not self.small:
            x = F.max_pool2d(x, 3, 2, padding=1)
        for stage in self.stages:
            for b in stage.blocks:
                x = b(x)
        x = self.norm(x).mean((2, 3))
        return self.head.fc(x)


def ours(name, t):
    """A tensor in package resnet's layout: kernels [out, k, k, in]."""
    t = t.detach()
    if t.dim() == 4:
        t = t.permute(0, 2, 3, 1)
    return t.contiguous().float()


def write_safetensors(path, tensors, meta):
    header, offset, blobs = {"__metadata__": meta}, 0, []
    for name, t in tensors.items():
        b = t.numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def case(name, depth, width, side, channels, classes, batch, seed):
    torch.manual_seed(seed)
    m = ResNetV2(depth, width, channels, classes, side <= 64)
    with torch.no_grad():
        for pname, p in m.named_parameters():
            if p.dim() == 4:
                p.normal_()
            elif pname.endswith("norm1.weight") or pname.endswith("norm2.weight") or pname.endswith("norm3.weight") or pname == "norm.weight":
                p.copy_(1 + 0.3 * torch.randn_like(p))
            else:
                p.copy_(0.3 * torch.randn_like(p))
    x = torch.randn(batch, channels, side, side)
    labels = torch.randint(0, classes, (batch,))
    logits = m(x)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    t = {"x": x, "labels": labels.float(), "logits": logits.detach(), "loss": loss.detach().reshape(1)}
    for pname, p in m.named_parameters():
        t[pname] = ours(pname, p)
        t["grad." + pname] = ours(pname, p.grad)
    meta = {"depth": str(depth), "width": str(width), "side": str(side), "channels": str(channels), "classes": str(classes),
            "batch": str(batch), "torch": torch.__version__}
    write_safetensors(f"resnet/testdata/reference_{name}.safetensors", t, meta)


if __name__ == "__main__":
    case("small", depth=26, width=2, side=12, channels=3, classes=5, batch=3, seed=1)
    case("standard", depth=26, width=2, side=66, channels=1, classes=4, batch=2, seed=2)
