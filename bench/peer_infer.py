#!/usr/bin/python3
"""PyTorch peer for `vit bench`: ViT inference at 224x224, fp32, CPU.

torchvision's VisionTransformer (the paper's models: Ti/16 = 192/12/3/768, S/16 = 384/12/6/1536,
B/16 = 768/12/12/3072, 1000 classes), random weights and inputs, timed two ways and the faster kept:
eager under torch.inference_mode(), and torch.jit.trace + freeze + optimize_for_inference.

A development tool (Debian's python3-torch 1.13); tests and CI never run it. Run it at its best:
  OMP_WAIT_POLICY=PASSIVE LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-pthread \
    /usr/bin/python3 bench/peer_infer.py --model B/16 --batch 16
Prints one JSON object: {"images_per_s": ..., "ms_per_batch": ..., "mode": ..., "blas": ...}.
"""
import argparse
import json
import statistics
import time

import torch
from torchvision.models.vision_transformer import VisionTransformer

PRESETS = {"Ti/16": (192, 12, 3, 768), "S/16": (384, 12, 6, 1536), "B/16": (768, 12, 12, 3072)}


def timed(fn, seconds):
    fn()
    fn()  # warm-up (and jit profiling runs)
    times = []
    start = time.perf_counter()
    while time.perf_counter() - start < seconds or len(times) < 3:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="B/16", choices=sorted(PRESETS))
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=10)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    d, depth, heads, mlp = PRESETS[args.model]
    model = VisionTransformer(image_size=224, patch_size=16, num_layers=depth, num_heads=heads,
                              hidden_dim=d, mlp_dim=mlp, num_classes=1000).eval()
    x = torch.randn(args.batch, 3, 224, 224)
    results = {}
    with torch.inference_mode():
        results["eager"] = timed(lambda: model(x), args.seconds)
    with torch.no_grad():
        traced = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(model, x, check_trace=False)))
        results["traced"] = timed(lambda: traced(x), args.seconds)
    mode = min(results, key=results.get)
    s = results[mode]
    cfg = torch.__config__.show()
    blas = "openblas" if "BLAS_INFO=open" in cfg else "other"
    print(json.dumps({"model": args.model, "batch": args.batch, "images_per_s": args.batch / s,
                      "ms_per_batch": 1000 * s, "mode": mode, "threads": torch.get_num_threads(),
                      "blas": blas, "torch": torch.__version__,
                      "ms_eager": 1000 * results["eager"], "ms_traced": 1000 * results["traced"]}))


if __name__ == "__main__":
    main()
