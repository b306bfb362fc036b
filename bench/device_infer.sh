#!/bin/bash
# Device check: the AVX-512 (and AVX512_BF16) paths end to end, and a 2-core
# side-by-side with the PyTorch installed on that machine. Build the binaries
# first (they travel in the ignored devbin/ folder):
#   CGO_ENABLED=0 go build -o devbin/vit ./cmd/vit
#   CGO_ENABLED=0 go test -c -o devbin/vit.test .
#   CGO_ENABLED=0 go test -c -o devbin/kernels.test ./kernels
# then run: bash bench/device_infer.sh (from the repository root).
cd "$(dirname "$0")/.."
grep -m1 'model name' /proc/cpuinfo; nproc
echo "flags: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx512f|avx512_bf16|amx_bf16|avx2|fma)$' | sort -u | tr '\n' ' ')"
export GOMAXPROCS=2
T="taskset -c 0,1"
echo "== kernels tests"
$T ./devbin/kernels.test -test.count=1 -test.timeout 120s 2>&1 | tail -3
echo "== model tests (AVX-512 end to end)"
$T ./devbin/vit.test -test.count=1 -test.run 'TestAgainstReference|TestInferenceMatchesTraining|TestModelBackward|TestPredictConcurrent' -test.timeout 120s 2>&1 | tail -3
echo "== vit bench (2 cores)"
for a in "--model Ti/16 --batch 1" "--model B/16 --batch 16" "--model B/16 --batch 16 --dtype bf16" "--train"; do
  $T ./devbin/vit bench $a --seconds 6 --json 2>/dev/null
done
echo "== pytorch (2 threads)"
python3 -c "import torch; print(torch.__version__, torch.backends.mkldnn.is_available())"
for a in "--model Ti/16 --batch 1" "--model B/16 --batch 16"; do
  OMP_NUM_THREADS=2 $T timeout 100 python3 bench/peer_infer.py $a --seconds 6 2>&1 | tail -1
done
OMP_NUM_THREADS=2 $T timeout 60 python3 bench/peer_train.py --batch 128 --steps 20 2>&1 | tail -1
