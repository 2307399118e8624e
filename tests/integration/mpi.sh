#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Open MPI programs in a container, run as an unprivileged user: launched by
# the host's mpirun and by srun --mpi=pmix / --mpi=pmi2 in the test cluster
# (tests/slurm/cluster.sh).  The image is Debian 12 with Debian's Open MPI,
# the host's version, and the programs of tests/mpi/ in /opt/mpi-tests
# (tests/mpi/make-image.sh, run as root, makes its root as a squashfs; the
# test turns that into a SIF with 'sif build').
# Environment: SIF; SIF_MPI_IMAGE (make-image.sh's squashfs, or a SIF);
# SLURM_CONF (the cluster's); SIF_SYSCONFDIR (site policy, if writable);
# unset, the parts that need them skip, but with CI=true they fail.
. "$(dirname "$0")/lib.sh"

# missing REASON: a skip, or under CI a failure (never a silent pass)
missing() {
	if [ "${CI:-}" = true ]; then
		not_ok "missing under CI: $1"
	else
		skip "$1"
	fi
}
if [ "$(id -u)" -eq 0 ]; then
	skip "running as root: launcher tests prove nothing as root (tests/suite runs them as an unprivileged user)"
	done_testing
	exit
fi
if [ -z "${SIF_MPI_IMAGE:-}" ] || ! [ -r "$SIF_MPI_IMAGE" ]; then
	missing "SIF_MPI_IMAGE is unset or unreadable: no MPI test image (as root: tests/mpi/make-image.sh OUT.sqfs)"
	done_testing
	exit
fi
command -v mpirun >/dev/null || { missing "mpirun is not installed (Debian package openmpi-bin)"; done_testing; exit; }
SIF=$(command -v "$SIF") || { not_ok "SIF is not a program"; done_testing; exit; }
ME=$(id -u)

# the files live under the home, which Slurm's tasks reach as the user
W=$(mktemp -d "$HOME/sif-mpi.XXXXXX") || { not_ok "make a directory in the home"; done_testing; exit; }
cleanup() { rm -rf "$W" "$TMP"; }
trap cleanup EXIT
cd "$W" || exit 1

# ---- the image: sif build, as the user ------------------------------------------------
IMG=$W/mpi.sif
case $SIF_MPI_IMAGE in
*.sif) cp "$SIF_MPI_IMAGE" "$IMG" ;;
*) run "$SIF" build "$IMG" "squashfs:$SIF_MPI_IMAGE"
   [ "$RC" -eq 0 ] || { not_ok "sif build the MPI image" "exit $RC" "$ERR"; done_testing; exit; } ;;
esac
ok "the MPI image: $(du -m "$IMG" | cut -f1) MB SIF"
# the programs exist only in the image: a run that works did run inside
[ -e /opt/mpi-tests ] && { not_ok "/opt/mpi-tests exists on the host: the tests could not tell the image from the host"; done_testing; exit; }
host_ver=$(dpkg-query -W -f='${Version}' libopenmpi3 2>/dev/null)
run "$SIF" exec "$IMG" cat /opt/mpi-tests/openmpi-version
[ "$RC" -eq 0 ] && [ "$OUT" = "$host_ver" ] && ok "the image's Open MPI is the host's ($host_ver)" ||
	not_ok "Open MPI versions" "image: $OUT ($ERR)" "host: $host_ver"

# the holders of this test's mounts: sif-fuse, with the launcher's command line
holders() {
	local p n=0
	for p in $(pgrep -u "$ME" -x sif-fuse); do
		grep -qF "$IMG" "/proc/$p/cmdline" 2>/dev/null && n=$((n + 1))
	done
	echo $n
}
# what this test's launches leave: launchers and holders (their command
# lines name the image) and payloads (the programs, or commands naming $W)
mine() { pgrep -u "$ME" -af "$W|/opt/mpi-tests/"; }
leftovers() { mine | grep -c .; }
wait_quiet() { local _; for _ in $(seq 150); do [ "$(leftovers)" -eq 0 ] && return 0; sleep 0.1; done; return 1; }
FUSECTL=false
[ -d /sys/fs/fuse/connections ] && grep -qs fusectl /proc/mounts && FUSECTL=true
# hello_ok: $OUT has "hello rank R of 2" for R = 0 and 1, from two processes
hello_ok() {
	[ "$(grep -o 'hello rank [0-9]* of 2 ' <<<"$OUT" | sort | paste -sd,)" = "hello rank 0 of 2 ,hello rank 1 of 2 " ] &&
		[ "$(grep -o ' pid [0-9]*' <<<"$OUT" | sort -u | wc -l)" -eq 2 ]
}
pingpong_ok() { grep -Eq '^pingpong size 8 iters [0-9]+ latency_us [0-9.]+$' <<<"$OUT"; }
MPIRUN=(mpirun -np 2)

# ---- the host's mpirun --------------------------------------------------------------
wait_quiet
base_c=$(settled_conns)
run "${MPIRUN[@]}" "$SIF" exec "$IMG" /opt/mpi-tests/hello
hello_ok && ok "mpirun -np 2 sif exec: hello world, ranks 0 and 1 of 2 ($(grep -o 'on [^ ]*' <<<"$OUT" | head -n 1))" ||
	not_ok "mpirun hello" "exit $RC" "$OUT" "$ERR"
run "${MPIRUN[@]}" "$SIF" exec "$IMG" /opt/mpi-tests/pingpong 8 2000 200
pingpong_ok && ok "mpirun -np 2 sif exec: ping-pong, $(grep -o 'latency_us.*' <<<"$OUT")" ||
	not_ok "mpirun ping-pong" "exit $RC" "$OUT" "$ERR"

# cross-memory attach: vader's single copy by process_vm_readv(2), which the
# kernel allows between processes of one user namespace only
CMA=(--mca btl_vader_single_copy_mechanism cma)
run "${MPIRUN[@]}" "${CMA[@]}" "$SIF" exec "$IMG" /opt/mpi-tests/bigmsg $((64 << 20)) 2
[ "$RC" -eq 0 ] && grep -q '^bigmsg size 67108864 rounds 2 ok' <<<"$OUT" &&
	ok "mpirun, vader with CMA: 64 MiB messages arrive intact (the ranks share a user namespace)" ||
	not_ok "mpirun CMA" "exit $RC" "$OUT" "$ERR"
# the control: ranks in namespaces of their own (--no-share) cannot
run "${MPIRUN[@]}" "${CMA[@]}" "$SIF" exec --no-share "$IMG" /opt/mpi-tests/bigmsg $((64 << 20)) 2
# (Open MPI's help text names the reason; when its show_help relay garbles
# that text, as it sometimes does, vader's own abort line remains)
[ "$RC" -ne 0 ] && grep -Eq 'cma-different-user-namespace|not available due to different user namespaces|vader BTL is aborting the MPI job' <<<"$OUT$ERR" &&
	ok "  ... the control: with --no-share Open MPI refuses CMA (different user namespaces)" ||
	not_ok "CMA control with --no-share" "exit $RC" "$OUT" "$ERR"

# one FUSE server and one connection for the job, counted while both ranks run
wait_quiet
base_c=$(settled_conns)
rm -f up.*
"${MPIRUN[@]}" "$SIF" exec -v "$IMG" sh -c '/opt/mpi-tests/hello && touch '"$W"'/up.$OMPI_COMM_WORLD_RANK && sleep 2' \
	>"$TMP/job.out" 2>"$TMP/job.err" &
job=$!
for _ in $(seq 150); do [ -f up.0 ] && [ -f up.1 ] && break; sleep 0.1; done
during_h=$(holders) during_c=$(conns)
wait $job
RC=$? OUT=$(cat "$TMP/job.out") ERR=$(cat "$TMP/job.err")
if [ "$RC" -eq 0 ] && hello_ok && [ "$(grep -c 'share tag mpi-' <<<"$ERR")" -eq 2 ] &&
   [ "$(grep -c 'joined the live mount' <<<"$ERR")" -eq 1 ] && [ "$during_h" -eq 1 ]; then
	ok "mpirun: both ranks take the job's share tag; one sets up, the other joins; one FUSE server"
else
	not_ok "mpirun sharing" "exit $RC, FUSE servers while running: $during_h" "$OUT" "$(grep -E 'share|holder|error' <<<"$ERR")"
fi
if ! $FUSECTL; then
	skip "/sys/fs/fuse/connections is not mounted (fusectl): FUSE connections not counted"
else
	[ "$during_c" -eq $((base_c + 1)) ] && ok "  ... and one FUSE connection ($base_c before, $during_c during)" ||
		not_ok "mpirun FUSE connections" "$base_c before, $during_c during"
fi

# the PMIx rendezvous under mpirun: its session directory in /tmp, which
# --contain hides (private /tmp): bound, so no "PMIX ERROR" fallback
run "${MPIRUN[@]}" "$SIF" exec -v --contain "$IMG" sh -c 'ls "$PMIX_SERVER_TMPDIR" | grep -c pmix_dstor; /opt/mpi-tests/pingpong 8 1000 100'
if pingpong_ok && [ "$(grep -c 'pmix: PMIX_SERVER_TMPDIR .*: bound at its own path' <<<"$ERR")" -eq 2 ] &&
   [ "$(grep -cx 2 <<<"$OUT")" -eq 2 ] && ! grep -q 'PMIX ERROR' <<<"$ERR"; then
	ok "mpirun, --contain: mpirun's PMIx directory bound (its stores visible), ping-pong without PMIx errors"
else
	not_ok "mpirun --contain PMIx bind" "exit $RC" "$OUT" "$(grep -Ev 'debug: (mount|namespace|root|fuse|holder|preflight|run)' <<<"$ERR")"
fi
CONF=${SIF_SYSCONFDIR:-}/sif.conf
if [ -n "${SIF_SYSCONFDIR:-}" ] && [ -w "$CONF" ]; then
	cp "$CONF" "$TMP/sif.conf.orig"
	trap 'cp "$TMP/sif.conf.orig" "$CONF"; cleanup' EXIT
	printf 'allow user binds = no\n' >"$CONF"
	run "${MPIRUN[@]}" "$SIF" exec -v --contain "$IMG" /opt/mpi-tests/hello
	cp "$TMP/sif.conf.orig" "$CONF"
	if hello_ok && [ "$(grep -c 'PMIX_SERVER_TMPDIR=.*does not let you bind: not bound' <<<"$ERR")" -eq 2 ] &&
	   ! grep -q ': bound at its own path' <<<"$ERR"; then
		ok "  ... with user binds disabled by the site, mpirun's directory (the user's own) is not bound, with a warning"
	else
		not_ok "PMIx bind under 'allow user binds = no'" "exit $RC" "$OUT" "$(grep -E 'pmix|PMIX|error' <<<"$ERR")"
	fi
else
	skip "SIF_SYSCONFDIR not given or its sif.conf not writable by the test user: the PMIx bind's policy not tested"
fi
wait_quiet
left=$(mine)
[ -z "$left" ] && { ! $FUSECTL || [ "$(conns)" -le "$base_c" ]; } &&
	ok "mpirun: nothing of the jobs remains (no process, no FUSE connection)" ||
	not_ok "leftovers after mpirun" "$left" "FUSE connections: $base_c before, $(conns) now"

# ---- Slurm: srun --mpi=pmix and --mpi=pmi2 -------------------------------------------
slurm_ok=true
if [ -z "${SLURM_CONF:-}" ] || ! [ -r "$SLURM_CONF" ]; then
	missing "SLURM_CONF is unset or unreadable: no Slurm cluster (as root: tests/slurm/cluster.sh start DIR)"
	slurm_ok=false
elif ! command -v srun >/dev/null; then
	missing "srun is not installed (Debian package slurm-client)"
	slurm_ok=false
else
	export SLURM_CONF
	state=$(sinfo -h -N -o %T 2>&1 | head -n 1)
	case $state in
	idle|mixed|allocated) ;;
	*) missing "the Slurm node is not up (sinfo: ${state:-nothing})"; slurm_ok=false ;;
	esac
fi
if $slurm_ok && ! srun --mpi=list 2>&1 | grep -qw pmix; then
	missing "Slurm has no PMIx plugin (srun --mpi=list; Debian: slurm-wlm-basic-plugins and libpmix-dev)"
	slurm_ok=false
fi
if $slurm_ok; then
	SRUN=(srun -n 2 -D "$W")
	wait_quiet
	base_c=$(settled_conns)
	run "${SRUN[@]}" --mpi=pmix "$SIF" exec -v "$IMG" /opt/mpi-tests/hello
	if hello_ok && [ "$(grep -c 'sif: debug: pmix: PMIX_SERVER_TMPDIR .*/pmix\.[0-9]*\.0' <<<"$ERR")" -eq 2 ] &&
	   ! grep -q 'PMIX ERROR' <<<"$ERR"; then
		ok "srun --mpi=pmix -n 2: hello world; each task finds slurmd's PMIx directory ($(grep -o 'pmix: .*' <<<"$ERR" | head -n 1 | sed 's/.*: //'))"
	else
		not_ok "srun --mpi=pmix hello" "exit $RC" "$OUT" "$(grep -E 'pmix|PMIX|error' <<<"$ERR")"
	fi
	run "${SRUN[@]}" --mpi=pmix "$SIF" exec "$IMG" /opt/mpi-tests/pingpong 8 2000 200
	pingpong_ok && ok "srun --mpi=pmix -n 2: ping-pong, $(grep -o 'latency_us.*' <<<"$OUT")" ||
		not_ok "srun --mpi=pmix ping-pong" "exit $RC" "$OUT" "$ERR"
	# --contain: a private /tmp hides the spool wherever it is: the bind
	# alone shows the server's stores (the data the clients read)
	run "${SRUN[@]}" --mpi=pmix "$SIF" exec -v --contain "$IMG" sh -c 'ls "$PMIX_SERVER_TMPDIR" | grep -c pmix_dstor; /opt/mpi-tests/pingpong 8 1000 100'
	if pingpong_ok && [ "$(grep -c 'pmix: PMIX_SERVER_TMPDIR .*/pmix\.[0-9]*\.0: bound at its own path' <<<"$ERR")" -eq 2 ] &&
	   [ "$(grep -cx 2 <<<"$OUT")" -eq 2 ] && ! grep -q 'PMIX ERROR' <<<"$ERR"; then
		ok "srun --mpi=pmix, --contain: slurmd's PMIx directory bound automatically (-v says so), its stores visible, no PMIx error"
	else
		not_ok "srun --mpi=pmix --contain" "exit $RC" "$OUT" "$(grep -Ev 'debug: (mount|namespace|root|fuse|holder|preflight|run)' <<<"$ERR")"
	fi
	if [ -n "${SIF_SYSCONFDIR:-}" ] && [ -w "$CONF" ]; then
		printf 'allow user binds = no\n' >"$CONF"
		run "${SRUN[@]}" --mpi=pmix "$SIF" exec -v --contain "$IMG" /opt/mpi-tests/hello
		cp "$TMP/sif.conf.orig" "$CONF"
		hello_ok && [ "$(grep -c 'pmix: PMIX_SERVER_TMPDIR .*/pmix\.[0-9]*\.0: bound at its own path' <<<"$ERR")" -eq 2 ] &&
			! grep -q 'PMIX ERROR' <<<"$ERR" &&
			ok "  ... slurmd's directory is bound with user binds disabled too (the system made it for the step)" ||
			not_ok "srun --mpi=pmix bind under 'allow user binds = no'" "exit $RC" "$OUT" "$(grep -E 'pmix|PMIX|error|warning' <<<"$ERR")"
	else
		skip "SIF_SYSCONFDIR not given or its sif.conf not writable by the test user: slurmd's directory under the site policy not tested"
	fi
	# the control: the same variables inside, but hidden from sif (so no
	# bind): the clients miss the stores and say so
	run "${SRUN[@]}" --mpi=pmix sh -c 'exec env -u PMIX_SERVER_TMPDIR -u PMIX_DSTORE_21_BASE_PATH -u PMIX_DSTORE_ESH_BASE_PATH "$0" exec --contain --env PMIX_SERVER_TMPDIR="$PMIX_SERVER_TMPDIR" --env PMIX_DSTORE_21_BASE_PATH="$PMIX_DSTORE_21_BASE_PATH" --env PMIX_DSTORE_ESH_BASE_PATH="$PMIX_DSTORE_ESH_BASE_PATH" "$1" sh -c "ls \"\$PMIX_SERVER_TMPDIR\" 2>&1 | grep -c pmix_dstor; /opt/mpi-tests/hello"' "$SIF" "$IMG"
	[ "$(grep -cx 0 <<<"$OUT")" -eq 2 ] && grep -q 'PMIX ERROR' <<<"$ERR" &&
		ok "  ... the control: without the bind the stores are missing and the PMIx clients report errors" ||
		not_ok "PMIx control without the bind" "exit $RC" "$OUT" "$ERR"
	# srun passes no MCA option: the environment does
	run env OMPI_MCA_btl_vader_single_copy_mechanism=cma "${SRUN[@]}" --mpi=pmix "$SIF" exec "$IMG" /opt/mpi-tests/bigmsg $((64 << 20)) 2
	[ "$RC" -eq 0 ] && grep -q '^bigmsg size 67108864 rounds 2 ok' <<<"$OUT" &&
		ok "srun --mpi=pmix, vader with CMA: 64 MiB messages arrive intact (one user namespace per step)" ||
		not_ok "srun CMA" "exit $RC" "$OUT" "$ERR"

	# PMI-2: slurmstepd's socket is the descriptor PMI_FD, passed through
	run "${SRUN[@]}" --mpi=pmi2 "$SIF" exec "$IMG" /opt/mpi-tests/pmi2
	if [ "$RC" -eq 0 ] && grep -q "^pmi2 rank 0 of 2 got 'from rank 1 pid" <<<"$OUT" &&
	   grep -q "^pmi2 rank 1 of 2 got 'from rank 0 pid" <<<"$OUT"; then
		ok "srun --mpi=pmi2 -n 2: a PMI-2 key exchange (Slurm's libpmi2) through the inherited PMI_FD"
	else
		not_ok "srun --mpi=pmi2 key exchange" "exit $RC" "$OUT" "$ERR"
	fi
	run "${SRUN[@]}" --mpi=pmi2 bash -c 'eval "exec $PMI_FD>&-"; exec "$0" exec "$1" /opt/mpi-tests/pmi2' "$SIF" "$IMG"
	[ "$RC" -ne 0 ] && grep -q 'PMI2_Init failed' <<<"$ERR" &&
		ok "  ... the control: with PMI_FD closed before sif, PMI2_Init fails" ||
		not_ok "PMI-2 control" "exit $RC" "$OUT" "$ERR"
	# Open MPI itself under PMI-2 needs its s1/s2 components (built
	# --with-pmi); Debian's have none
	if "$SIF" exec "$IMG" ompi_info 2>/dev/null | grep -q 'MCA pmix: s2 '; then
		run "${SRUN[@]}" --mpi=pmi2 "$SIF" exec "$IMG" /opt/mpi-tests/hello
		hello_ok && ok "srun --mpi=pmi2 -n 2: hello world" || not_ok "srun --mpi=pmi2 hello" "exit $RC" "$OUT" "$ERR"
		run "${SRUN[@]}" --mpi=pmi2 "$SIF" exec "$IMG" /opt/mpi-tests/pingpong 8 2000 200
		pingpong_ok && ok "srun --mpi=pmi2 -n 2: ping-pong" || not_ok "srun --mpi=pmi2 ping-pong" "exit $RC" "$OUT" "$ERR"
	else
		skip "the image's Open MPI has no PMI-2 client (ompi_info: no 'pmix: s2'; Debian builds it without --with-pmi): MPI programs under srun --mpi=pmi2 cannot start, on the host either"
	fi

	# one FUSE server for the step, counted while both tasks run
	wait_quiet
	base_c=$(settled_conns)
	rm -f up.*
	srun -n 2 -D "$W" --mpi=pmix "$SIF" exec "$IMG" sh -c '/opt/mpi-tests/hello && touch '"$W"'/up.$SLURM_PROCID && sleep 2' \
		>"$TMP/job.out" 2>"$TMP/job.err" &
	job=$!
	for _ in $(seq 150); do [ -f up.0 ] && [ -f up.1 ] && break; sleep 0.1; done
	during_h=$(holders) during_c=$(conns)
	wait $job
	RC=$? OUT=$(cat "$TMP/job.out")
	if [ "$RC" -eq 0 ] && hello_ok && [ "$during_h" -eq 1 ] && { ! $FUSECTL || [ "$during_c" -eq $((base_c + 1)) ]; }; then
		ok "srun --mpi=pmix -n 2: one FUSE server$($FUSECTL && echo " and one FUSE connection") for the step"
	else
		not_ok "srun FUSE servers" "exit $RC, servers: $during_h, connections: $base_c before, $during_c during" "$OUT" "$(cat "$TMP/job.err")"
	fi
	wait_quiet
	left=$(mine)
	[ -z "$left" ] && { ! $FUSECTL || [ "$(conns)" -le "$base_c" ]; } &&
		ok "srun: nothing of the steps remains (no process, no FUSE connection)" ||
		not_ok "leftovers after srun" "$left" "FUSE connections: $base_c before, $(conns) now"
fi
done_testing
