#!/bin/sh
# Side-by-side inference throughput at 224×224: vit (Go) against PyTorch
# (Debian python3-torch 1.13, 2 threads, OMP_WAIT_POLICY=PASSIVE, OpenBLAS;
# the faster of eager and traced+frozen+optimize_for_inference). For each
# model and batch it alternates ROUNDS times, vit then PyTorch, and prints
# images/s and the ratio of each round (the machine is noisy: compare within
# a round).
# Needs: apt-get install -y python3-torch python3-torchvision libopenblas0-pthread
# Usage: bench/compare_infer.sh [ROUNDS] [CONFIGS...]   (CONFIGS like Ti/16:1 B/16:16;
#        default Ti/16:1 Ti/16:16 S/16:1 S/16:16 B/16:1 B/16:16)
# DTYPE=bf16 runs vit in bf16 (PyTorch stays fp32, as the target asks).
set -eu
cd "$(dirname "$0")/.."
rounds=${1:-3}
[ $# -gt 0 ] && shift
configs=${*:-"Ti/16:1 Ti/16:16 S/16:1 S/16:16 B/16:1 B/16:16"}
dtype=${DTYPE:-fp32}
blas=${BLAS:-openblas-pthread}
go build -o /tmp/vit-bench ./cmd/vit
field() { sed "s/.*\"$1\": *\"*\([^,\"]*\).*/\1/"; }
echo "# $(date -u +%FT%TZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) ; vit $dtype, pytorch fp32 ($blas)"
for cfg in $configs; do
  model=${cfg%:*}
  batch=${cfg#*:}
  secs=10
  for i in $(seq "$rounds"); do
    ours=$(/tmp/vit-bench bench --model "$model" --batch "$batch" --dtype "$dtype" --seconds $secs --json 2>/dev/null)
    go_ips=$(echo "$ours" | field images_per_s)
    frac=$(echo "$ours" | field peak_fraction)
    rss=$(echo "$ours" | field peak_rss_mib)
    peer=$(OMP_WAIT_POLICY=PASSIVE LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/$blas \
      /usr/bin/python3 bench/peer_infer.py --model "$model" --batch "$batch" --seconds $secs 2>/dev/null)
    py_ips=$(echo "$peer" | field images_per_s)
    mode=$(echo "$peer" | field mode)
    printf '%s batch %s round %d: vit %.2f images/s (%.0f%% of peak, RSS %.0f MiB), pytorch %.2f (%s), ratio %.2f\n' \
      "$model" "$batch" "$i" "$go_ips" "$(echo "100 * $frac" | bc -l)" "$rss" "$py_ips" "$mode" "$(echo "$go_ips / $py_ips" | bc -l)"
  done
done
