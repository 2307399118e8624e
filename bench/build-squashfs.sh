#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Wrapping an existing squashfs into a SIF (sif build OUT squashfs:FILE)
# against copying the same file with cp, which is the floor: the build can
# not be faster than moving the bytes once.  Prints the command lines, the
# absolute times and the ratio.  Usage: bench/build-squashfs.sh [SIZE_MB]
set -euo pipefail
SIZE_MB=${1:-512}
SIF=${SIF:-$(command -v sif || true)}
[ -x "$SIF" ] || { echo "bench: set SIF=/path/to/sif or put sif on PATH" >&2; exit 1; }
command -v mksquashfs >/dev/null || { echo "bench: install squashfs-tools" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/sif-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

mkdir "$work/root"
head -c "$((SIZE_MB * 1024 * 1024))" /dev/urandom >"$work/root/data"
mksquashfs "$work/root" "$work/in.sqfs" -quiet -noappend -noD >/dev/null
echo "input: $(du -h "$work/in.sqfs" | cut -f1) squashfs in $work ($(df -T "$work" | awk 'NR==2{print $2}'))"

build="$SIF build --force $work/out.sif squashfs:$work/in.sqfs"
copy="cp --reflink=never $work/in.sqfs $work/copy.sqfs"
if command -v hyperfine >/dev/null; then
	hyperfine -N --warmup 1 --runs 10 --export-json "$work/h.json" "$copy" "$build"
	python3 - "$work/h.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
cp, sif = r[0]["mean"], r[1]["mean"]
print(f"cp:        {cp*1000:8.1f} ms   {r[0]['command']}")
print(f"sif build: {sif*1000:8.1f} ms   {r[1]['command']}")
print(f"ratio sif build / cp: {sif/cp:.2f}x")
PY
else
	t() { local s e; s=$(date +%s%N); "$@"; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
	best() { local b=999999999 i v; for i in 1 2 3 4 5; do v=$(t "$@"); [ "$v" -lt "$b" ] && b=$v; done; echo "$b"; }
	c=$(best $copy); s=$(best $build)
	echo "cp:        $c ms (best of 5)   $copy"
	echo "sif build: $s ms (best of 5)   $build"
	python3 -c "print(f'ratio sif build / cp: {$s/max($c,1):.2f}x')"
fi
