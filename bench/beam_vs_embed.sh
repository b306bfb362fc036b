#!/usr/bin/env bash
# What the Beam engine costs: vit-beam on the embedded Prism runner against
# vit embed, same model, same folder of PNG files, same machine, one after
# the other (run on a quiet machine).
#
#   bench/beam_vs_embed.sh MODEL [N] [ROUNDS] [IMAGES]
#
# MODEL is any model vit reads whose input is 28×28 grey (a vit train
# --recipe quick run folder, say); N Fashion-MNIST test images (default
# 10000) are written as PNG files first. With IMAGES, a folder of images,
# those are read instead and N is their count (for a 224×224 model and
# photos: go run ./bench/embedset -preset Ti/16 -images 2000 -out DIR, then
# MODEL DIR/model and IMAGES DIR/images). Prints images/s of each command
# per round and the overhead of Beam.
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:?usage: bench/beam_vs_embed.sh MODEL [N] [ROUNDS] [IMAGES]}
n=${2:-10000}
rounds=${3:-3}
images=${4:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

go build -o "$work/vit" ./cmd/vit
go build -o "$work/vit-beam" ./beam/cmd/vit-beam
if [ -z "$images" ]; then
  images=$work/images
  go run ./bench/pngset --out "$images" --n "$n"
else
  n=$(find "$images" -maxdepth 1 -type f | wc -l)
fi
lscpu | grep -E 'Model name|^CPU\(s\)' || true

# secs CMD...: the wall seconds CMD takes (its output kept in $work/log, shown if it fails).
secs() {
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >"$work/log" 2>&1 || { cat "$work/log" >&2; exit 1; }
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}
for r in $(seq "$rounds"); do
  e=$(secs "$work/vit" embed --model "$model" --out "$work/embed.jsonl" "$images")
  b=$(secs "$work/vit-beam" --model "$model" --input "$images/*" --output "$work/beam/emb" --task embed)
  printf 'round %d: vit embed %.1f images/s, vit-beam (prism) %.1f images/s, Beam overhead %.1f%%\n' \
    "$r" "$(echo "$n / $e" | bc -l)" "$(echo "$n / $b" | bc -l)" "$(echo "100 * ($b - $e) / $e" | bc -l)"
done
