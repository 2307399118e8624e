#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Run one libFuzzer target for at least SECONDS and MIN_RUNS executions,
# from the corpus kept in the repository (plus extra seed directories).
# Prints "runs=N seconds=S" and exits non-zero on a finding or a short run.
#   tests/fuzz/run.sh FUZZER CORPUS_DIR SECONDS MIN_RUNS [SEED_DIR...]
# New inputs land in a scratch copy; to keep them, merge them into the
# repository corpus by hand: FUZZER -merge=1 CORPUS_DIR SCRATCH_DIR.
set -u
fuzzer=$1 corpus=$2 seconds=$3 min_runs=$4
shift 4
work=$(mktemp -d "${TMPDIR:-/tmp}/sif-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$work/artifacts"
cp -r "$corpus"/. "$work/corpus/" 2>/dev/null
for s in "$@"; do [ -d "$s" ] && cp "$s"/* "$work/corpus/" 2>/dev/null; done

total=0 start=$(date +%s) rc=0
opts=(-max_len=65536 -print_final_stats=1 -artifact_prefix="$work/artifacts/" -timeout=10 -rss_limit_mb=2048)
while :; do
	elapsed=$(( $(date +%s) - start ))
	if [ "$elapsed" -lt "$seconds" ]; then
		"$fuzzer" "${opts[@]}" -max_total_time=$(( seconds - elapsed )) "$work/corpus" >"$work/log" 2>&1
	elif [ "$total" -lt "$min_runs" ]; then
		"$fuzzer" "${opts[@]}" -runs=$(( min_runs - total )) "$work/corpus" >"$work/log" 2>&1
	else
		break
	fi
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
	total=$(( total + ${runs:-0} ))
	if [ "$rc" -ne 0 ] || ls "$work/artifacts" | grep -q .; then
		grep -E 'ERROR|SUMMARY|==[0-9]+==' "$work/log" | head -20
		for a in "$work"/artifacts/*; do [ -f "$a" ] && echo "crashing input (base64): $(head -c 4096 "$a" | base64 -w0)"; done
		echo "runs=$total seconds=$(( $(date +%s) - start )) FINDING"
		exit 1
	fi
	[ "${runs:-0}" -gt 0 ] || { tail -20 "$work/log"; echo "fuzzer made no progress"; exit 1; }
done
echo "runs=$total seconds=$(( $(date +%s) - start )) corpus=$(ls "$work/corpus" | wc -l)"
