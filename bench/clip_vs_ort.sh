#!/bin/bash
# CLIP B/16 at 224, batch 16, 2 threads: vit bench and ONNX Runtime alternately, two rounds.
# Needs the ONNX Runtime peer in /tmp/ortpeer (../shared/peers/ort/README.md) and
#   /usr/bin/python3 testdata/encoders/export_onnx.py clip-b16 /tmp/ortpeer/clip_b16.onnx
VIT=${VIT:-/tmp/vit}   # go build -o /tmp/vit ./cmd/vit
grep -m1 "model name" /proc/cpuinfo
for r in 1 2; do
  echo "round $r"
  $VIT bench --model CLIP-B/16 --image 224 --batch 16 --seconds 15 --json
  (cd /tmp/ortpeer && node bench_ort.js clip_b16.onnx 16 2 15)
done
$VIT bench --model CLIP-B/16 --image 224 --batch 16 --dtype bf16 --seconds 15 --json
