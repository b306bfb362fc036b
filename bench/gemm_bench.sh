#!/bin/sh
# gemm_bench.sh [REGEX] [COUNT] — run the kernels GEMM benchmarks one at a
# time, each after waiting for the machine to be quiet (gemm_quiet.sh).
# Prints "name GFLOP/s" per run, then per shape the median and best of the
# COUNT runs. GEMM_MAX_WAIT (seconds, default 300) bounds each wait.
set -e
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../kernels"
re=${1:-'Sgemm'}
count=${2:-1}
go test -c -o /tmp/kernels_gemm.test .
out=$(mktemp)
names=$(/tmp/kernels_gemm.test -test.list '^Benchmark' | grep -E "$re")
for top in $names; do
	subs=$(/tmp/kernels_gemm.test -test.run '^$' -test.bench "^$top\$" -test.benchtime 1x 2>/dev/null |
		awk '/^Benchmark/ {sub(/-[0-9]+$/, "", $1); print $1}')
	for s in $subs; do
		i=0
		while [ $i -lt "$count" ]; do
			"$here/gemm_quiet.sh" "${GEMM_MAX_WAIT:-300}" >/dev/null || echo "# machine busy"
			pat=$(echo "$s" | sed 's/[][().+*?^$|]/\\&/g; s|/|$/^|g')
			/tmp/kernels_gemm.test -test.run '^$' -test.bench "^$pat\$" -test.benchtime 1s |
				awk '/GFLOP/ {for (i = 1; i <= NF; i++) if ($i == "GFLOP/s") print $1, $(i-1)}' | tee -a "$out"
			i=$((i + 1))
		done
	done
done
echo "# shape median best (GFLOP/s over $count runs)"
sort -k1,1 -k2,2g "$out" | awk '
	function flush() { if (n) printf "%s %.1f %.1f\n", name, (n % 2 ? v[(n+1)/2] : (v[n/2] + v[n/2+1]) / 2), v[n] }
	$1 != name { flush(); name = $1; n = 0 }
	{ v[++n] = $2 }
	END { flush() }'
rm -f "$out"
