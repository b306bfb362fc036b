#!/bin/sh
# gemm_peer.sh [FLAGS...] — vit's float32 GEMM against OpenBLAS on the
# ViT-B/16 shapes, both sides in one run with the same threads: prints a
# Markdown table of GFLOP/s and the ratio (bench/gemmpeer/main.go has the
# details). Needs Debian's python3-numpy (or python3-torch) with OpenBLAS:
#   apt-get install python3-numpy libopenblas0-pthread
# Uses Debian's pthread OpenBLAS when installed; FLAGS go to the program,
# e.g. -threads 2 -seconds 3 -rounds 3 -json bench/gemm_peer.json.
# Run it on a quiet machine.
set -e
cd "$(dirname "$0")/.."
blas=/usr/lib/x86_64-linux-gnu/openblas-pthread
[ -d "$blas" ] || blas=
exec go run ./bench/gemmpeer -blas-path "$blas" "$@"
