#!/usr/bin/python3
"""Writes the goldens of package torchbin with PyTorch's own torch.save.

Run with Debian's python3 (torch 1.13):

    /usr/bin/python3 torchbin/testdata/gen.py

odd.pt holds tensors that exercise the reader: float32, float16, bfloat16
and float64 storages, a transposed (non-contiguous) view, two tensors that
share one storage at different offsets, a 0-d tensor, an empty tensor and an
nn.Parameter; odd.safetensors holds the same tensors made contiguous and
float32 (the expected values). legacy.pt is the pre-1.6 (non-zip) format,
which the reader rejects with a clear error.

Nothing here runs at test time: the Go tests read the files it writes.
"""

import json
import os
import struct
from collections import OrderedDict

import numpy as np
import torch

OUT = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(5)

base = torch.randn(6, 5)
shared = torch.randn(20)
sd = OrderedDict()
sd["f32"] = torch.randn(3, 4)
sd["f16"] = torch.randn(2, 3).half()
sd["bf16"] = torch.randn(7).bfloat16()
sd["f64"] = torch.randn(2, 2).double()
sd["transposed"] = base.t()                 # shape [5, 6], strides (1, 5)
sd["shared.a"] = shared[2:8].view(2, 3)     # offset 2 in a 20-element storage
sd["shared.b"] = shared[10:14]              # offset 10, same storage
sd["scalar"] = torch.tensor(3.5)
sd["empty"] = torch.zeros(0, 4)
sd["param"] = torch.nn.Parameter(torch.randn(4))
torch.save(sd, os.path.join(OUT, "odd.pt"))
torch.save(OrderedDict(w=torch.ones(2)), os.path.join(OUT, "legacy.pt"), _use_new_zipfile_serialization=False)


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name].detach().float().numpy().astype("<f4"))
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


write_safetensors(os.path.join(OUT, "odd.safetensors"), sd)
