#!/usr/bin/python3
"""Writes PyTorch-format copies of two goldens of gen.py, with torch.save:

  hf_bin/    the hf/ folder with pytorch_model.bin instead of model.safetensors
  timm_bin/  the timm/ folder with its weights in two pytorch_model-0000N-of-00002.bin
             shards and a pytorch_model.bin.index.json

The tensors are the same float32 values, so the Go tests expect the same
logits as from the safetensors folders. Run with Debian's python3 (torch 1.13)
after gen.py:

    /usr/bin/python3 checkpoint/testdata/gen_bin.py
"""

import json
import os
import shutil
import struct
from collections import OrderedDict

import numpy as np
import torch

OUT = os.path.dirname(os.path.abspath(__file__))


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    sd = OrderedDict()
    for name in sorted(k for k in header if k != "__metadata__"):
        h = header[name]
        assert h["dtype"] == "F32"
        a, b = h["data_offsets"]
        sd[name] = torch.from_numpy(np.frombuffer(data[a:b], dtype="<f4").reshape(h["shape"]).copy())
    return sd


def copy_folder(src, dst):
    os.makedirs(os.path.join(OUT, dst), exist_ok=True)
    for name in os.listdir(os.path.join(OUT, src)):
        if name.endswith(".json"):
            shutil.copy(os.path.join(OUT, src, name), os.path.join(OUT, dst, name))


copy_folder("hf", "hf_bin")
torch.save(read_safetensors(os.path.join(OUT, "hf", "model.safetensors")), os.path.join(OUT, "hf_bin", "pytorch_model.bin"))

copy_folder("timm", "timm_bin")
sd = read_safetensors(os.path.join(OUT, "timm", "model.safetensors"))
names = list(sd)
shards = [names[: len(names) // 2], names[len(names) // 2 :]]
weight_map = {}
for i, part in enumerate(shards):
    fname = "pytorch_model-%05d-of-%05d.bin" % (i + 1, len(shards))
    torch.save(OrderedDict((n, sd[n]) for n in part), os.path.join(OUT, "timm_bin", fname))
    weight_map.update({n: fname for n in part})
with open(os.path.join(OUT, "timm_bin", "pytorch_model.bin.index.json"), "w") as f:
    json.dump({"metadata": {"total_size": sum(t.numel() * 4 for t in sd.values())}, "weight_map": weight_map}, f, indent=1)
