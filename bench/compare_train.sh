#!/bin/sh
# Side-by-side training throughput of the reference small ViT (batch 128):
# vit (Go) against PyTorch (Debian python3-torch with OpenBLAS, 2 threads,
# OMP_WAIT_POLICY=PASSIVE), alternating ROUNDS times on the same machine.
# Needs: apt-get install -y python3-torch libopenblas0-pthread
# Usage: bench/compare_train.sh [ROUNDS]
set -eu
cd "$(dirname "$0")/.."
rounds=${1:-3}
go build -o /tmp/vit-bench ./cmd/vit
for i in $(seq "$rounds"); do
  go_ips=$(/tmp/vit-bench bench --train --batch 128 --seconds 15 --json | sed 's/.*"images_per_s":\([0-9.]*\).*/\1/')
  py_ips=$(OMP_WAIT_POLICY=PASSIVE LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-pthread \
    /usr/bin/python3 bench/peer_train.py --batch 128 --steps 30 | sed 's/.*"images_per_s": \([0-9.]*\).*/\1/')
  echo "round $i: vit $go_ips images/s, pytorch $py_ips images/s, ratio $(echo "$go_ips / $py_ips" | bc -l | cut -c1-4)"
done
