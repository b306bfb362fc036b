#!/usr/bin/python3
"""Exports the reference CLIP and DINOv2 image towers of gen.py at full size
(random weights) to ONNX, for the ONNX Runtime peer of vit bench
(../shared/peers/ort/bench_ort.js):

    /usr/bin/python3 testdata/encoders/export_onnx.py clip-b16 clip_b16.onnx
    /usr/bin/python3 testdata/encoders/export_onnx.py dinov2-b14 dinov2_b14.onnx

clip-b16 is CLIPVisionModelWithProjection of openai/clip-vit-base-patch16
(224 input, 512-wide embedding); dinov2-b14 is Dinov2Model of
facebook/dinov2-base at 224 (the 37×37 position embeddings resampled
bicubically in the graph, as at every call). Both match vit bench --model
CLIP-B/16 and DINOv2-B/14 at --image 224. The input is named x, as the
peer's bench_ort.js feeds it.
"""

import sys

import torch

import gen


def main():
    kind, out = sys.argv[1], sys.argv[2]
    gen.DIM, gen.HEADS, gen.DEPTH, gen.MLP = 768, 12, 12, 3072
    if kind == "clip-b16":
        gen.PATCH = 16
        model = gen.CLIPWithProjection(14, 512)
    elif kind == "dinov2-b14":
        gen.PATCH = 14
        model = gen.Dinov2(37)
    else:
        sys.exit("usage: export_onnx.py clip-b16|dinov2-b14 OUT.onnx")
    gen.randomize(model, std=0.02)
    model.eval()
    x = torch.randn(1, 3, 224, 224)
    torch.onnx.export(model, x, out, input_names=["x"], output_names=["embeddings"],
                      dynamic_axes={"x": {0: "batch"}, "embeddings": {0: "batch"}}, opset_version=17)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
