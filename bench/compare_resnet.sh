#!/bin/sh
# Side-by-side training throughput of a ResNet: vit (Go) against PyTorch
# (Debian python3-torch 1.13, 2 threads, OMP_WAIT_POLICY=PASSIVE, OpenBLAS
# pthread) on the same network and shapes (bench/peer_resnet.py --model
# bit), and PyTorch's torchvision ResNet (BatchNorm, no weight
# standardisation) for scale. Alternates ROUNDS times on the same machine.
# Usage: bench/compare_resnet.sh [ROUNDS] [DEPTH WIDTH IMAGE CHANNELS CLASSES BATCH]
#   bench/compare_resnet.sh 3                          # ResNet-26 width 16, 28x28x1, batch 128
#   bench/compare_resnet.sh 3 50 64 224 3 1000 16      # ResNet-50 at 224, batch 16
set -eu
cd "$(dirname "$0")/.."
rounds=${1:-3} depth=${2:-26} width=${3:-16} image=${4:-28} ch=${5:-1} classes=${6:-10} batch=${7:-128}
go build -o /tmp/vit-bench ./cmd/vit
ips() { sed 's/.*"images_per_s": *\([0-9.]*\).*/\1/'; }
peer() {
  OMP_WAIT_POLICY=PASSIVE LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-pthread /usr/bin/python3 bench/peer_resnet.py \
    --model "$1" --depth "$depth" --width "$width" --image "$image" --channels "$ch" --classes "$classes" --batch "$batch" | ips
}
for i in $(seq "$rounds"); do
  go_ips=$(/tmp/vit-bench bench --train --arch resnet --depth "$depth" --width "$width" --image "$image" \
    --channels "$ch" --classes "$classes" --batch "$batch" --seconds 15 --json 2>/dev/null | ips)
  bit=$(peer bit)
  tv=$(peer torchvision)
  printf 'round %d: vit %.1f images/s, pytorch BiT %.1f (ratio %.2f), torchvision ResNet %.1f\n' \
    "$i" "$go_ips" "$bit" "$(echo "$go_ips / $bit" | bc -l)" "$tv"
done
