#!/usr/bin/python3
"""PyTorch peer of `vit bench --train --arch resnet`: one training step of a ResNet, timed.

--model bit (default) is the network vit trains: BiT's ResNet v2 (pre-activation bottlenecks,
GroupNorm, weight-standardised convolutions), the same module as resnet/testdata/gen_reference.py,
with the small 3x3/1 stem for images up to 64 pixels and the 7x7/2 stem and max pool above.
--model torchvision is torchvision's ResNet (post-activation, BatchNorm, plain convolutions) with
[2,2,2,2] (depth 26) or [3,4,6,3] (50) bottlenecks, base width --width; its stem is always 7x7/2
and max pool, so compare it at 224 (--image 224 --channels 3 --classes 1000).
AdamW (wd 0.05), label-smoothed cross-entropy, global-norm clipping at 1, random inputs: the work of
`vit bench --train`. A development tool (Debian's python3-torch 1.13); tests and CI never run it:
  OMP_WAIT_POLICY=PASSIVE LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-pthread \
    /usr/bin/python3 bench/peer_resnet.py --depth 26 --width 16
Prints one JSON object: {"images_per_s": ..., "step_ms_median": ..., "threads": 2, ...}.
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "resnet", "testdata"))
from gen_reference import DEPTHS, ResNetV2  # noqa: E402


def torchvision_resnet(depth, width, classes):
    from torchvision.models.resnet import Bottleneck, ResNet

    m = ResNet(Bottleneck, DEPTHS[depth], num_classes=classes)
    if width != 64:  # scale every stage's width, as --width does in vit
        m.inplanes = width
        m.conv1 = torch.nn.Conv2d(3, width, 7, 2, 3, bias=False)
        m.bn1 = torch.nn.BatchNorm2d(width)
        m.layer1 = m._make_layer(Bottleneck, width, DEPTHS[depth][0])
        m.layer2 = m._make_layer(Bottleneck, 2 * width, DEPTHS[depth][1], stride=2)
        m.layer3 = m._make_layer(Bottleneck, 4 * width, DEPTHS[depth][2], stride=2)
        m.layer4 = m._make_layer(Bottleneck, 8 * width, DEPTHS[depth][3], stride=2)
        m.fc = torch.nn.Linear(32 * width, classes)
    return m


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["bit", "torchvision"], default="bit")
    ap.add_argument("--depth", type=int, choices=[26, 50], default=26)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--image", type=int, default=28)
    ap.add_argument("--channels", type=int, default=1)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.model == "bit":
        model = ResNetV2(args.depth, args.width, args.channels, args.classes, args.image <= 64)
    else:
        model = torchvision_resnet(args.depth, args.width, args.classes)
        if args.channels != 3:
            model.conv1 = torch.nn.Conv2d(args.channels, model.conv1.out_channels, 7, 2, 3, bias=False)
    model.train()
    decay = [p for p in model.parameters() if p.ndim >= 2]
    other = [p for p in model.parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": other, "weight_decay": 0.0}], lr=1e-4)
    x = torch.randn(args.batch, args.channels, args.image, args.image)
    y = torch.randint(0, args.classes, (args.batch,))
    times = []
    for s in range(args.warmup + args.steps):
        t0 = time.perf_counter()
        loss = F.cross_entropy(model(x), y, label_smoothing=0.1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if s >= args.warmup:
            times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    blas = [l for l in torch.__config__.show().splitlines() if "BLAS" in l]
    print(json.dumps({"model": args.model, "depth": args.depth, "width": args.width, "image": args.image,
                      "images_per_s": args.batch / med, "step_ms_median": med * 1e3, "threads": torch.get_num_threads(),
                      "torch": torch.__version__, "blas": blas[0].strip() if blas else ""}))


if __name__ == "__main__":
    main()
