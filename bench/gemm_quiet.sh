#!/bin/sh
# gemm_quiet.sh [MAX_WAIT_S] — wait until other processes use less than
# about 0.15 of a core (sampled over 2 s), at most MAX_WAIT_S seconds
# (default 300). Prints the busy cores seen; exit status 1 if never quiet.
# With GEMM_IGNORE_NICE=1, time of niced (background) processes, which
# yield the CPU to ours, is not counted as busy.
max=${1:-300}
t=0
while :; do
	set -- $(head -1 /proc/stat)
	b1=$(($2 + ${GEMM_IGNORE_NICE:+0*}$3 + $4 + $7 + $8)); a1=$(($b1 + $5 + $6))
	sleep 2
	set -- $(head -1 /proc/stat)
	b2=$(($2 + ${GEMM_IGNORE_NICE:+0*}$3 + $4 + $7 + $8)); a2=$(($b2 + $5 + $6))
	busy=$(awk -v b=$((b2 - b1)) -v a=$((a2 - a1)) -v n=$(nproc) 'BEGIN{printf "%.2f", (a ? b / a : 0) * n}')
	if awk -v x=$busy 'BEGIN{exit !(x < 0.15)}'; then
		echo "quiet: $busy busy cores"
		exit 0
	fi
	t=$((t + 2))
	if [ $t -ge $max ]; then
		echo "not quiet after ${max}s: $busy busy cores"
		exit 1
	fi
done
