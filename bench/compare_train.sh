#!/bin/sh
# Side-by-side training throughput of the reference small ViT (batch 128):
# vit (Go) against PyTorch (Debian python3-torch 1.13, 2 threads,
# OMP_WAIT_POLICY=PASSIVE) at its best: both OpenBLAS builds (pthread and
# openmp) are run and the faster counts. Alternates ROUNDS times on the same
# machine; prints each round's images/s and ratio.
# Needs: apt-get install -y python3-torch libopenblas0-pthread libopenblas0-openmp
# Usage: bench/compare_train.sh [ROUNDS]
set -eu
cd "$(dirname "$0")/.."
rounds=${1:-3}
go build -o /tmp/vit-bench ./cmd/vit
ips() { sed 's/.*"images_per_s": *\([0-9.]*\).*/\1/'; }
peer() {
  OMP_WAIT_POLICY=PASSIVE LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/$1 \
    /usr/bin/python3 bench/peer_train.py --batch 128 --steps 30 | ips
}
for i in $(seq "$rounds"); do
  go_ips=$(/tmp/vit-bench bench --train --batch 128 --seconds 15 --json 2>/dev/null | ips)
  pth=$(peer openblas-pthread)
  omp=$(peer openblas-openmp)
  best=$(echo "if ($pth > $omp) $pth else $omp" | bc -l)
  printf 'round %d: vit %.1f images/s, pytorch %.1f (openblas-pthread %.1f, openmp %.1f), ratio %.2f\n' \
    "$i" "$go_ips" "$best" "$pth" "$omp" "$(echo "$go_ips / $best" | bc -l)"
done
