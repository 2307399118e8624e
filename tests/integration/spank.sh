#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The SPANK plugin (sif_spank.so) under a real Slurm (tests/slurm/cluster.sh,
# started by tests/suite with the plugin in its plugstack.conf), run as an
# unprivileged user: "srun --sif-image" puts each task into a container in
# its own process, "#SBATCH --sif-image" the batch script.
# Environment: SIF (the launcher whose prefix holds the plugin's launcher
# too), SLURM_CONF (the cluster's; unset: skipped, but with CI=true a
# missing cluster fails).
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -eq 0 ]; then
	skip "running as root: launcher tests prove nothing as root (tests/suite runs them as an unprivileged user)"
	done_testing
	exit
fi
[ -n "${SLURM_CONF:-}" ] && [ -r "$SLURM_CONF" ] ||
	no_cluster "SLURM_CONF is unset or unreadable: no Slurm cluster (as root: tests/slurm/cluster.sh start DIR)"
export SLURM_CONF
for tool in sbatch srun scancel scontrol mksquashfs; do
	command -v $tool >/dev/null || no_cluster "$tool is not installed"
done
srun --help 2>/dev/null | grep -q -- '--sif-image' ||
	no_cluster "the cluster's plugstack.conf does not load sif_spank.so (srun --help has no --sif-image; tests/suite sets SIF_SLURM_PLUGSTACK)"
need_static_busybox

job_workdir sif-spank

# an image without /usr (the host has one), with an environment script and
# a command only it has
mkdir -p root/bin root/etc root/opt/bin root/.singularity.d/env data
cp "$BUSYBOX" root/bin/busybox
for c in sh cat echo ls pwd sleep readlink grep id head wc; do ln -s busybox "root/bin/$c"; done
echo "root:x:0:0:root:/root:/bin/sh" >root/etc/passwd
echo "root:x:0:" >root/etc/group
echo spank-image >root/etc/marker
printf '#!/bin/sh\necho "only in the image"\n' >root/opt/bin/imgonly
chmod 755 root/opt/bin/imgonly
printf 'export FROM_IMAGE="${FROM_IMAGE:-yes}"\nexport PATH="/opt/bin:$PATH"\n' \
	>root/.singularity.d/env/10-docker2singularity.sh
mksquashfs root img.sqfs -quiet -no-progress -noappend -all-root >/dev/null &&
	"$SIF" build -q img.sif squashfs:img.sqfs >/dev/null 2>&1 ||
	{ not_ok "build the test image (mksquashfs, sif build)"; done_testing; exit; }
IMG=$W/img.sif
ME=$(id -u)

# the image's FUSE servers and the plugin's launchers: processes named NAME
# whose command line (a server's is its launcher's) names the image
cmdline() { { tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null; }
count_named() {
	local p n=0
	for p in $(pgrep -u "$ME" -x "$1"); do
		case $(cmdline "$p") in *"--handover=3 "*"$IMG"*) n=$((n + 1)) ;; esac
	done
	echo $n
}
servers() { count_named sif-fuse; }
launchers() { count_named sif; }
wait_quiet() { local _; for _ in $(seq 150); do [ "$(launchers)" -eq 0 ] && [ "$(servers)" -eq 0 ] && return 0; sleep 0.1; done; return 1; }
FUSECTL=false
[ -d /sys/fs/fuse/connections ] && grep -qs fusectl /proc/mounts && FUSECTL=true
host_userns=$(readlink /proc/self/ns/user)

# ---- srun --sif-image: each task in the container, as the user, unprivileged ----
run srun -n 2 -D "$W" --sif-image="$IMG" sh -c \
	'echo "$SLURM_PROCID $(cat /etc/marker) $(id -u) $(readlink /proc/self/ns/user) $(ls -d /usr 2>/dev/null || echo no-usr)"'
ranks=$(printf '%s\n' "$OUT" | cut -d' ' -f1 | sort | paste -sd ' ')
if [ "$RC" -eq 0 ] && [ "$ranks" = "0 1" ] && [ "$(printf '%s\n' "$OUT" | cut -d' ' -f2,3,5 | sort -u)" = "spank-image $ME no-usr" ]; then
	ok "srun -n 2 --sif-image: both tasks run in the image (its /etc/marker, no host /usr), as the user"
else
	not_ok "srun --sif-image" "exit $RC" "$OUT" "$ERR"
fi
ns=$(printf '%s\n' "$OUT" | cut -d' ' -f4 | sort -u)
[ "$(printf '%s\n' "$ns" | grep -c .)" -eq 1 ] && [ "$ns" != "$host_userns" ] &&
	ok "  ... one user namespace for the step's tasks, not the host's ($ns)" ||
	not_ok "user namespaces of the tasks" "$ns (host: $host_userns)"
run srun -n 1 -D "$W" --sif-image="$IMG" sh -c 'grep -E "^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs)" /proc/self/status'
if [ "$RC" -eq 0 ] && [ "$(grep -c ':[[:space:]]*0000000000000000$' <<<"$OUT")" -eq 5 ] &&
   grep -q 'NoNewPrivs:[[:space:]]*1' <<<"$OUT"; then
	ok "a task has no capability (bounding set too) and no_new_privs"
else
	not_ok "task privileges" "$OUT" "$ERR"
fi
run srun -n 1 -D "$W" --sif-image="$IMG" sh -c 'ls /proc/$$/fd | paste -sd " "'
[ "$RC" -eq 0 ] && [ "$OUT" = "0 1 2" ] &&
	ok "no descriptor of the plugin's or the launcher's reaches the task (fds: $OUT)" ||
	not_ok "task descriptors" "$OUT" "$ERR"
run srun -n 1 -D "$W" --sif-image="$IMG" sh -c 'exit 5'
[ "$RC" -eq 5 ] && ok "the task's exit code (5) is Slurm's" || not_ok "exit code" "$RC" "$ERR"

# ---- the payload's environment, command lookup, binds, --sif-pwd ---------------
run srun -n 1 -D "$W" --sif-image="$IMG" imgonly
[ "$RC" -eq 0 ] && [ "$OUT" = "only in the image" ] &&
	ok "a command only the image has is found on the image's PATH (its env script)" ||
	not_ok "command lookup in the image" "exit $RC" "$OUT" "$ERR"
run srun -n 1 -D "$W" --export=ALL,FROM_HOST=kept --sif-image="$IMG" sh -c 'echo "$FROM_IMAGE $FROM_HOST $PWD"'
[ "$RC" -eq 0 ] && [ "$OUT" = "yes kept $W" ] &&
	ok "the environment: the image's scripts apply, the job's variables pass, PWD is the cwd" ||
	not_ok "task environment" "$OUT" "$ERR"
rm -f data/out
run srun -n 1 -D "$W" --sif-image="$IMG" --sif-bind="$W/data:/data" sh -c 'echo written >/data/out'
[ "$RC" -eq 0 ] && [ "$(stat -c %u data/out 2>/dev/null)" = "$ME" ] &&
	ok "--sif-bind: a file written to the bound /data belongs to the user" ||
	not_ok "--sif-bind" "exit $RC" "$ERR" "$(ls -ln data)"
run srun -n 1 -D "$W" --sif-image="$IMG" --sif-pwd=/etc pwd
[ "$RC" -eq 0 ] && [ "$OUT" = /etc ] && ok "--sif-pwd: the task starts in /etc" || not_ok "--sif-pwd" "$OUT" "$ERR"

# ---- errors: one line, exit 255, never the command on the host -----------------
run srun -n 1 -D "$W" --sif-image="$W/missing.sif" sh -c 'echo ran on the host'
# (Slurm adds its own "srun: error: ... exit code 255" line)
if [ "$RC" -eq 255 ] && [ -z "$OUT" ] && [ "$(grep -c 'sif: error: ' <<<"$ERR")" -eq 1 ] &&
   grep -q 'sif: error: image .*missing.sif: No such file' <<<"$ERR"; then
	ok "a missing image: one error line, exit 255, the command does not run"
else
	not_ok "missing image" "exit $RC" "stdout: $OUT" "$ERR"
fi
run srun -n 1 -D "$W" --sif-image="$IMG" no-such-command
if [ "$RC" -eq 255 ] && [ "$(grep -c 'sif: error: ' <<<"$ERR")" -eq 1 ] &&
   grep -q 'sif: error: no-such-command: not found in the container' <<<"$ERR"; then
	ok "a command the image lacks: one error line, exit 255"
else
	not_ok "missing command" "exit $RC" "$ERR"
fi
run srun -n 1 -D "$W" sh -c 'ls -d /usr && readlink /proc/self/ns/user'
[ "$RC" -eq 0 ] && [ "$(tail -n 1 <<<"$OUT")" = "$host_userns" ] &&
	ok "without --sif-image the plugin leaves tasks alone" || not_ok "task without --sif-image" "$OUT" "$ERR"

# ---- one mount per node per step; the first task may leave early ---------------
wait_quiet
base_c=$(conns)
rm -f data/up*
srun -n 3 --overcommit -D "$W" --sif-image="$IMG" --sif-bind="$W/data:/data" sh -c \
	'echo up >/data/up$SLURM_PROCID; if [ $SLURM_PROCID = 0 ]; then exit 0; fi; sleep 8; cat /etc/marker' \
	>"$TMP/srun.out" 2>"$TMP/srun.err" &
srun_pid=$!
for _ in $(seq 100); do [ -f data/up0 ] && [ -f data/up1 ] && [ -f data/up2 ] && break; sleep 0.1; done
sleep 1
during_s=$(servers) during_l=$(launchers) during_c=$(conns)
wait $srun_pid
RC=$?
if [ "$RC" -eq 0 ] && [ "$during_s" -eq 1 ] && { ! $FUSECTL || [ "$during_c" -eq $((base_c + 1)) ]; }; then
	ok "srun -n 3: one FUSE server (and connection) for the step's tasks on the node"
else
	not_ok "one mount per step" "exit $RC; servers $during_s, connections $base_c before, $during_c during" "$(cat "$TMP/srun.err")"
fi
[ "$RC" -eq 0 ] && [ "$(grep -c '^spank-image$' "$TMP/srun.out")" -eq 2 ] &&
	ok "  ... the image stays served after the first task left (linger 5 s, tasks 8 s)" ||
	not_ok "after the first task left" "$(cat "$TMP/srun.out" "$TMP/srun.err")"
[ "$during_l" -eq 2 ] && ok "  ... each running task has its launcher holding the mount (2 while 2 run)" ||
	not_ok "launchers during the step" "$during_l"

# ---- #SBATCH --sif-image: the batch script in the container ----------------------
cat >job.sh <<EOF
#!/bin/sh
#SBATCH --sif-image=$IMG
#SBATCH --sif-bind=$W/data:/data
echo "batch: \$(cat /etc/marker) \$(ls -d /usr 2>/dev/null || echo no-usr)" >/data/batch
exit 3
EOF
rm -f data/batch
id=$(sbatch --parsable -D "$W" -o "$W/job.log" job.sh 2>"$TMP/sbatch.err")
id=${id%%;*}
[ -n "$id" ] && JOBS+=("$id")
st=$(wait_job "$id")
if [ "$st" = "FAILED 3:0" ] && [ "$(cat data/batch 2>/dev/null)" = "batch: spank-image no-usr" ]; then
	ok "#SBATCH --sif-image: the batch script runs in the image; its exit code (3) is the job's"
else
	not_ok "#SBATCH --sif-image" "job $id: $st" "$(cat data/batch "$TMP/sbatch.err" job.log 2>&1)"
fi

# ---- scancel: the task gets SIGTERM; nothing of the job remains ------------------
# (the trap runs once the foreground sleep, signalled too, has ended: a
# background sleep and "wait" could end the shell with 143 before its trap)
wait_quiet
base_c=$(conns)
rm -f data/ready data/term
cat >job2.sh <<EOF
#!/bin/sh
#SBATCH -n 2
srun -n 2 --sif-image="$IMG" --sif-bind="$W/data:/data" sh -c 'trap "echo term >/data/term\$SLURM_PROCID; exit 143" TERM; echo ready >/data/ready\$SLURM_PROCID; while :; do sleep 1; done'
EOF
id=$(sbatch --parsable -D "$W" -o "$W/job2.log" job2.sh 2>"$TMP/sbatch.err")
id=${id%%;*}
[ -n "$id" ] && JOBS+=("$id")
for _ in $(seq 300); do [ -f data/ready0 ] && [ -f data/ready1 ] && break; sleep 0.1; done
if ! [ -f data/ready0 ] || ! [ -f data/ready1 ]; then
	not_ok "scancel: the tasks did not start in 30 s" "$(job_state "$id")" "$(cat job2.log)"
else
	scancel "$id"
	st=$(wait_job "$id" 30)
	for _ in $(seq 30); do [ -f data/term0 ] && [ -f data/term1 ] && break; sleep 0.1; done
	[ -f data/term0 ] && [ -f data/term1 ] && ok "scancel: both tasks get SIGTERM (their traps ran); job ${st% *}" ||
		not_ok "scancel: SIGTERM" "job: $st" "$(ls data)" "$(cat job2.log)"
	for _ in $(seq 150); do
		[ "$(launchers)" -eq 0 ] && [ "$(servers)" -eq 0 ] && { ! $FUSECTL || [ "$(conns)" -le "$base_c" ]; } && break
		sleep 0.1
	done
	left=$(pgrep -u "$ME" -af "$IMG|/data/term")
	[ -z "$left" ] && { ! $FUSECTL || [ "$(conns)" -le "$base_c" ]; } &&
		ok "scancel: within 15 s no launcher, FUSE server, FUSE connection or task remains" ||
		not_ok "scancel leftovers" "$left" "connections: $base_c before, $(conns) now"
fi

wait_quiet
left=$(pgrep -u "$ME" -af "$IMG")
[ -z "$left" ] && ok "at the end nothing of the jobs runs" || not_ok "leftovers at the end" "$left"
done_testing
