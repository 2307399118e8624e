#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# sif under a real Slurm (tests/slurm/cluster.sh: munged, slurmctld and
# slurmd on this machine), run as an unprivileged user: batch jobs, scancel,
# srun steps, one mount per node per job step, and --slurm (the host's
# Slurm commands inside).
# Environment: SIF, SLURM_CONF (the cluster's; unset: skipped, but with
# CI=true a missing cluster fails), SIF_FIXTURES, SIF_SYSCONFDIR (its sif.conf,
# when writable, is changed for a moment and restored).
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -eq 0 ]; then
	skip "running as root: launcher tests prove nothing as root (tests/suite runs them as an unprivileged user)"
	done_testing
	exit
fi
[ -n "${SLURM_CONF:-}" ] || no_cluster "SLURM_CONF is unset: no Slurm cluster (as root: tests/slurm/cluster.sh start DIR)"
[ -r "$SLURM_CONF" ] || no_cluster "SLURM_CONF=$SLURM_CONF is not readable"
export SLURM_CONF
for tool in sbatch srun scancel scontrol sinfo; do
	command -v $tool >/dev/null || no_cluster "$tool is not installed (Debian package slurm-client)"
done
state=$(sinfo -h -N -o %T 2>&1 | head -n 1)
case $state in
idle|mixed|allocated) ;;
*) no_cluster "the Slurm node is not up (sinfo: ${state:-nothing})" ;;
esac
command -v mksquashfs >/dev/null || { skip "mksquashfs is not installed: not tested"; done_testing; exit; }
need_static_busybox
SIF=$(command -v "$SIF") || { not_ok "SIF is not a program"; done_testing; exit; }

# The jobs' files live under the home, which the jobs reach as the user:
# the image, the job scripts, the data directory bound at /data.
job_workdir sif-slurm

mkdir -p root/bin root/etc data
cp "$BUSYBOX" root/bin/busybox
"$BUSYBOX" --install -s "$W/root/bin" 2>/dev/null
# busybox --install makes absolute links to where it ran from: relative ones
for f in root/bin/*; do [ -L "$f" ] && ln -sf busybox "$f"; done
echo "root:x:0:0:root:/root:/bin/sh" >root/etc/passwd
echo "root:x:0:" >root/etc/group
mksquashfs root img.sqfs -quiet -no-progress -noappend -all-root >/dev/null &&
	"$SIF" build img.sif squashfs:img.sqfs >/dev/null 2>&1 ||
	"$SIF" build img.sif img.sqfs >/dev/null 2>&1 ||
	{ not_ok "build the test image (mksquashfs, sif build)"; done_testing; exit; }
IMG=$W/img.sif
ME=$(id -u)

# submit SCRIPT-TEXT: sbatch it from $W; the job id, remembered for cleanup
n_script=0
submit() {
	n_script=$((n_script + 1))
	printf '#!/bin/sh\n%s\n' "$1" >"job$n_script.sh"
	local id
	id=$(sbatch --parsable -D "$W" -o "$W/job$n_script.log" -J sif-test "job$n_script.sh" 2>"$TMP/sbatch.err")
	id=${id%%;*}
	[ -n "$id" ] && JOBS+=("$id")
	echo "$id"
}
count() { pgrep -u "$ME" "$@" | grep -c .; }
holders() { count -x sif-fuse; }
# what a launch leaves: its launcher (its command line names the image),
# holder, init, payload
leftovers() {
	echo $(( $(count -f "$IMG") + $(holders) + $(count -x sif-init) + $(count -f 'sleep 300') ))
}
# the processes of launches but their holders: pid, name, command line
job_procs() {
	local p
	for p in $(pgrep -u "$ME" -f "$IMG|sleep 300|^sif-init"); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = sif-fuse ] && continue
		[ -e "/proc/$p" ] && echo "$p $(cat "/proc/$p/comm" 2>/dev/null) $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"
	done
}
wait_quiet() { local _; for _ in $(seq 150); do [ "$(leftovers)" -eq 0 ] && return 0; sleep 0.1; done; return 1; }
FUSECTL=false
[ -d /sys/fs/fuse/connections ] && grep -qs fusectl /proc/mounts && FUSECTL=true

# ---- (a) a batch job: output owned by the user, the payload's exit code -----------
id=$(submit "\"$SIF\" exec -B \"$W/data:/data\" \"$IMG\" sh -c 'echo \"written by \$(id -u)\" >/data/out; exit 3'")
if [ -z "$id" ]; then
	not_ok "sbatch a job" "$(cat "$TMP/sbatch.err")"
else
	st=$(wait_job "$id")
	if [ "$st" = "FAILED 3:0" ]; then
		ok "sbatch: the job ends with the payload's exit code (Slurm: FAILED, ExitCode 3:0)"
	else
		not_ok "sbatch exit code" "scontrol: '$st' (expected 'FAILED 3:0')" "$(cat "job$n_script.log")"
	fi
	if [ -f data/out ] && [ "$(stat -c %u data/out)" = "$ME" ] && [ "$(cat data/out)" = "written by $ME" ]; then
		ok "sbatch: the file written to the bound /data belongs to the user"
	else
		not_ok "sbatch output file" "$(ls -ln data)" "$(cat data/out 2>&1)" "$(cat "job$n_script.log")"
	fi
fi
id=$(submit "\"$SIF\" exec \"$IMG\" true")
st=$(wait_job "$id")
[ "$st" = "COMPLETED 0:0" ] && ok "sbatch: a payload that succeeds: COMPLETED, ExitCode 0:0" ||
	not_ok "sbatch success" "scontrol: '$st'" "$(cat "job$n_script.log")"

# ---- (b) scancel: SIGTERM reaches the payload; nothing of the job remains ----------
wait_quiet
base_c=$(conns)
rm -f data/ready data/term
id=$(submit "\"$SIF\" exec -B \"$W/data:/data\" \"$IMG\" sh -c 'trap \"echo term >/data/term; exit 143\" TERM; echo ready >/data/ready; sleep 300 & wait'")
for _ in $(seq 300); do [ -f data/ready ] && break; sleep 0.1; done
during_c=$(conns) during_h=$(holders)
if [ ! -f data/ready ]; then
	not_ok "scancel: the job did not start its payload in 30 s" "$(job_state "$id")" "$(cat "job$n_script.log")"
else
	scancel "$id"
	st=$(wait_job "$id" 30)
	for _ in $(seq 30); do [ -f data/term ] && break; sleep 0.1; done
	[ -f data/term ] && ok "scancel: the payload gets SIGTERM (its trap ran); job ${st% *}" ||
		not_ok "scancel: no SIGTERM in the payload" "job: $st" "$(cat "job$n_script.log")"
	# the launcher, init and payload go with the job (the holder, whose
	# command line is the launcher's, may linger)
	for _ in $(seq 30); do [ -z "$(job_procs)" ] && break; sleep 0.1; done
	left=$(job_procs)
	[ -z "$left" ] && ok "scancel: within 3 s no process of the job remains (but the lingering holder)" ||
		not_ok "scancel: processes left" "$left" "$(ps -u "$ME" -o pid,ppid,stat,wchan:24,comm)"
	# the holder of the shared mount: gone after its linger (5 s), not tied to Slurm
	# (the FUSE connection ends as the holder's namespaces are torn down:
	# counted in the same wait)
	for _ in $(seq 100); do [ "$(holders)" -eq 0 ] && { ! $FUSECTL || [ "$(conns)" -le "$base_c" ]; } && break; sleep 0.1; done
	[ "$(holders)" -eq 0 ] && [ "$during_h" -ge 1 ] &&
		ok "scancel: the mount's holder (sif-fuse) is gone within 10 s" ||
		not_ok "scancel: holder" "during the job: $during_h, now: $(holders)" "$(ps -u "$ME" -o pid,ppid,comm,args)"
	if $FUSECTL; then
		[ "$during_c" -gt "$base_c" ] && [ "$(conns)" -le "$base_c" ] &&
			ok "scancel: no FUSE connection left ($base_c before, $during_c during, $(conns) after)" ||
			not_ok "scancel: FUSE connections $base_c before, $during_c during, $(conns) after"
	else
		skip "/sys/fs/fuse/connections is not mounted (fusectl): FUSE connections not counted"
	fi
fi

# ---- (b') a signal Slurm sends the step reaches the payload once --------------------
# slurmstepd signals every process of the step, the payload included: the
# launcher must not relay it again (a second SIGTERM or SIGINT is "abort
# now" to mpirun and others).  A signal sent to the launcher by anyone
# else is still relayed.  sif-probe counts each SIGUSR1 as it comes.
if [ -n "${SIF_PROBE:-}" ] && [ -x "$SIF_PROBE" ]; then
	rm -f data/usr1
	id=$(submit "srun -n 1 \"$SIF\" exec -B \"$SIF_PROBE:/bin/sif-probe\" \"$IMG\" /bin/sif-probe count-usr1 6 >\"$W/data/usr1\"")
	for _ in $(seq 300); do grep -q ready data/usr1 2>/dev/null && break; sleep 0.1; done
	sleep 0.5
	scancel --signal=USR1 "$id"
	st=$(wait_job "$id" 30)
	[ "$(tail -n 1 data/usr1 2>/dev/null)" = "count 1" ] &&
		ok "scancel --signal=USR1 of a step: the payload gets it once, not again from the launcher" ||
		not_ok "scancel --signal=USR1" "job: $st" "$(cat data/usr1 "job$n_script.log" 2>&1)"
	run srun -n 1 sh -c "\"$SIF\" exec -B \"$SIF_PROBE:/bin/sif-probe\" \"$IMG\" /bin/sif-probe count-usr1 4 & p=\$!; sleep 2; kill -USR1 \$p; wait \$p"
	[ "$RC" -eq 0 ] && [ "$(tail -n 1 <<<"$OUT")" = "count 1" ] &&
		ok "  ... and kill -USR1 of the launcher inside a step: relayed to the payload, once" ||
		not_ok "kill -USR1 of the launcher in a step" "exit $RC" "$OUT" "$ERR"
else
	skip "SIF_PROBE (tests/helpers/sif-probe) not given: signals of a Slurm step not counted"
fi

# ---- (c) srun -n 2: each task sees its rank and step ---------------------------------
run srun -n 2 -D "$W" "$SIF" exec "$IMG" sh -c 'echo "$SLURM_PROCID $SLURM_STEP_ID $SLURM_NTASKS $SLURM_JOB_ID"'
ranks=$(printf '%s\n' "$OUT" | cut -d' ' -f1 | sort | paste -sd ' ')
steps=$(printf '%s\n' "$OUT" | cut -d' ' -f2-4 | sort -u | grep -c .)
if [ "$RC" -eq 0 ] && [ "$ranks" = "0 1" ] && [ "$steps" -eq 1 ] &&
   ! printf '%s\n' "$OUT" | grep -q '^[0-9]*  \| $'; then
	ok "srun -n 2: ranks 0 and 1, with SLURM_STEP_ID, SLURM_NTASKS=2 and SLURM_JOB_ID inside"
else
	not_ok "srun -n 2" "exit $RC" "$OUT" "$ERR"
fi
run srun -n 1 -D "$W" "$SIF" exec "$IMG" sh -c 'exit 5'
[ "$RC" -eq 5 ] && ok "srun: the payload's exit code (5) comes back" || not_ok "srun exit code" "$RC $ERR"

# ---- one mount per node per job step --------------------------------------------------
# two tasks of one step meet under the tag slurm-JOB.STEP: one holder, one
# FUSE connection; another step of the same job has its own
wait_quiet
base_c=$(conns)
rm -f data/s*
# counted from here while both tasks run (their sleep 3)
srun -n 2 -D "$W" "$SIF" exec -v -B "$W/data:/data" "$IMG" sh -c 'echo up >/data/s$SLURM_PROCID; sleep 3' \
	>"$TMP/srun.out" 2>"$TMP/srun.err" &
srun_pid=$!
for _ in $(seq 100); do [ -f data/s0 ] && [ -f data/s1 ] && break; sleep 0.1; done
sleep 0.5
during_h=$(holders) during_c=$(conns)
wait $srun_pid
RC=$? ERR=$(cat "$TMP/srun.err")
if [ "$RC" -eq 0 ] && [ "$(grep -c 'share tag slurm-[0-9]*\.0' <<<"$ERR")" -eq 2 ] &&
   [ "$(grep -c 'joined the live mount' <<<"$ERR")" -eq 1 ]; then
	ok "srun -n 2: the tasks share the tag slurm-JOB.STEP; one sets up, the other joins"
else
	not_ok "srun -n 2 sharing" "exit $RC" "$(grep -E 'share|holder|error' <<<"$ERR")"
fi
if ! $FUSECTL; then
	skip "/sys/fs/fuse/connections is not mounted (fusectl): FUSE connections not counted"
elif [ "$during_h" -eq 1 ] && [ "$during_c" -eq $((base_c + 1)) ]; then
	ok "srun -n 2: one FUSE server and one FUSE connection while both tasks run"
else
	not_ok "srun -n 2: FUSE servers" "servers: $during_h; connections: $base_c before, $during_c during"
fi
# two steps of one job at once: a tag each, a mount each
wait_quiet
base_c=$(conns)
rm -f data/s* data/err*
id=$(submit "for s in 1 2; do srun -n 1 --overlap \"$SIF\" exec -v -B \"$W/data:/data\" \"$IMG\" sh -c 'echo up >/data/s\$SLURM_STEP_ID; sleep 3' 2>\"$W/data/err\$s\" & done; wait")
for _ in $(seq 300); do [ -f data/s0 ] && [ -f data/s1 ] && break; sleep 0.1; done
sleep 0.5
during_h=$(holders) during_c=$(conns)
st=$(wait_job "$id")
if [ "$st" = "COMPLETED 0:0" ] && [ "$(grep -l 'share tag slurm-[0-9]*\.[01] ' data/err1 data/err2 | wc -l)" -eq 2 ] &&
   [ "$(cat data/err1 data/err2 | grep -o 'share tag slurm-[0-9.]*' | sort -u | wc -l)" -eq 2 ] &&
   ! grep -q joined data/err1 data/err2; then
	ok "two steps of one job: a share tag each (slurm-JOB.0, slurm-JOB.1), neither joins the other"
else
	not_ok "two steps" "job: $st" "$(cat data/err1 data/err2 "job$n_script.log" 2>&1 | grep -v '^sif: debug: \(mount\|namespace\|bind\)')"
fi
if ! $FUSECTL; then
	skip "/sys/fs/fuse/connections is not mounted (fusectl): FUSE connections not counted"
elif [ "$during_h" -eq 2 ] && [ "$during_c" -eq $((base_c + 2)) ]; then
	ok "two steps of one job: two FUSE servers, two FUSE connections"
else
	not_ok "two steps: FUSE servers" "servers: $during_h; connections: $base_c before, $during_c during"
fi
# the options of a step's tasks must match: a clear error
run srun -n 2 -D "$W" sh -c "if [ \$SLURM_PROCID = 1 ]; then sleep 1; exec \"$SIF\" exec -B \"$W/data:/data\" \"$IMG\" true; else exec \"$SIF\" exec \"$IMG\" sleep 3; fi"
if [ "$RC" -ne 0 ] && grep -q 'sif: error: the tasks of Slurm job step [0-9]*\.0 on this node share one mount.*used other options' <<<"$ERR"; then
	ok "a task of the step with other options: a clear error"
else
	not_ok "options mismatch in a step" "exit $RC" "$ERR"
fi
run srun -n 2 -D "$W" sh -c "if [ \$SLURM_PROCID = 1 ]; then sleep 1; exec \"$SIF\" exec -v --no-share -B \"$W/data:/data\" \"$IMG\" true; else exec \"$SIF\" exec \"$IMG\" sleep 3; fi"
[ "$RC" -eq 0 ] && ! grep -q 'share tag' <<<"$ERR" && ok "  ... --no-share opts out" || not_ok "--no-share in a step" "exit $RC" "$ERR"
# the batch script itself is no step (no SLURM_STEP_ID): no tag there
id=$(submit "\"$SIF\" exec -v \"$IMG\" true 2>\"$W/data/batch.err\"")
st=$(wait_job "$id")
[ "$st" = "COMPLETED 0:0" ] && ! grep -q 'share tag' data/batch.err &&
	ok "a batch script (no step id) gets no share tag" || not_ok "batch script tag" "$st" "$(cat data/batch.err)"

# ---- (d) --slurm: the host's Slurm commands inside, with the host's libraries ----------
# The image is a static busybox: no C library, no loader of its own.  What
# runs the host's squeue there can only be the host's loader and libraries.
run "$SIF" exec "$IMG" sh -c 'ls /lib /lib64 /usr/lib 2>/dev/null | grep -c "^libc\.so\|^ld-linux"; command -v squeue; ls -d /.sif/slurm'
if [ "$(printf '%s\n' "$OUT" | head -n 1)" = 0 ] && [ "$(printf '%s\n' "$OUT" | grep -c .)" -eq 1 ]; then
	ok "without --slurm: the image has no C library, no squeue and no /.sif/slurm"
else
	not_ok "without --slurm" "exit $RC" "$OUT" "$ERR"
fi
run "$SIF" exec -v --slurm "$IMG" sh -c 'squeue -i 1 >/dev/null & p=$!; sleep 2; grep -o "/[^ ]*\(libc\.so\.6\|libslurmfull\.so\|ld\.so\|/squeue\)$" /proc/$p/maps | sort -u; echo "PATH=$PATH"; kill $p'
maps=$(printf '%s\n' "$OUT" | grep -v '^PATH=' | paste -sd ' ')
if [ "$RC" -eq 0 ] && [ "$maps" = "/.sif/slurm/ld.so /.sif/slurm/lib/libc.so.6 /.sif/slurm/lib/libslurmfull.so /.sif/slurm/libexec/squeue" ] &&
   grep -q '^PATH=/.sif/slurm/bin:' <<<"$OUT"; then
	ok "--slurm: squeue runs from /.sif/slurm with the host's loader, libc and libslurmfull; PATH starts there"
else
	not_ok "--slurm: what squeue maps" "exit $RC" "$OUT" "$(grep -v 'debug: mount' <<<"$ERR")"
fi
sock=$(sed -n 's/^AuthInfo=.*socket=\([^,]*\).*/\1/p' "$SLURM_CONF")
if grep -q "mount: bind .* on /.sif/slurm/bin/squeue read-only (--slurm)" <<<"$ERR" &&
   grep -q "mount: bind .* on /.sif/slurm/lib/libslurmfull.so read-only (--slurm)" <<<"$ERR" &&
   grep -q "mount: bind $(dirname "$SLURM_CONF") on $(dirname "$SLURM_CONF") read-only (--slurm)" <<<"$ERR" &&
   { [ -z "$sock" ] || grep -q "mount: bind $(dirname "$sock") on $(dirname "$sock") read-only (--slurm)" <<<"$ERR"; }; then
	ok "  ... -v traces each bind: the commands, the libraries, slurm.conf's directory, the munge socket's"
else
	not_ok "--slurm -v trace" "$(grep -- '--slurm\|slurm:' <<<"$ERR" | head -n 20)"
fi
# a launch that joins a live --slurm root computes none of its binds (the
# library closure): the holder's root has them, and squeue runs there
"$SIF" exec --slurm --share-tag slurm-join "$IMG" sleep 20 </dev/null >/dev/null 2>&1 &
holder_job=$!
sleep 2
run "$SIF" exec -v --slurm --share-tag slurm-join "$IMG" sh -c 'squeue -h -o %u >/dev/null && command -v squeue'
if [ "$RC" -eq 0 ] && [ "$OUT" = /.sif/slurm/bin/squeue ] && grep -q 'share: joined the live mount' <<<"$ERR" &&
   ! grep -q '(--slurm)\|slurm: .* commands from' <<<"$ERR"; then
	ok "--slurm joining a live --slurm root: squeue runs, and no bind or library closure is computed"
else
	not_ok "--slurm join" "exit $RC" "$OUT" "$(grep -v 'debug: mount' <<<"$ERR" | head -n 20)"
fi
run "$SIF" exec --no-slurm --share-tag slurm-join "$IMG" true
if [ "$RC" -eq 255 ] && [ -z "$OUT" ] && [ "$(grep -c '' <<<"$ERR")" -eq 1 ] &&
   grep -q '^sif: error: --share-tag slurm-join: .*other options' <<<"$ERR"; then
	ok "  ... and one without --slurm under its tag: one line (other options)"
else
	not_ok "--share-tag of a --slurm root without --slurm" "exit $RC" "$OUT" "$ERR"
fi
kill "$holder_job" 2>/dev/null
wait "$holder_job" 2>/dev/null
id=$(submit "S=\"$SIF\"; I=\"$IMG\"
\$S exec --slurm \$I squeue -h -j \$SLURM_JOB_ID -o '%i %u %T' >\"$W/data/squeue\" 2>&1
\$S exec --slurm \$I srun -n 1 sh -c 'echo \"step \$SLURM_STEP_ID of \$SLURM_JOB_ID\"' >\"$W/data/srun\" 2>&1
\$S exec --slurm \$I scontrol show job \$SLURM_JOB_ID >\"$W/data/scontrol\" 2>&1
\$S exec --slurm --cleanenv \$I sh -c 'echo \$SLURM_CONF' >\"$W/data/clean\" 2>&1")
st=$(wait_job "$id")
[ "$(cat data/squeue 2>&1)" = "$id $(id -un) RUNNING" ] &&
	ok "--slurm in a batch job: squeue inside lists the running job" ||
	not_ok "--slurm squeue in a job" "job: $st" "$(cat data/squeue "job$n_script.log" 2>&1)"
[ "$(cat data/srun 2>&1)" = "step 0 of $id" ] &&
	ok "--slurm in a batch job: srun -n 1 inside starts step 0 of the job, which runs" ||
	not_ok "--slurm srun in a job" "job: $st" "$(cat data/srun 2>&1)"
grep -q "^JobId=$id " data/scontrol && grep -q "UserId=$(id -un)($ME)" data/scontrol &&
	ok "--slurm in a batch job: scontrol show job \$SLURM_JOB_ID" ||
	not_ok "--slurm scontrol in a job" "$(head -n 5 data/scontrol 2>&1)"
[ "$(cat data/clean 2>&1)" = "$SLURM_CONF" ] &&
	ok "--slurm --cleanenv: SLURM_CONF is still set inside" || not_ok "--slurm --cleanenv" "$(cat data/clean 2>&1)"
# what is missing, in one line
expect_fail "--slurm on a host without srun on PATH: one line" env PATH=/nonexistent "$SIF" exec --slurm "$IMG" true
grep -q 'no srun on PATH' <<<"$ERR" || not_ok "  ... saying so" "$ERR"
expect_fail "--slurm with SLURM_CONF naming a missing file: one line" env SLURM_CONF="$W/none/slurm.conf" "$SIF" exec --slurm "$IMG" true
grep -q "SLURM_CONF=$W/none/slurm.conf" <<<"$ERR" || not_ok "  ... naming it" "$ERR"
mkdir -p "$W/nomunge"
sed 's|^AuthInfo=.*|AuthInfo=socket='"$W"'/nomunge/munge.socket.2|' "$SLURM_CONF" >"$W/nomunge/slurm.conf"
expect_fail "--slurm without a munge socket: one line" env SLURM_CONF="$W/nomunge/slurm.conf" "$SIF" exec --slurm "$IMG" true
grep -q "munge socket $W/nomunge/munge.socket.2 does not exist" <<<"$ERR" || not_ok "  ... naming it" "$ERR"
# the site's default (sif.conf), and --no-slurm against it
CONF=${SIF_SYSCONFDIR:-}/sif.conf
if [ -n "${SIF_SYSCONFDIR:-}" ] && [ -w "$CONF" ]; then
	cp "$CONF" "$W/sif.conf.orig"
	trap 'cp "$W/sif.conf.orig" "$CONF"; job_cleanup' EXIT
	printf 'slurm = yes\n' >"$CONF"
	run "$SIF" exec "$IMG" sinfo -h -o %P
	[ "$RC" -eq 0 ] && [ -n "$OUT" ] && ok "sif.conf 'slurm = yes': sinfo inside without --slurm" ||
		not_ok "sif.conf slurm = yes" "exit $RC" "$OUT" "$ERR"
	run "$SIF" exec --no-slurm "$IMG" sh -c 'command -v squeue; ls -d /.sif/slurm'
	[ "$RC" -ne 0 ] && [ -z "$OUT" ] && ok "  ... --no-slurm: not there" || not_ok "--no-slurm" "exit $RC" "$OUT" "$ERR"
	run env PATH=/nonexistent "$SIF" exec -v "$IMG" sh -c 'ls -d /.sif/slurm'
	[ "$RC" -ne 0 ] && grep -q 'slurm: left out: .*no srun on PATH' <<<"$ERR" &&
		ok "  ... a host without Slurm is left out (not an error), and -v says why" ||
		not_ok "sif.conf slurm = yes without Slurm" "exit $RC" "$OUT" "$ERR"
	printf 'slurm = maybe\n' >"$CONF"
	expect_fail "  ... a bad value stops the launch" "$SIF" exec "$IMG" true
	cp "$W/sif.conf.orig" "$CONF"
else
	skip "SIF_SYSCONFDIR is unset or its sif.conf not writable: the sif.conf default of --slurm is not tested"
fi

wait_quiet
left=$(pgrep -u "$ME" -af "$IMG|sleep 300|^sif-")
[ -z "$left" ] && ok "at the end nothing of the jobs runs" || not_ok "leftovers at the end" "$left"
done_testing
