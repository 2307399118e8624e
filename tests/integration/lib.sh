# SPDX-License-Identifier: BSD-3-Clause
# Shared helpers of the integration tests: TAP output and assertions.
# A test file sources this, calls the checks, and ends with "done_testing".
# Environment: SIF (the binary under test), SIF_FIXTURES (../shared/fixtures).

set -u
: "${SIF:=sif}"
T_N=0
T_FAILED=0
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sif-test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

ok() {          # ok DESCRIPTION  -- record a pass
	T_N=$((T_N + 1)); echo "ok $T_N - $1"
}
not_ok() {      # not_ok DESCRIPTION [DETAIL...]
	T_N=$((T_N + 1)); T_FAILED=$((T_FAILED + 1)); echo "not ok $T_N - $1"
	shift; for l in "$@"; do printf '%s\n' "$l" | sed 's/^/#   /'; done
}
skip() {        # skip REASON  -- what this machine lacks
	T_N=$((T_N + 1)); echo "ok $T_N # SKIP $1"
}
check() {       # check DESCRIPTION COMMAND...  -- pass when COMMAND succeeds
	local d=$1; shift
	if "$@" >"$TMP/out" 2>&1; then ok "$d"; else not_ok "$d" "command: $*" "$(head -c 2000 "$TMP/out")"; fi
}

# run CMD...: capture stdout, stderr and status in $OUT, $ERR, $RC
run() {
	"$@" >"$TMP/stdout" 2>"$TMP/stderr"
	RC=$?
	OUT=$(cat "$TMP/stdout")
	ERR=$(cat "$TMP/stderr")
}

# expect_fail DESCRIPTION CMD...: exit 255, nothing on stdout, one stderr line "sif: error: ..."
expect_fail() {
	local d=$1; shift
	run "$@"
	local lines; lines=$(printf '%s' "$ERR" | grep -c '')
	if [ "$RC" -eq 255 ] && [ -z "$OUT" ] && [ "$lines" -eq 1 ] &&
	   [ "${ERR#sif: error: }" != "$ERR" ]; then
		ok "$d"
	else
		not_ok "$d" "command: $*" "exit $RC, stdout: ${OUT:0:300}" "stderr: ${ERR:0:600}"
	fi
}

# part SIF: P_OFF and P_SIZE of the primary partition (inspect --objects --json)
part() {
	P_OFF='' P_SIZE=''
	local j
	j=$("$SIF" inspect --objects --json "$1" 2>/dev/null) || return 1
	read -r P_OFF P_SIZE < <(python3 -c '
import json, sys
d = json.load(sys.stdin)
p = [o for o in d["objects"] if o.get("partition", {}).get("primary")]
print(p[0]["start"], p[0]["size"]) if len(p) == 1 else sys.exit(1)' <<<"$j") && [ -n "$P_SIZE" ]
}

# need_static_busybox: sets BUSYBOX, or skips the rest of the test (the
# images the launcher tests make hold it alone)
need_static_busybox() {
	BUSYBOX=$(command -v busybox || echo /bin/busybox)
	if ! [ -x "$BUSYBOX" ] || ! "$BUSYBOX" true || ldd "$BUSYBOX" >/dev/null 2>&1; then
		skip "a static busybox is needed (Debian package busybox-static): not tested"
		done_testing
		exit
	fi
}

# ---- for the tests under Slurm (slurm.sh, spank.sh, mpi.sh) ----------------
# no_cluster REASON: a skip, or under CI a failure (never a silent pass); ends the test
no_cluster() {
	if [ "${CI:-}" = true ]; then
		not_ok "no Slurm cluster under CI: $1"
	else
		skip "$1"
	fi
	done_testing
	exit
}
# job_state ID: JobState and ExitCode of a job, as "STATE CODE"
job_state() {
	scontrol show job "$1" 2>/dev/null |
		sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p; s/.* ExitCode=\([0-9:]*\).*/\1/p' | paste -sd ' '
}
# wait_job ID [SECONDS]: until the job has ended; prints "STATE CODE"
wait_job() {
	local _ st
	for _ in $(seq $((${2:-60} * 5))); do
		st=$(job_state "$1")
		case $st in PENDING*|RUNNING*|CONFIGURING*|COMPLETING*|SUSPENDED*|"") ;; *) break ;; esac
		sleep 0.2
	done
	echo "$st"
}
# job_workdir NAME: W, a new directory under the home (which jobs reach as
# the user), made the cwd; JOBS, the job ids job_cleanup cancels at exit,
# when it removes W and TMP
job_workdir() {
	W=$(mktemp -d "$HOME/$1.XXXXXX") || { not_ok "make a directory in the home"; done_testing; exit; }
	JOBS=()
	trap job_cleanup EXIT
	cd "$W" || exit 1
}
job_cleanup() {
	[ ${#JOBS[@]} -gt 0 ] && scancel "${JOBS[@]}" 2>/dev/null
	rm -rf "$W" "$TMP"
}
# the machine's FUSE connections (fusectl)
conns() { ls /sys/fs/fuse/connections 2>/dev/null | wc -l; }
# The FUSE connection count once it stops changing: a connection of a launch
# that just ended lingers until its last mount namespace is gone, so a
# baseline taken at once may count it and a later "back to the baseline"
# check then passes or fails by chance.
settled_conns() {
	local prev=-1 cur _
	for _ in $(seq 50); do
		cur=$(conns)
		[ "$cur" = "$prev" ] && break
		prev=$cur
		sleep 0.2
	done
	echo "$cur"
}

done_testing() {
	echo "1..$T_N"
	[ "$T_FAILED" -eq 0 ]
}
