#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Launching a container: `sif exec IMAGE.sif CMD` side by side with
# Charliecloud's ch-run (on the squashfs and on the directory), bubblewrap on
# the extracted directory and the bare command, for /bin/true and for
# `python3 -c 'import numpy'`, the latter (a) repeated, caches warm, and (b)
# with the page cache dropped before every run of every command (root only;
# the commands take turns, one run each per round);
# /bin/true also joining a live mount (--share-tag, while a holder runs) and
# setting one up (--no-share), beside the bare command (issue 5: a join at
# most 2 ms more than the bare command).
# Then the launcher's memory: GNU time's max RSS and, per process, VmHWM from
# /proc/PID/status while a `sleep` payload runs.  Prints each command line,
# absolute times, the ratio to bubblewrap on the directory and the project's
# targets; the targets are measured, never asserted (exit status 0 whether
# they are met or not).
#
# Usage: bench/exec.sh     (as root: builds the image once, drops caches, and
#                           runs every measured command as $SIF_BENCH_USER)
# Environment:
#   SIF                  sif to measure (default: sif on PATH)
#   SIF_BENCH_DIR        image cache (default /var/tmp/sif-bench): rootfs/,
#                        img.sqfs, img.sif, results/*.json
#   SIF_BENCH_USER       unprivileged user when run as root (default siftest)
#   SIF_BENCH_RUNS       minimum runs per warm command (default 30)
#   SIF_BENCH_COLD_RUNS  rounds with caches dropped, one run of each command
#                        per round (default 10)
#   SIF_BENCH_MIRROR     Debian mirror (default http://deb.debian.org/debian)
set -euo pipefail

BENCH_DIR=${SIF_BENCH_DIR:-/var/tmp/sif-bench}
RUNS=${SIF_BENCH_RUNS:-30}
COLD_RUNS=${SIF_BENCH_COLD_RUNS:-10}
WARM_ROUND_RUNS=3   # runs of each command in one round of the warm numpy rows
MIRROR=${SIF_BENCH_MIRROR:-http://deb.debian.org/debian}
UPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

say() { printf '%s\n' "$*"; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

# --- tools ------------------------------------------------------------------
SIF=${SIF:-$(command -v sif || true)}
{ [ -n "$SIF" ] && [ -x "$SIF" ]; } || die "set SIF=/path/to/sif or put sif on PATH (./quickstart, or make install)"
SIF=$(readlink -f "$SIF")
missing=()
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$1 (apt-get install $2)"); }
need hyperfine hyperfine
need bwrap bubblewrap
need ch-run charliecloud-runtime
need mksquashfs squashfs-tools
need setpriv util-linux
need python3 python3
[ -x /usr/bin/time ] || missing+=("/usr/bin/time (apt-get install time)")
[ -e "$BENCH_DIR/rootfs.done" ] || need debootstrap debootstrap
[ ${#missing[@]} -eq 0 ] || die "missing: ${missing[*]}"
case "$BENCH_DIR$SIF" in *[[:space:]\'\"\\]*) die "SIF_BENCH_DIR and SIF must not contain blanks or quotes";; esac

# --- who runs the measured commands -----------------------------------------
if [ "$(id -u)" -eq 0 ]; then
	ROOT=1
	BUSER=${SIF_BENCH_USER:-siftest}
	getent passwd "$BUSER" >/dev/null || die "no user $BUSER: useradd -m $BUSER (or set SIF_BENCH_USER)"
	BUID=$(id -u "$BUSER"); BGID=$(id -g "$BUSER"); BHOME=$(getent passwd "$BUSER" | cut -d: -f6)
	[ -d "$BHOME" ] || die "$BUSER has no home directory $BHOME (useradd -m)"
	# setpriv and env exec in place: $! of `"${AS[@]}" cmd &` is cmd's pid
	SETPRIV="setpriv --reuid=$BUID --regid=$BGID --init-groups"
	CLEANENV=(env -i "HOME=$BHOME" "USER=$BUSER" "LOGNAME=$BUSER" "PATH=$UPATH")
	read -ra AS <<<"$SETPRIV"
	AS+=("${CLEANENV[@]}")
	if [ -c /dev/fuse ] && [ "$(stat -c %a /dev/fuse)" != 666 ]; then
		say "bench: chmod 666 /dev/fuse (users need it for FUSE, as Debian's udev sets it)"
		chmod 666 /dev/fuse
	fi
else
	ROOT=0
	BUSER=$(id -un); BHOME=$HOME
	CLEANENV=(env -i "HOME=$HOME" "USER=$BUSER" "LOGNAME=$BUSER" "PATH=$UPATH")
	AS=("${CLEANENV[@]}")
fi

# --- the image (cached) -------------------------------------------------------
ROOTFS=$BENCH_DIR/rootfs SQFS=$BENCH_DIR/img.sqfs SIFIMG=$BENCH_DIR/img.sif RES=$BENCH_DIR/results
mkdir -p "$BENCH_DIR"
if [ ! -e "$BENCH_DIR/rootfs.done" ]; then
	[ "$ROOT" -eq 1 ] || die "no image in $BENCH_DIR yet: run once as root (debootstrap needs it)"
	say "image: debootstrap --variant=minbase --include=python3,python3-numpy bookworm $ROOTFS $MIRROR (once, ~45 s)"
	rm -rf "$ROOTFS.tmp" "$ROOTFS"
	debootstrap --variant=minbase --include=python3,python3-numpy bookworm "$ROOTFS.tmp" "$MIRROR" \
		>"$BENCH_DIR/debootstrap.log" 2>&1 || die "debootstrap failed: see $BENCH_DIR/debootstrap.log"
	mv "$ROOTFS.tmp" "$ROOTFS"
	touch "$BENCH_DIR/rootfs.done"
fi
if [ ! -s "$SQFS" ] || [ "$SQFS" -ot "$BENCH_DIR/rootfs.done" ]; then
	say "image: mksquashfs $ROOTFS $SQFS -comp zstd -noappend"
	mksquashfs "$ROOTFS" "$SQFS.tmp" -comp zstd -noappend -quiet >/dev/null
	mv "$SQFS.tmp" "$SQFS"
fi
if [ ! -s "$SIFIMG" ] || [ "$SIFIMG" -ot "$SQFS" ]; then
	say "image: $SIF build --force $SIFIMG squashfs:$SQFS"
	"$SIF" build --force "$SIFIMG" "squashfs:$SQFS" >/dev/null
fi
mkdir -p "$RES"
if [ "$ROOT" -eq 1 ]; then
	# the user reads the cache; the rootfs keeps the modes debootstrap gave it
	chmod 755 "$BENCH_DIR" "$ROOTFS"
	chmod 644 "$SQFS" "$SIFIMG"
	chown "$BUID:$BGID" "$RES"
fi
cd "$BENCH_DIR"   # sif binds the current directory: one the user can read

say "sif:    $SIF ($("$SIF" --version 2>/dev/null | head -1 || true))"
say "peers:  ch-run $(USER=${USER:-$BUSER} ch-run --version 2>&1 | head -1), $(bwrap --version), $(hyperfine --version)"
say "image:  $ROOTFS ($(du -sh "$ROOTFS" 2>/dev/null | cut -f1)), $SQFS ($(du -h "$SQFS" | cut -f1), zstd), $SIFIMG"
say "host:   $(uname -sr), $(nproc) CPUs, $(df -T "$BENCH_DIR" | awk 'NR==2{print $2}') under $BENCH_DIR; measured as $BUSER"
say

# --- measuring ----------------------------------------------------------------
failed=()
# ok CMDLINE: one run as the user; 0 if it succeeds, else prints why
ok() {
	local out
	if out=$(eval "${AS[*]@Q} $1" 2>&1 </dev/null); then return 0; fi
	say "FAILED (left out): $1"
	printf '%s\n' "$out" | tail -5 | sed 's/^/    /'
	failed+=("$1")
	return 1
}

# bench NAME PREPARE LABEL=CMD...  (PREPARE empty: warm, as the user; "-": warm,
# as the user, in rounds)
bench() {
	local name=$1 prep=$2 args=() cmds=() labels=() pair label cmd
	shift 2
	for pair in "$@"; do
		label=${pair%%=*} cmd=${pair#*=}
		ok "$cmd" || continue
		labels+=("$label") cmds+=("$cmd")
	done
	[ ${#cmds[@]} -gt 0 ] || return 0
	printf '%s\n' "${labels[@]}" >"$RES/$name.labels"
	rm -f "$RES/$name.json"
	if [ -z "$prep" ]; then
		for cmd in "${cmds[@]}"; do say "  \$ $cmd"; done
		"${AS[@]}" hyperfine -N --style none --warmup 5 --min-runs "$RUNS" \
			--export-json "$RES/$name.json" "${cmds[@]}" >/dev/null 2>"$RES/$name.err" || true
	elif [ "$prep" = - ]; then
		# Warm, in rounds: one hyperfine per round, each command warmed once
		# and run WARM_ROUND_RUNS times in it, the commands in turn (as the
		# cold rounds below, for the same reason: this machine's speed drifts
		# by 20% over minutes, and a row measured in one stretch meets one
		# speed; the commands' tables of 2026-11-30 differed by 1.17-1.30x
		# that way, interleaved 1.03x)
		local r rounds=$(( (RUNS + WARM_ROUND_RUNS - 1) / WARM_ROUND_RUNS ))
		for cmd in "${cmds[@]}"; do say "  \$ $cmd"; done
		say "    ($rounds rounds, each running every command $WARM_ROUND_RUNS times after one warm-up run, in turn)"
		: >"$RES/$name.err"
		for ((r = 1; r <= rounds; r++)); do
			"${AS[@]}" hyperfine -N --style none --warmup 1 --runs "$WARM_ROUND_RUNS" \
				--export-json "$RES/$name.$r.json" "${cmds[@]}" >/dev/null 2>>"$RES/$name.err" || true
		done
		merge_rounds "$name" "$rounds"
	else
		# hyperfine runs as root (the prepare step drops caches), each command
		# as the user through setpriv; the environment is the user's clean one.
		# One hyperfine per round, each command once in it: the commands take
		# turns, so that a slow spell of this shared machine falls on all of
		# them alike, not on whichever command's runs it happened to meet.
		local r
		for cmd in "${cmds[@]}"; do args+=("$SETPRIV $cmd"); say "  \$ $SETPRIV $cmd"; done
		say "    (before each run: $prep; $COLD_RUNS rounds, each running every command once, in turn)"
		: >"$RES/$name.err"
		for ((r = 1; r <= COLD_RUNS; r++)); do
			"${CLEANENV[@]}" hyperfine -N --style none --warmup 0 --runs 1 --prepare "$prep" \
				--export-json "$RES/$name.$r.json" "${args[@]}" >/dev/null 2>>"$RES/$name.err" || true
		done
		merge_rounds "$name" "$COLD_RUNS"
	fi
	# hyperfine's own errors, without its "Statistical outliers" advice
	grep -v -e 'Statistical outliers' -e '^[[:space:]]*$' "$RES/$name.err" >&2 || true
	[ -s "$RES/$name.json" ] || { say "  hyperfine failed: no results"; return 0; }
	table "$name"
}

# merge_rounds NAME ROUNDS: NAME.1.json ... NAME.ROUNDS.json into NAME.json
merge_rounds() {
	python3 - "$RES/$1" "$2" <<'PY'
import json, os, statistics, sys
base, rounds = sys.argv[1], int(sys.argv[2])
merged = None
for r in range(1, rounds + 1):
    f = f"{base}.{r}.json"
    if not os.path.exists(f):
        continue
    res = json.load(open(f))["results"]
    os.unlink(f)
    if merged is None:
        merged = [{"command": x["command"], "times": []} for x in res]
    for m, x in zip(merged, res):
        m["times"] += x["times"]
if merged:
    for m in merged:
        t = m["times"]
        m.update(mean=statistics.mean(t), stddev=statistics.stdev(t) if len(t) > 1 else None,
                 median=statistics.median(t), min=min(t), max=max(t))
    json.dump({"results": merged}, open(base + ".json", "w"), indent=1)
PY
}

# table NAME: mean ± stddev, ratio to bwrap on the directory, target
table() {
	python3 - "$RES/$1.json" "$RES/$1.labels" "$1" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))["results"]
labels = open(sys.argv[2]).read().split("\n")
name = sys.argv[3]
targets = {  # label -> (max ratio to bwrap-dir, text)
    ("true", "sif"): 1.5, ("numpy-warm", "sif"): 1.15, ("numpy-cold", "sif"): 1.3,
    ("join", "sif-join"): 1.5,
}
refs = {("true", "ch-run-sqfs"): 5.6, ("numpy-warm", "ch-run-sqfs"): 4.4}
base = {l: r for l, r in zip(labels, res)}.get("bwrap-dir")
bare = {l: r for l, r in zip(labels, res)}.get("bare")
print(f"  {'':14} {'mean ± sd (ms)':>20} {'median':>8} {'min (ms)':>9} {'runs':>5} "
      f"{'vs bwrap-dir':>13} {'- bare (ms)':>12}  target")
for l, r in zip(labels, res):
    m, sd, mn = r["mean"] * 1e3, (r["stddev"] or 0) * 1e3, r["min"] * 1e3
    md = r["median"] * 1e3
    ratio = f"{r['mean'] / base['mean']:.2f}x" if base else "-"
    over = f"{(r['mean'] - bare['mean']) * 1e3:+.2f}" if bare else "-"
    t, note = targets.get((name, l)), ""
    if t and base:
        note = f"<= {t}x: {'met' if r['mean'] / base['mean'] <= t else 'NOT met'}"
    elif (name, l) in refs:
        note = f"(earlier: {refs[(name, l)]}x)"
    if (name, l) == ("join", "sif-join") and bare:
        ok = (r["mean"] - bare["mean"]) * 1e3 <= 2
        note += f"; bare + 2 ms (issue 5): {'met' if ok else 'NOT met'}"
    print(f"  {l:14} {m:10.2f} ± {sd:7.2f} {md:8.2f} {mn:9.2f} {len(r['times']):5} {ratio:>13} "
          f"{over:>12}  {note}")
print(f"  (JSON: {sys.argv[1]})")
PY
}

T=/bin/true
PY3="/usr/bin/python3 -c 'import numpy'"
row() {  # row PAYLOAD: the LABEL=CMD pairs for one payload
	local p=$1
	printf '%s\n' \
		"bare=$p" \
		"bwrap-dir=bwrap --ro-bind $ROOTFS / --proc /proc --dev /dev --unshare-user --unshare-pid $p" \
		"ch-run-sqfs=ch-run $SQFS -- $p" \
		"ch-run-dir=ch-run $ROOTFS -- $p" \
		"sif=$SIF exec $SIFIMG $p" \
		"sif-sqfs=$SIF exec $SQFS $p" \
		"sif-dir=$SIF exec $ROOTFS $p"
}
mapfile -t TRUE_ROWS < <(row "$T")
mapfile -t NUMPY_ROWS < <(row "$PY3")
if ! "${AS[@]}" /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
	say "note: the host's /usr/bin/python3 has no numpy (apt-get install python3-numpy): no bare numpy row"
	NUMPY_ROWS=("${NUMPY_ROWS[@]:1}")
fi

say "Rows: bare = the command on the host; bwrap-dir = bubblewrap on the directory (the"
say "baseline of every ratio); ch-run-sqfs/-dir = Charliecloud on the squashfs/directory;"
say "sif = sif exec on the SIF (the targets apply to this row); sif-sqfs/sif-dir = sif on"
say "the bare squashfs and on the directory, for where sif's time goes (no targets)."
say "Warm: the host's page cache holds the image files, but each sif and ch-run launch"
say "on a squashfs or SIF mounts a new FUSE filesystem, whose own cache starts empty."
say
say "== /bin/true, warm (hyperfine -N, warmup 5, >= $RUNS runs)"
bench true "" "${TRUE_ROWS[@]}"
say
say "== /bin/true joining a live mount, and setting one up (hyperfine -N, warmup 5, >= $RUNS runs)"
say "While '$SIF exec --share-tag bench-join $SIFIMG /bin/sleep 600' holds a mount:"
say "sif-join joins it (the path of every task of a Slurm step but the first, and of"
say "repeated launches within the linger time); sif-setup (--no-share) mounts its own."
JOIN_ROWS=("bare=$T"
	"bwrap-dir=bwrap --ro-bind $ROOTFS / --proc /proc --dev /dev --unshare-user --unshare-pid $T"
	"sif-join=$SIF exec --share-tag bench-join $SIFIMG $T"
	"sif-setup=$SIF exec --no-share $SIFIMG $T")
"${AS[@]}" "$SIF" exec --share-tag bench-join "$SIFIMG" /bin/sleep 600 </dev/null >/dev/null 2>&1 &
join_holder=$!
sleep 1
join_out=$("${AS[@]}" "$SIF" exec -v --share-tag bench-join "$SIFIMG" "$T" 2>&1 </dev/null || true)
if grep -q 'joined the live mount' <<<"$join_out"; then
	bench join "" "${JOIN_ROWS[@]}"
else
	say "  the holder did not come up: no join rows"
	failed+=("$SIF exec --share-tag bench-join $SIFIMG /bin/sleep 600")
fi
kill "$join_holder" 2>/dev/null
wait "$join_holder" 2>/dev/null || true
say
say "== python3 -c 'import numpy', (a) repeated, caches warm (>= $RUNS runs, in rounds)"
bench numpy-warm - "${NUMPY_ROWS[@]}"
say
if [ "$ROOT" -eq 1 ]; then
	say "== python3 -c 'import numpy', (b) page cache dropped before every run ($COLD_RUNS runs)"
	bench numpy-cold "sh -c 'sync; echo 3 > /proc/sys/vm/drop_caches'" "${NUMPY_ROWS[@]}"
else
	say "== (b) with dropped caches: skipped (needs root to write /proc/sys/vm/drop_caches)"
fi
say

# --- memory -------------------------------------------------------------------
say "== memory (target: launcher max RSS <= 8 MiB)"
say "GNU time %M: ru_maxrss of the process it waits for, which the kernel takes as the"
say "max (not the sum) over that process and its own waited-for descendants; for sif that"
say "covers the launcher, its FUSE server (sif-fuse) and the payload. Max of 5 runs."
for pair in "sif=$SIF exec $SIFIMG $T" "ch-run-sqfs=ch-run $SQFS -- $T" \
	"bwrap-dir=bwrap --ro-bind $ROOTFS / --proc /proc --dev /dev --unshare-user --unshare-pid $T"; do
	label=${pair%%=*} cmd=${pair#*=} max=0
	for _ in 1 2 3 4 5; do
		kb=$(eval "${AS[*]@Q} /usr/bin/time -f %M $cmd" 2>&1 >/dev/null | tail -1)
		[[ $kb =~ ^[0-9]+$ ]] || { say "  $label: /usr/bin/time failed: $kb"; continue 2; }
		[ "$kb" -gt "$max" ] && max=$kb
	done
	printf '  %-12s %6d KiB (%.2f MiB)   $ /usr/bin/time -f %%M %s\n' "$label" "$max" \
		"$(echo "$max" | awk '{print $1/1024}')" "$cmd"
done
say
say "Per process, while the payload is /bin/sleep: VmHWM (peak resident set) and VmRSS of"
say "each process of the launch, from /proc/PID/status (read as root or as the same user)."
# rss LABEL CMD...: start CMD (sleep 2 payload), list its process tree once the
# sleep runs
rss() {
	local label=$1 pid _
	shift
	"${AS[@]}" "$@" </dev/null >/dev/null 2>&1 &
	pid=$!
	for _ in $(seq 50); do
		if python3 - "$pid" <<'PY'
import os, sys
root = int(sys.argv[1])
kids = {}
for p in os.listdir("/proc"):
    if p.isdigit():
        try:
            st = open(f"/proc/{p}/stat").read()
        except OSError:
            continue
        kids.setdefault(int(st[st.rindex(")") + 2:].split()[1]), []).append(int(p))
seen, todo = [], [root]
while todo:
    p = todo.pop(0); seen.append(p); todo += kids.get(p, [])
def comm(p):
    try: return open(f"/proc/{p}/comm").read().strip()
    except OSError: return "?"
if not any(comm(p) == "sleep" for p in seen):
    sys.exit(1)
for p in seen:
    try: f = dict(l.split(":", 1) for l in open(f"/proc/{p}/status"))
    except OSError: continue
    g = lambda k: f.get(k, " 0 kB").strip()
    note = "  <- target <= 8 MiB: " + ("met" if int(g("VmHWM").split()[0]) <= 8192 else "NOT met") \
        if p == root and comm(p) == "sif" else ""
    print(f"    pid {p:>7} {comm(p):12} VmHWM {g('VmHWM'):>10}  VmRSS {g('VmRSS'):>10}"
          f"  (anon {g('RssAnon')}, file {g('RssFile')}){note}")
PY
		then break; fi
		sleep 0.1
	done
	wait "$pid" || true
}
for pair in "sif=$SIF exec $SIFIMG /bin/sleep 2" "ch-run-sqfs=ch-run $SQFS -- /bin/sleep 2" \
	"bwrap-dir=bwrap --ro-bind $ROOTFS / --proc /proc --dev /dev --unshare-user --unshare-pid /bin/sleep 2"; do
	label=${pair%%=*} cmd=${pair#*=}
	say "  $label:  \$ $cmd"
	# shellcheck disable=SC2086  # the command line is split on blanks on purpose
	rss "$label" $cmd
done
say
[ ${#failed[@]} -eq 0 ] || { say "left out (failed once as $BUSER):"; printf '  %s\n' "${failed[@]}"; }
say "Targets are goals measured here, not asserts; the machine is shared and noisy."
