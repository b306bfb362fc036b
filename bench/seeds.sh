#!/bin/sh
# seeds.sh RECIPE N [FLAGS...] — train RECIPE with seeds 1..N, each seed one
# uninterrupted `vit train --recipe RECIPE --seed S` into its own run folder
# under runs/seeds-RECIPE-TIME/, and print each seed's validation and test
# accuracy and wall time, then mean ± sd (bench/seeds/main.go). FLAGS go to
# every vit train, e.g. a smoke test: bench/seeds.sh quick 2 --steps 20.
set -e
if [ $# -lt 2 ]; then
	echo "usage: bench/seeds.sh RECIPE N [vit train flags...]" >&2
	exit 2
fi
recipe=$1
n=$2
shift 2
cd "$(dirname "$0")/.."
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/vit" ./cmd/vit
go build -o "$bin/seeds" ./bench/seeds
"$bin/seeds" -vit "$bin/vit" -recipe "$recipe" -n "$n" -- "$@"
