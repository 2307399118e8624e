#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# sif exec | run | shell, run as an unprivileged user (tests/suite makes
# sure of that).  Each check looks at what only sif can have done: inside the
# container through the payload, or from outside while the launch is alive.
# Environment: SIF, SIF_PROBE (static tests/helpers/sif-probe), SIF_FIXTURES.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -eq 0 ]; then
	skip "running as root: launcher tests prove nothing as root (tests/suite runs them as an unprivileged user)"
	done_testing
	exit
fi
for tool in mksquashfs script; do
	command -v $tool >/dev/null || { skip "$tool is not installed: launcher not tested"; done_testing; exit; }
done
need_static_busybox

# ---- test images ------------------------------------------------------------
cd "$TMP" || exit 1
# the launches' prefetch profiles go to a cache of the test's own, not the test user's
export SIF_CACHEDIR=$TMP/cache
mkroot() {      # mkroot DIR: a busybox userland owned by root in the image
	mkdir -p "$1/bin" "$1/etc" "$1/.singularity.d/env"
	cp "$BUSYBOX" "$1/bin/busybox"
	for a in sh ls cat echo id env sleep ps readlink stat touch mkdir grep head tail wc kill \
	         pwd true false chown test tr sed cut; do
		ln -sf busybox "$1/bin/$a"
	done
	echo "root:x:0:0:root:/root:/bin/sh" >"$1/etc/passwd"
	echo "root:x:0:" >"$1/etc/group"
	echo "image file" >"$1/etc/motd"
}
mkroot base
printf 'echo "runscript args: $*"\n' >base/.singularity.d/runscript   # no "#!": run by /bin/sh
chmod 755 base/.singularity.d/runscript
cat >base/.singularity.d/env/10-docker2singularity.sh <<'EOF'
#!/bin/sh
export PATH="/bin:/usr/bin"
export IMAGE_ONLY="${IMAGE_ONLY:-from-image}"
export SHARED_VAR="${SHARED_VAR:-image-value}"
EOF
cat >base/.singularity.d/env/90-environment.sh <<'EOF'
#!/bin/sh
if [ -z "$COMPUTED" ]; then COMPUTED="by-sh-$(echo ok)"; fi
FORCED=from-script
export COMPUTED FORCED
EOF
cp "$BUSYBOX" base/bin/busybox.suid && chmod 4755 base/bin/busybox.suid
ln -s /etc base/data            # hostile: a bind to /data must land on the container's /etc
ln -s ../../../../../../tmp base/up  # hostile: '..' beyond the root
mkdir -p base/srv/content && echo x >base/srv/content/f
mksquashfs base base.sqfs -quiet -no-progress -noappend -all-root >/dev/null
"$SIF" build img.sif base.sqfs || { not_ok "build the test image"; done_testing; exit; }
IMG=$TMP/img.sif
mkdir -p data && echo "host data" >data/in

# ---- basics and exit status ---------------------------------------------------
run "$SIF" exec "$IMG" echo hello
[ "$RC" -eq 0 ] && [ "$OUT" = hello ] && ok "exec echo" || not_ok "exec echo" "$RC $OUT $ERR"
run "$SIF" exec "$IMG" sh -c 'exit 7'
[ "$RC" -eq 7 ] && ok "the payload's exit status comes back (7)" || not_ok "exit 7" "$RC $ERR"
run "$SIF" exec "$IMG" sh -c 'exit 255'
[ "$RC" -eq 255 ] && [ -z "$ERR" ] && ok "a payload exiting 255 says nothing of sif's" || not_ok "exit 255" "$RC $ERR"
run "$SIF" exec "$IMG" sh -c 'kill -TERM $$'
[ "$RC" -eq 143 ] && ok "a signal death becomes 128+N (143)" || not_ok "signal death" "$RC"
expect_fail "a command missing from the image" "$SIF" exec "$IMG" no-such-command
expect_fail "a missing image" "$SIF" exec "$TMP/none.sif" true
printf 'garbage' >junk.sif
expect_fail "a file that is no image" "$SIF" exec junk.sif true
expect_fail "a bind onto the container's root" "$SIF" exec -B "$TMP/data:/" "$IMG" true
expect_fail "a bind source that does not exist" "$SIF" exec -B "$TMP/nope:/data" "$IMG" true
grep -q 'does not exist' <<<"$ERR" && ok "  ... says so" || not_ok "bind source message" "$ERR"
run "$SIF" exec "$IMG" sh -c 'cat /etc/motd; id -u; id -g'
[ "$OUT" = "image file
$(id -u)
$(id -g)" ] && ok "the image's files; the user's own uid and gid inside" || not_ok "identity" "$OUT $ERR"
run "$SIF" exec "$IMG" sh -c 'grep "^$(id -un):" /etc/passwd; grep ^root: /etc/passwd'
[ "$(echo "$OUT" | wc -l)" -eq 2 ] && grep -q ":$(id -u):$(id -g):" <<<"$OUT" &&
	ok "/etc/passwd: the image's entries plus the user" || not_ok "/etc/passwd" "$OUT $ERR"

# the same image as bare squashfs and as a directory
run "$SIF" exec base.sqfs cat /etc/motd
[ "$RC" -eq 0 ] && [ "$OUT" = "image file" ] && ok "a bare squashfs image runs" || not_ok "squashfs image" "$RC $ERR"
run "$SIF" exec base cat /etc/motd
[ "$RC" -eq 0 ] && [ "$OUT" = "image file" ] && ok "a directory image runs" || not_ok "directory image" "$RC $ERR"

# ---- run and shell ----------------------------------------------------------
run "$SIF" run "$IMG" a "b c"
[ "$OUT" = "runscript args: a b c" ] && ok "run: the runscript with arguments" || not_ok "run" "$RC $OUT $ERR"
# run starts in the WorkingDir of the OCI config stored in the SIF (a JSON
# object named oci-config.json, as Apptainer stores it); exec keeps the cwd
python3 - base.sqfs wd.sif <<'PY'
import json, struct, sys
sq = open(sys.argv[1], "rb").read()
cfg = json.dumps({"config": {"WorkingDir": "/etc", "Cmd": ["sh"]}}).encode()
n, dataoff = 48, 4096 + 48 * 585
part = (dataoff + len(cfg) + 4095) // 4096 * 4096
def desc(dtype, did, group, off, size, pad, name, extra):
    return struct.pack("<iBIIIqqqqqqq128s384s", dtype, 1, did, 0xF0000000 | group, 0, off, size,
                       size + pad, 0, 0, 0, 0, name, extra)
d = desc(0x4006, 1, 1, dataoff, len(cfg), 0, b"oci-config.json", b"")
d += desc(0x4004, 2, 1, part, len(sq), part - dataoff - len(cfg), b"",
          struct.pack("<ii3s", 1, 2, b"02"))
d += b"\0" * (585 * (n - 2))
hdr = struct.pack("<32s10s3s3s16sqqqqqqqq", b"#!/usr/bin/env run-singularity\n", b"SIF_MAGIC\0",
                  b"01\0", b"02\0", b"\0" * 16, 0, 0, n - 2, n, 4096, 585 * n, dataoff,
                  part + len(sq) - dataoff)
out = bytearray(part + len(sq))
out[0:128] = hdr; out[4096:4096 + len(d)] = d
out[dataoff:dataoff + len(cfg)] = cfg; out[part:] = sq
open(sys.argv[2], "wb").write(out)
PY
run "$SIF" run wd.sif
run "$SIF" inspect --objects wd.sif
grep -q 'JSON.Generic' <<<"$OUT" || not_ok "the WorkingDir test image is not a valid SIF" "$OUT $ERR"
printf 'pwd\n' >"$TMP/pwd.sh"
run "$SIF" run -B "$TMP/pwd.sh:/.singularity.d/runscript" wd.sif
[ "$OUT" = /etc ] && ok "run starts in the image's WorkingDir" || not_ok "run WorkingDir" "$OUT $ERR"
run "$SIF" exec wd.sif pwd
[ "$OUT" = "$TMP" ] && ok "  ... exec keeps the caller's directory" || not_ok "exec cwd with WorkingDir" "$OUT $ERR"
run "$SIF" run --pwd / -B "$TMP/pwd.sh:/.singularity.d/runscript" wd.sif
[ "$OUT" = / ] && ok "  ... unless --pwd says otherwise" || not_ok "run --pwd" "$OUT $ERR"

run sh -c "echo 'echo shell:\$0; exit 3' | '$SIF' shell '$IMG'"
[ "$RC" -eq 3 ] && [ "$OUT" = "shell:/bin/sh" ] && ok "shell: the image's /bin/sh" || not_ok "shell" "$RC $OUT $ERR"

# ---- ownership of output: the problem Docker gave the archives ------------------
run "$SIF" exec -B "$TMP/data:/data" "$IMG" sh -c 'echo out >/data/result; cat /data/in'
[ "$OUT" = "host data" ] && [ "$(stat -c %u:%g data/result)" = "$(id -u):$(id -g)" ] &&
	ok "a file written to a bound directory is the user's on the host" || not_ok "bind ownership" "$OUT $ERR $(ls -ln data)"
run "$SIF" exec --fakeroot -B "$TMP/data:/data" "$IMG" sh -c 'id -u; echo out >/data/fr'
[ "$OUT" = 0 ] && [ "$(stat -c %u:%g data/fr)" = "$(id -u):$(id -g)" ] &&
	ok "--fakeroot: uid 0 inside, and its files are still the user's on the host" || not_ok "fakeroot ownership" "$OUT $ERR"
run "$SIF" exec -B "$TMP/data:/data:ro" "$IMG" sh -c 'echo x >/data/ro'
[ "$RC" -ne 0 ] && [ ! -e data/ro ] && ok "a :ro bind is read-only" || not_ok ":ro bind" "$RC"
mkdir -p data/sub
run "$SIF" exec -B "$TMP/data:/data:ro" -B "$TMP/data/sub:/data/sub" "$IMG" sh -c 'echo x >/data/sub/y'
[ "$RC" -eq 0 ] && ok "a bind inside a :ro bind keeps its own mode" || not_ok "nested rw in ro" "$ERR"
run "$SIF" exec "$IMG" sh -c 'echo x >/newfile'
[ "$RC" -ne 0 ] && ok "the root is read-only" || not_ok "root writable"
run "$SIF" exec --writable-tmpfs "$IMG" sh -c 'echo w >/newfile && cat /newfile'
[ "$OUT" = w ] && ok "--writable-tmpfs: the root takes writes" || not_ok "--writable-tmpfs" "$RC $ERR"
run "$SIF" exec "$IMG" cat /newfile
[ "$RC" -ne 0 ] && ok "  ... and they are gone at the next launch" || not_ok "writable-tmpfs persisted"

# ---- what the payload holds -----------------------------------------------------
run "$SIF" exec "$IMG" grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status
if grep -q 'CapEff:.0000000000000000' <<<"$OUT" && grep -q 'CapBnd:.0000000000000000' <<<"$OUT" &&
   grep -q 'CapPrm:.0000000000000000' <<<"$OUT" && grep -q 'NoNewPrivs:.1' <<<"$OUT" &&
   grep -q 'Seccomp:.2' <<<"$OUT"; then
	ok "no capabilities (effective, permitted, bounding), no_new_privs, seccomp filter"
else
	not_ok "capabilities" "$OUT $ERR"
fi
run "$SIF" exec --fakeroot "$IMG" grep -E '^(NoNewPrivs|CapEff):' /proc/self/status
grep -q 'NoNewPrivs:.1' <<<"$OUT" && ok "--fakeroot keeps no_new_privs" || not_ok "fakeroot nnp" "$OUT"
# the launcher's descriptors stay outside; the caller's (fd 5 here, like PMI's) pass
run bash -c "exec 5<'$TMP/data/in'; exec '$SIF' exec '$IMG' sh -c 'ls -l /proc/\$\$/fd'"
fds=$(sed -n 's/.* \([0-9][0-9]*\) -> \(.*\)$/\1 \2/p' <<<"$OUT")
bad=""
while read -r n target; do
	case $n in 0|1|2) continue ;; 5) [ "$target" = "$TMP/data/in" ] || bad="$bad $n:$target"; continue ;; esac
	# anything else must be a descriptor this test itself was given
	[ -e "/proc/$$/fd/$n" ] || bad="$bad $n:$target"
done <<<"$fds"
if grep -q "^5 $TMP/data/in$" <<<"$fds" && [ -z "$bad" ] && ! grep -qE 'fuse|\.sif|socket:|sif-session|anon_inode' <<<"$fds"; then
	ok "no launcher descriptor reaches the payload; the caller's fd 5 does"
else
	not_ok "descriptors" "$OUT" "unexpected:$bad"
fi
# a setuid-root program in the image raises nothing
run "$SIF" exec "$IMG" sh -c 'stat -c "%a %u" /bin/busybox.suid; /bin/busybox.suid id -u'
[ "$OUT" = "4755 65534
$(id -u)" ] && ok "a setuid-root binary in the image runs as the user" || not_ok "setuid" "$OUT $ERR"
# the launcher's own binary cannot be reached through /proc
cp "$SIF" mysif && chmod 755 mysif
if [ -w mysif ]; then
	run ./mysif exec "$IMG" sh -c 'cat /proc/$PPID/exe >/dev/null && echo readable; echo x >>/proc/$PPID/exe && echo writable; true'
	[ -z "$OUT" ] && ok "a user-owned launcher is neither readable nor writable through /proc/<launcher>/exe" ||
		not_ok "launcher exe reachable" "$OUT"
	cmp -s mysif "$SIF" && ok "  ... and is unchanged" || not_ok "launcher copy modified"
fi
# TIOCSTI on a terminal: refused by sif's filter (EPERM; the kernel's own refusal is EIO)
if [ -n "${SIF_PROBE:-}" ] && [ -x "$SIF_PROBE" ]; then
	out=$(script -qec "'$SIF' exec -B '$SIF_PROBE:/bin/sif-probe' '$IMG' /bin/sif-probe tiocsti" /dev/null </dev/null | tr -d '\r')
	[ "$out" = "refused: EPERM" ] && ok "TIOCSTI on a pty is refused inside" || not_ok "TIOCSTI" "$out"
else
	skip "SIF_PROBE (tests/helpers/sif-probe) not given: TIOCSTI not tested"
fi

# The image server stores a program whose start is read (an ELF header: execve and the dynamic
# loader read it first) into the page cache whole, ahead of its page faults; other files are
# read as asked.  Nothing runs /bin/prog (a copy of busybox, an inode of its own): reading its
# first 4 KiB makes all of it resident without another read, the same bytes as the host's copy.
# The kernel's own read-ahead of a 4 KiB read is 4 pages here, at most 32.  The image's files
# are the user's: mincore() tells the truth only about files the caller owns or may write
# (otherwise it says every page is resident).
if [ -n "${SIF_PROBE:-}" ] && [ -x "$SIF_PROBE" ]; then
	mkdir -p push/bin push/srv && cp "$BUSYBOX" push/bin/busybox && cp "$BUSYBOX" push/bin/prog &&
		ln -s busybox push/bin/sh && seq 1 200000 >push/srv/data   # 1.3 MB, not a program
	mksquashfs push push.sqfs -quiet -no-progress -noappend >/dev/null
	run "$SIF" exec --no-share -B "$SIF_PROBE:/bin/sif-probe" push.sqfs sh -c \
		'/bin/sif-probe resident /bin/prog 5000; busybox sha256sum /bin/prog
		 /bin/sif-probe resident /srv/data 300'
	set -- $(sed -n 1p <<<"$OUT")
	[ "$RC" -eq 0 ] && [ "${2:-0}" -gt 32 ] && [ "$2" = "${4:-}" ] &&
		ok "a program whose start is read is pushed into the page cache whole ($2 pages)" ||
		not_ok "program push" "$RC $OUT $ERR"
	[ "$(sed -n 2p <<<"$OUT" | cut -d' ' -f1)" = "$(sha256sum "$BUSYBOX" | cut -d' ' -f1)" ] &&
		ok "  ... with the image's bytes" || not_ok "program push: content" "$OUT"
	set -- $(sed -n 3p <<<"$OUT")
	[ "${2:-x}" -le 32 ] 2>/dev/null && [ "${4:-0}" -gt 32 ] &&
		ok "  ... and a data file is not ($2 of $4 pages after reading 4 KiB)" ||
		not_ok "data file pushed" "$OUT"
else
	skip "SIF_PROBE (tests/helpers/sif-probe) not given: pushing programs not tested"
fi

# ---- --fakeroot reaches nothing the user does not own ----------------------------
if [ -e /etc/shadow ] && ! [ -r /etc/shadow ]; then
	run "$SIF" exec --fakeroot -B /etc/shadow:/secret "$IMG" cat /secret
	[ "$RC" -ne 0 ] && [ -z "$OUT" ] && ok "--fakeroot: a bound root-only host file stays unreadable" ||
		not_ok "fakeroot read /etc/shadow" "$RC $OUT"
else
	skip "no root-only /etc/shadow here: fakeroot read check not run"
fi
run "$SIF" exec --fakeroot -B "$TMP/data:/data" "$IMG" chown 4242 /data/in
[ "$RC" -ne 0 ] && [ "$(stat -c %u data/in)" = "$(id -u)" ] &&
	ok "--fakeroot: a bound file cannot be chowned to another host uid" || not_ok "fakeroot chown" "$RC $ERR"

# ---- the container's view -----------------------------------------------------------
run "$SIF" exec -B "$TMP/data:/data" "$IMG" sh -c 'ls /etc/in && readlink /data'
[ "$OUT" = "/etc/in
/etc" ] && ok "-B dir:/data with /data -> /etc lands on the container's /etc" || not_ok "symlinked destination" "$OUT $ERR"
run "$SIF" exec --contain -B "$TMP/data:/up/x" "$IMG" sh -c 'cat /tmp/x/in'
[ "$OUT" = "host data" ] && [ ! -e /tmp/x/in ] &&
	ok "a destination through '../../..' stays inside the root" || not_ok "dotdot destination" "$RC $OUT $ERR"
mkdir -p hostdir
expect_fail "no mount point is made in a host directory bound inside a tmpfs of sif's" \
	"$SIF" exec --contain -B "$TMP/hostdir:/tmp/h" -B "$TMP/data:/tmp/h/new" "$IMG" true
[ ! -e hostdir/new ] && ok "  ... the host directory is untouched" || not_ok "mount point made on the host" "$(ls hostdir)"
run "$SIF" exec --contain "$IMG" sh -c 'ls /dev | tr "\n" " "; echo; ls -A /tmp | wc -l; ls -A ~ | wc -l'
grep -q 'null' <<<"$OUT" && ! grep -q 'sda\|vda\|fuse' <<<"$OUT" && [ "$(echo "$OUT" | tail -2 | tr '\n' ' ')" = "0 0 " ] &&
	ok "--contain: minimal /dev, empty /tmp and home" || not_ok "--contain" "$OUT $ERR"
mkdir -p "$HOME/sif-test-cwd" && cd "$HOME/sif-test-cwd" || exit 1
run "$SIF" exec "$IMG" pwd
[ "$OUT" = "$HOME/sif-test-cwd" ] && ok "the cwd (in \$HOME) is kept" || not_ok "cwd in home" "$OUT $ERR"
cd /usr/share || exit 1
run "$SIF" exec "$IMG" sh -c 'pwd; ls | grep -c .'
[ "$(head -1 <<<"$OUT")" = /usr/share ] && [ "$(tail -1 <<<"$OUT")" -gt 0 ] &&
	ok "a cwd the image lacks is bound" || not_ok "cwd bind" "$OUT $ERR"
cd "$TMP/data" 2>/dev/null; cd /etc || exit 1
run "$SIF" exec "$IMG" sh -c 'pwd; cat /etc/motd'
[ "$OUT" = "/
image file" ] && grep -q 'starting in /' <<<"$ERR" && ok "a cwd that is a directory of the image: start in / with a warning" ||
	not_ok "cwd over image dir" "$OUT $ERR"
cd "$TMP" || exit 1
run "$SIF" exec --pwd /etc "$IMG" pwd
[ "$OUT" = /etc ] && ok "--pwd" || not_ok "--pwd" "$OUT $ERR"
expect_fail "--pwd to a missing directory" "$SIF" exec --pwd /nowhere "$IMG" true
run "$SIF" exec --pid "$IMG" sh -c 'echo $$; ls /proc | grep -c "^[0-9]"'
[ "$(head -1 <<<"$OUT")" -le 3 ] && [ "$(tail -1 <<<"$OUT")" -le 4 ] &&
	ok "--pid: a new pid namespace and /proc" || not_ok "--pid" "$OUT $ERR"
run "$SIF" exec --net "$IMG" sh -c 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "'
[ "$OUT" = lo ] && ok "--net: loopback only" || not_ok "--net" "$OUT $ERR"
run "$SIF" exec --net "$IMG" ls /sys/class/net
[ "$OUT" = lo ] && ok "--net: /sys/class/net shows the new namespace" || not_ok "--net sysfs" "$OUT $ERR"
run "$SIF" exec --ipc "$IMG" readlink /proc/self/ns/ipc
[ -n "$OUT" ] && [ "$OUT" != "$(readlink /proc/self/ns/ipc)" ] && ok "--ipc: a new IPC namespace" || not_ok "--ipc" "$OUT"

# ---- environment ----------------------------------------------------------------------
export SHARED_VAR=host-value HOST_ONLY=host
run "$SIF" exec "$IMG" sh -c 'echo "$PATH|$IMAGE_ONLY|$SHARED_VAR|$HOST_ONLY|$COMPUTED"'
[ "$OUT" = "/bin:/usr/bin|from-image|host-value|host|by-sh-ok" ] &&
	ok "environment: the image's PATH, its defaults, the host's values win, shell scripts run" ||
	not_ok "environment" "$OUT $ERR"
run "$SIF" exec --cleanenv --env A=1 "$IMG" sh -c 'echo "${HOST_ONLY:-unset}|$A|$IMAGE_ONLY"'
[ "$OUT" = "unset|1|from-image" ] && ok "--cleanenv drops host variables; --env sets" || not_ok "--cleanenv" "$OUT $ERR"
printf 'B=2\n# comment\nexport C="three"\n' >envfile
run env SIF_ENV_SHARED_VAR=forced "$SIF" exec --env-file envfile "$IMG" sh -c 'echo "$B|$C|$SHARED_VAR"'
[ "$OUT" = "2|three|forced" ] && ok "--env-file and SIF_ENV_NAME" || not_ok "env-file" "$OUT $ERR"
run "$SIF" exec --env FORCED=cli "$IMG" sh -c 'echo "$FORCED"'
[ "$OUT" = cli ] && ok "--env wins over the image's shell scripts too" || not_ok "--env vs script" "$OUT $ERR"
cd "$HOME" || exit 1
run "$SIF" exec --pwd /etc "$IMG" sh -c 'echo "$PWD"'
[ "$OUT" = /etc ] && ok "PWD is where the payload starts" || not_ok "PWD" "$OUT"
cd "$TMP" || exit 1
unset SHARED_VAR HOST_ONLY

# ---- signals: each reaches the payload when sent to the launcher ----------------------------
sigtest() {     # sigtest SIGNAL
	local sig=$1 log=$TMP/sig-$1 pid i
	"$SIF" exec "$IMG" sh -c "trap 'echo got-$sig; exit 0' $sig; echo ready; while :; do sleep 0.1; done" >"$log" 2>&1 &
	pid=$!
	for i in $(seq 100); do grep -q ready "$log" && break; sleep 0.1; done
	kill -s "$sig" "$pid"
	for i in $(seq 100); do grep -q "got-$sig" "$log" && break; sleep 0.1; done
	wait "$pid"
	grep -q "got-$sig" "$log"
}
for sig in INT TERM HUP QUIT USR1 USR2 WINCH TSTP CONT; do
	sigtest $sig && ok "SIG$sig reaches the payload" || not_ok "SIG$sig not relayed" "$(cat "$TMP/sig-$sig")"
done
# ---- kill -9 of the launcher: nothing of the launch remains --------------------------------
# the holder and init are forks of sif: their names (not command lines) say what they are
launch_procs() {
	echo $(( $(pgrep -u "$(id -u)" -x sif-fuse | grep -c .) + $(pgrep -u "$(id -u)" -x sif-init | grep -c .) +
		$(pgrep -u "$(id -u)" -f 'sleep 1000' | grep -c .) ))
}
holders() { pgrep -u "$(id -u)" -x sif-fuse | grep -c .; }
# until the holders of earlier launches have lingered and ended
wait_quiet() { for i in $(seq 200); do [ "$(launch_procs)" -eq 0 ] && return 0; sleep 0.1; done; return 1; }
if [ -d /sys/fs/fuse/connections ] && [ -n "$(ls /sys/fs/fuse/connections 2>/dev/null)$(grep -s fusectl /proc/mounts)" ]; then
	for mode in "" "--pid"; do
		wait_quiet
		base_c=$(settled_conns)
		if [ -z "$mode" ]; then
			cmd='echo ready; exec sleep 1000'
		else
			cmd='sleep 1000 & echo ready; sleep 1000'   # a grandchild too
		fi
		"$SIF" exec $mode "$IMG" sh -c "$cmd" >"$TMP/k9" 2>&1 &
		pid=$!
		for i in $(seq 100); do grep -q ready "$TMP/k9" && break; sleep 0.1; done
		during_c=$(conns) during_p=$(launch_procs)
		kill -9 $pid
		wait $pid 2>/dev/null
		# back to what it was once the holder's linger ends
		for i in $(seq 200); do [ "$(conns)" -le "$base_c" ] && [ "$(launch_procs)" -eq 0 ] && break; sleep 0.1; done
		if [ "$during_c" -gt "$base_c" ] && [ "$during_p" -ge 2 ] && [ "$(conns)" -le "$base_c" ] &&
		   [ "$(launch_procs)" -eq 0 ]; then
			ok "kill -9 of the launcher${mode:+ ($mode)}: payload${mode:+, grandchild} and FUSE server gone, no FUSE connection left"
		else
			not_ok "kill -9${mode:+ $mode}" "connections $base_c/$during_c/$(conns) processes $during_p/$(launch_procs)" \
				"$(ps -u "$(id -u)" -o pid,ppid,comm,args)"
			pkill -9 -u "$(id -u)" -f 'sleep 1000'
		fi
	done
	wait_quiet
	base_c=$(settled_conns)
	"$SIF" exec "$IMG" true
	for i in $(seq 200); do [ "$(conns)" -le "$base_c" ] && [ "$(launch_procs)" -eq 0 ] && break; sleep 0.1; done
	[ "$(conns)" -le "$base_c" ] && [ "$(launch_procs)" -eq 0 ] &&
		ok "after a normal exit and the linger, no FUSE connection or process remains" || not_ok "fuse connection leak"

	# ---- mount sharing and the linger ----
	wait_quiet
	base_c=$(settled_conns)
	"$SIF" exec "$IMG" sh -c 'echo ready; sleep 1000' >"$TMP/first" 2>&1 &
	first=$!
	for i in $(seq 100); do grep -q ready "$TMP/first" && break; sleep 0.1; done
	run "$SIF" exec -v "$IMG" cat /etc/motd
	if grep -q 'share: joined the live mount' <<<"$ERR" && [ "$OUT" = "image file" ] &&
	   [ "$(holders)" -eq 1 ] && [ "$(conns)" -eq $((base_c + 1)) ]; then
		ok "a second launch of the same image joins the live mount: one FUSE server, one connection"
	else
		not_ok "sharing" "$OUT" "$(grep -E 'share|holder' <<<"$ERR")" "holders $(holders) conns $base_c/$(conns)"
	fi
	run "$SIF" exec -v --no-share "$IMG" true
	grep -q 'holder: pid' <<<"$ERR" && ! grep -q 'joined' <<<"$ERR" && ok "--no-share sets up its own" || not_ok "--no-share" "$ERR"
	run "$SIF" exec -v --pid "$IMG" sh -c 'echo $$; ls /proc | grep -c "^[0-9]"'
	grep -q joined <<<"$ERR" && [ "$(head -1 <<<"$OUT")" -le 3 ] && [ "$(tail -1 <<<"$OUT")" -le 4 ] &&
		ok "a --pid launch joins and still gets its own /proc" || not_ok "--pid joiner" "$OUT $ERR"
	run "$SIF" exec -v -B "$TMP/data:/data" "$IMG" true
	! grep -q 'joined' <<<"$ERR" && ok "other options (a bind) do not join" || not_ok "joined with other options" "$ERR"
	# --share-tag: launches meet under a name (MPI ranks); options must match
	"$SIF" exec --share-tag rank-test "$IMG" sh -c 'echo ready; sleep 3' >"$TMP/tag" 2>&1 &
	tagged=$!
	for i in $(seq 100); do grep -q ready "$TMP/tag" && break; sleep 0.1; done
	run "$SIF" exec -v --share-tag rank-test "$IMG" cat /etc/motd
	grep -q 'joined the live mount sif-[0-9]*-t-' <<<"$ERR" && [ "$OUT" = "image file" ] &&
		ok "--share-tag: a second launch with the tag joins" || not_ok "--share-tag join" "$OUT $ERR"
	expect_fail "--share-tag with other options: a clear error" "$SIF" exec --share-tag rank-test -B "$TMP/data:/data" "$IMG" true
	grep -q 'used other options' <<<"$ERR" && ok "  ... that names the cause" || not_ok "tag mismatch message" "$ERR"
	wait $tagged
	# A payload of another root squats a tag's name once its holder is gone
	# and answers with its own container's namespaces (they pass every
	# ownership check): the next launch under the tag must refuse that
	# root (its marker, /.sif/share, is of other options), not run in it.
	if [ -n "${SIF_PROBE:-}" ] && [ -x "$SIF_PROBE" ]; then
		"$SIF" exec --share-tag squat-victim "$IMG" sh -c 'echo ready; sleep 1' >"$TMP/victim" 2>&1 &
		victim=$!
		for i in $(seq 100); do grep -q ready "$TMP/victim" && break; sleep 0.1; done
		run "$SIF" exec -v --share-tag squat-victim "$IMG" true
		name=$(sed -n 's/.*joined the live mount \(sif-[0-9a-z-]*\).*/\1/p' <<<"$ERR")
		"$SIF" exec -B "$SIF_PROBE:/bin/sif-probe" -B "$TMP/data:/data" "$IMG" /bin/sif-probe squat "$name" \
			>"$TMP/squat" 2>&1 &
		squatter=$!
		wait $victim
		for i in $(seq 300); do grep -q squatting "$TMP/squat" && break; sleep 0.1; done
		run "$SIF" exec --share-tag squat-victim "$IMG" cat /etc/motd
		if [ -n "$name" ] && grep -q squatting "$TMP/squat" && [ "$RC" -eq 255 ] && [ -z "$OUT" ] &&
		   [ "$(grep -c '' <<<"$ERR")" -eq 1 ] && grep -q "is not this image's with these options" <<<"$ERR"; then
			ok "a payload squatting a share name with its own container's namespaces: the next launch refuses that root"
		else
			not_ok "share name squatted from a container" "name '$name'" "$(cat "$TMP/squat")" "exit $RC" "$OUT" "$ERR"
		fi
		kill $squatter 2>/dev/null
		wait $squatter 2>/dev/null
	else
		skip "SIF_PROBE (tests/helpers/sif-probe) not given: a squatted share name not tested"
	fi
	# the first launch dies by kill -9: a member that joined keeps working
	"$SIF" exec "$IMG" sh -c 'echo ready; sleep 2; cat /etc/motd' >"$TMP/second" 2>&1 &
	second=$!
	for i in $(seq 100); do grep -q ready "$TMP/second" && break; sleep 0.1; done
	kill -9 $first
	wait $first 2>/dev/null
	wait $second
	[ "$(tail -1 "$TMP/second")" = "image file" ] && ok "kill -9 of the launch that set the mount up: a joined one still reads the image" ||
		not_ok "joined launch after kill -9 of the first" "$(cat "$TMP/second")"
	wait_quiet
	"$SIF" exec "$IMG" true
	sleep 1
	[ "$(holders)" -eq 1 ] && ok "the holder lingers after the last launch" || not_ok "no linger" "$(holders)"
	run "$SIF" exec -v "$IMG" true
	grep -q 'joined' <<<"$ERR" && ok "  ... and the next launch joins it" || not_ok "no join during linger" "$ERR"
	wait_quiet && [ "$(conns)" -le "$base_c" ] && ok "  ... and then it ends: no process, no FUSE connection" ||
		not_ok "linger did not end" "$(ps -u "$(id -u)" -o pid,comm)"
else
	skip "/sys/fs/fuse/connections is not mounted (fusectl): leftover FUSE connections not checked"
fi

# ---- many at once -----------------------------------------------------------------------
fails=0
for i in $(seq 100); do "$SIF" exec "$IMG" true & done
for job in $(jobs -p); do wait "$job" || fails=$((fails + 1)); done
[ "$fails" -eq 0 ] && ok "100 concurrent launches of one image all succeed" || not_ok "$fails of 100 concurrent launches failed"

# ---- Apptainer's file, with a static busybox bound in --------------------------------
if [ -f "${SIF_FIXTURES:-}/apptainer-sif/one-group.sif" ]; then
	run "$SIF" exec -B "$BUSYBOX:/bin/busybox" "$SIF_FIXTURES/apptainer-sif/one-group.sif" /bin/busybox cat /hello.txt
	[ "$RC" -eq 0 ] && [ -n "$OUT" ] && grep -q 'built for 386' <<<"$ERR" &&
		ok "Apptainer's one-group.sif runs: /hello.txt says '$OUT' (with the 386 warning)" || not_ok "one-group.sif" "$RC $OUT $ERR"
else
	skip "../shared/fixtures absent: Apptainer's one-group.sif not run"
fi

# ---- site policy (sif.conf) -----------------------------------------------------------
CONF=${SIF_SYSCONFDIR:-}/sif.conf
if [ -n "${SIF_SYSCONFDIR:-}" ] && [ -w "$CONF" ]; then
	cp "$CONF" "$TMP/sif.conf.orig"
	trap 'cp "$TMP/sif.conf.orig" "$CONF"; rm -rf "$TMP"' EXIT
	policy() { printf '%s\n' "$@" >"$CONF"; }
	policy "# a comment" "mount hom = yes"
	expect_fail "sif.conf: an unknown key stops the launch" "$SIF" exec "$IMG" true
	grep -q "sif.conf:2: unknown key 'mount hom'" <<<"$ERR" && ok "  ... naming the file and line" || not_ok "unknown key message" "$ERR"
	policy "allow user binds = maybe"
	expect_fail "sif.conf: a bad value stops the launch" "$SIF" exec "$IMG" true
	policy "allow user binds = no"
	expect_fail "sif.conf: user binds disabled: -B refused" "$SIF" exec -B "$TMP/data:/data" "$IMG" true
	SIF_BIND="$TMP/data:/data" expect_fail "  ... and SIF_BIND too" "$SIF" exec "$IMG" true
	mkdir -p sitedata && echo site >sitedata/f
	policy "bind path = $TMP/sitedata:/site" "bind path = /no/such/site/path" "allow user binds = no"
	run "$SIF" exec "$IMG" cat /site/f
	[ "$OUT" = site ] && ok "sif.conf: bind path is bound for everyone; a missing one is left out" || not_ok "bind path" "$RC $OUT $ERR"
	policy "allowed bind source = $TMP/data"
	run "$SIF" exec -B "$TMP/data/sub:/d" "$IMG" true
	[ "$RC" -eq 0 ] && ok "sif.conf: a bind below an allowed source" || not_ok "allowed source" "$ERR"
	expect_fail "sif.conf: a bind outside the allowed sources is refused" "$SIF" exec -B "$TMP/sitedata:/d" "$IMG" true
	mkdir -p imgs && cp "$IMG" imgs/ok.sif
	policy "allowed image path = $TMP/imgs"
	run "$SIF" exec imgs/ok.sif true
	[ "$RC" -eq 0 ] && ok "sif.conf: an image in an allowed location runs" || not_ok "allowed image" "$ERR"
	ln -sf "$IMG" imgs/link.sif
	expect_fail "sif.conf: an image elsewhere is refused (also through a link)" "$SIF" exec imgs/link.sif true
	policy "allow directory images = no"
	expect_fail "sif.conf: directory images disabled" "$SIF" exec base true
	policy "mount home = no" "mount tmp = no"
	marker=$(mktemp /tmp/sif-marker.XXXXXX)
	run "$SIF" exec "$IMG" sh -c "test -d '$HOME' && echo home; test -e '$marker' && echo tmp; echo done"
	rm -f "$marker"
	[ "$OUT" = done ] && ok "sif.conf: mount home = no, mount tmp = no" || not_ok "mount defaults" "$OUT $ERR"
	run "$SIF" exec --home "$HOME" "$IMG" sh -c "test -d '$HOME' && echo home"
	[ "$OUT" = home ] && ok "  ... --home still binds it (a default, not a ban)" || not_ok "--home over mount home = no" "$OUT $ERR"
	policy "allow user binds = no"
	expect_fail "sif.conf: with user binds disabled, --home SRC is refused too" "$SIF" exec --home "$TMP/data:/h" "$IMG" true
	policy "mount linger = 0"
	wait_quiet
	"$SIF" exec "$IMG" true
	for i in $(seq 20); do pgrep -u "$(id -u)" -x sif-fuse >/dev/null || break; sleep 0.1; done
	! pgrep -u "$(id -u)" -x sif-fuse >/dev/null && ok "sif.conf: mount linger = 0: the holder ends with the launch" ||
		not_ok "linger 0" "$(ps -u "$(id -u)" -o pid,comm)"
	policy "mount linger = soon"
	expect_fail "sif.conf: a bad linger value" "$SIF" exec "$IMG" true
	policy "prefetch profiles = no"
	SIF_CACHEDIR=$TMP/cache-off run "$SIF" exec --no-share "$IMG" true
	wait_quiet
	[ "$RC" -eq 0 ] && [ -z "$(ls "$TMP/cache-off/prefetch" 2>/dev/null)" ] &&
		ok "sif.conf: prefetch profiles = no: no profile is kept" ||
		not_ok "prefetch profiles = no" "$RC $ERR $(ls -R "$TMP/cache-off" 2>&1)"
	cp "$TMP/sif.conf.orig" "$CONF"
else
	skip "SIF_SYSCONFDIR not given or its sif.conf not writable by the test user: site policy not tested"
fi

# ---- prefetch profiles ------------------------------------------------------------------------
# A start of "sh" that reads /p/noise (4 MiB of random bytes: 4 MiB of the image, between 16 MiB
# of others before and after it, out of the reach of the disk's read-ahead from either end)
# leaves a profile; with the image then evicted from the page cache (a file of the user's own,
# so that mincore tells the truth), a start of "sh" that reads nothing of it brings those 4 MiB
# back into the page cache, and the same start without a profile does not.
mkroot pf && mkdir -p pf/p && head -c 4194304 /dev/urandom >pf/p/noise &&
	head -c 16777216 /dev/urandom >pf/p/a && head -c 16777216 /dev/urandom >pf/p/z
mksquashfs pf pf.sqfs -quiet -no-progress -noappend >/dev/null
evict() {   # written back first: dirty pages are not dropped
	python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)' "$1"
}
# resident IMAGE PROFILE: bytes in the page cache of the profile's longest run of chunks (of the
# squashfs, wherever it lies in IMAGE)
resident() {
	python3 - "$1" "$2" <<'PY'
import ctypes, os, sys
runs = [tuple(map(int, l.split())) for l in open(sys.argv[2]).read().splitlines()[1:]]
start, n = max(runs, key=lambda r: r[1])
data = open(sys.argv[1], "rb").read(1 << 20)
base = next(o for o in range(0, len(data), 4096) if data[o:o + 4] == b"hsqs")
fd = os.open(sys.argv[1], os.O_RDONLY)
size = os.fstat(fd).st_size
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
addr = libc.mmap(None, size, 1, 1, fd, 0)            # PROT_READ, MAP_SHARED
pages = (size + 4095) // 4096
vec = (ctypes.c_ubyte * pages)()
assert libc.mincore(ctypes.c_void_p(addr), ctypes.c_size_t(size), vec) == 0
first, last = (base + start * 65536) // 4096, min((base + (start + n) * 65536) // 4096, pages)
print(4096 * sum(vec[i] & 1 for i in range(first, last)))
PY
}
chunks() { awk 'NR > 1 { n += $2 } END { print n + 0 }' "$1"; }
export SIF_CACHEDIR=$TMP/cache-pf   # this image's profiles only
wait_quiet
run "$SIF" exec --no-share pf.sqfs sh -c 'cat /p/noise >/dev/null'
wait_quiet
prof=$(ls "$TMP"/cache-pf/prefetch/* 2>/dev/null)
if [ "$RC" -eq 0 ] && [ -n "$prof" ] && [ "$(wc -l <<<"$prof")" -eq 1 ] &&
	[ "$(head -1 "$prof")" = "sif-prefetch 1" ] && [ "$(chunks "$prof")" -ge 64 ]; then
	ok "a start leaves the image's prefetch profile ($(chunks "$prof") chunks of 64 KiB)"
else
	not_ok "prefetch profile written" "$RC $ERR $(ls -la "$TMP"/cache-pf/prefetch 2>&1)"
fi
"$SIF" build pf.sif squashfs:pf.sqfs >/dev/null 2>&1 || not_ok "build pf.sif"
if [ -n "$prof" ] && command -v python3 >/dev/null; then
	for im in pf.sqfs pf.sif; do   # the same squashfs, the same profile; in the SIF at an offset
		evict $im
		before_with=$(resident $im "$prof")
		run "$SIF" exec --no-share $im sh -c 'sleep 0.5'
		res_with=$(resident $im "$prof") rc_with=$RC
		wait_quiet
		evict $im
		before_without=$(resident $im "$prof")
		SIF_CACHEDIR=$TMP/cache-none run "$SIF" exec --no-share $im sh -c 'sleep 0.5'
		res_without=$(resident $im "$prof")
		wait_quiet
		if [ "$before_with" -ge 1048576 ] || [ "$before_without" -ge 1048576 ]; then
			skip "$im stayed in the page cache ($before_with, $before_without bytes): replay not checked"
		elif [ "$rc_with" -eq 0 ] && [ "$res_with" -ge 3145728 ] && [ "$res_without" -lt 1048576 ]; then
			ok "  ... the next start of that program asks the disk for it ($im: $res_with of its 4 MiB in the page cache; $res_without without the profile)"
		else
			not_ok "prefetch profile replayed ($im)" "rc $rc_with: $res_with bytes with, $res_without without"
		fi
	done
else
	skip "python3 missing: the replay of a prefetch profile is not checked"
fi
# a damaged profile is not used, and the next server writes a good one; a link in its place is
# not written through
if [ -n "$prof" ]; then
	# a good first line (a chunk of /p/z, which nobody reads), then a bad one: all of it refused
	n=$(( $(stat -c %s pf.sqfs) / 65536 ))
	z=$(( n - 20 ))
	printf 'sif-prefetch 1\n%s 1\n0 x\n' $z >"$prof"
	run "$SIF" exec --no-share pf.sqfs sh -c 'cat /p/noise >/dev/null'
	wait_quiet
	[ "$RC" -eq 0 ] && [ "$(head -1 "$prof")" = "sif-prefetch 1" ] && [ "$(chunks "$prof")" -ge 64 ] &&
		awk -v n="$n" -v z="$z" 'NR > 1 && (!($1 ~ /^[0-9]+$/ && $2 ~ /^[0-9]+$/ && $2 > 0 && $1 + $2 <= n + 1) || ($1 <= z && z < $1 + $2)) { bad = 1 } END { exit bad }' "$prof" &&
		ok "  ... a damaged profile is not used, and is made again" ||
		not_ok "damaged prefetch profile" "$RC $ERR $(cat "$prof")"
	rm -f "$prof" && ln -s "$TMP/pf-target" "$prof"
	run "$SIF" exec --no-share pf.sqfs sh -c 'cat /p/noise >/dev/null'
	wait_quiet
	[ "$RC" -eq 0 ] && [ ! -e "$TMP/pf-target" ] && [ -L "$prof" ] &&
		ok "  ... and a symbolic link in its place is not followed" ||
		not_ok "prefetch profile through a link" "$RC $ERR $(ls -la "$TMP/pf-target" 2>&1)"
	rm -f "$prof"
fi
export SIF_CACHEDIR=$TMP/cache

# ---- a hostile image: what libsquashfuse would take on trust is checked --------------------------
# Tables left uncompressed (-noI -noF -noX) so that they can be patched: the entry "f" of /d
# claims a 60000-byte name (libsquashfuse copies what its block holds of it, here the rest of the
# listing, into a 257-byte buffer in readdir and lookup), and the fragment index of /small lies
# past the fragment table (an out-of-bounds read).  /big has 4 compressed data blocks: the
# second's bytes are damaged, the last claims 16 MiB.
mkroot hostile
mkdir -p hostile/d && echo f >hostile/d/f && echo small >hostile/small && echo intact >hostile/ok
# 4 blocks of 128 KiB (the last one short; no fragment), with an ELF header: its first read
# hands it to the server's pusher, which meets the damage too
{ printf '\177ELF\n'; seq 1 70000; } >hostile/big
for i in $(seq 100 300); do : >hostile/d/g$i; done
mksquashfs hostile hostile.sqfs -quiet -no-progress -noappend -all-root -noI -noF -noX >/dev/null
damage() {   # damage IMAGE AT: AT (middle, start) of /big's 2nd block
python3 - "$1" "$2" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
root, = struct.unpack_from("<Q", b, 32)
itab, dtab = struct.unpack_from("<QQ", b, 64)
def md(table, ref):   # an uncompressed metadata block: 2 bytes of header, then the data
    return table + (ref >> 16) + 2 + (ref & 0xffff)
def listing(ref):     # name -> (inode ref, position of the entry) of a (small) directory
    i = md(itab, ref)
    assert struct.unpack_from("<H", b, i)[0] == 1
    sb, _, size, off = struct.unpack_from("<IIHH", b, i + 16)
    pos = md(dtab, sb << 16 | off); end = pos + size - 3; out = {}
    while pos < end:
        n, hsb, _ = struct.unpack_from("<III", b, pos); pos += 12
        for _ in range(n + 1):
            eoff, _, _, sz = struct.unpack_from("<HhHH", b, pos)
            out[b[pos + 8:pos + 9 + sz].decode()] = (hsb << 16 | eoff, pos); pos += 9 + sz
    return out
top = listing(root)
struct.pack_into("<H", b, listing(top["d"][0])["f"][1] + 6, 59999)   # the name's size - 1
struct.pack_into("<I", b, md(itab, top["small"][0]) + 20, 1000)       # the fragment index
big = md(itab, top["big"][0])
start, = struct.unpack_from("<I", b, big + 16)
frag, _, _, *sizes = struct.unpack_from("<IIIIIII", b, big + 20)
assert frag == 0xffffffff and all(n >> 24 == 0 for n in sizes)            # 4 blocks, compressed
at = start + sizes[0] + (sizes[1] // 2 if sys.argv[2] == "middle" else 0)
b[at:at + 64] = b"\xa5" * 64                                              # inside the 2nd block
struct.pack_into("<I", b, big + 44, 0xfffffe)                             # the 4th: 16 MiB
open(sys.argv[1], "wb").write(b)
PY
}
damage hostile.sqfs middle
wait_quiet
run "$SIF" exec hostile.sqfs sh -c 'echo "ls $(ls /d | wc -l)"; cat /d/f; echo "cat $?"; cat /small; echo "frag $?"
	echo "head $(head -n 4 /big | tail -n 3 | tr "\n" " ")"; cat /big >/dev/null; echo "big $?"
	for k in 32 64 96; do echo "block $k $(dd if=/big bs=4096 skip=$k count=1 2>/dev/null | wc -c)"; done
	cat /ok'
grep -q '^ls 0$' <<<"$OUT" && grep -q '^cat 1$' <<<"$OUT" && grep -q '/d/f.*Input/output error' <<<"$ERR" &&
	ok "a hostile image: an entry claiming a 60000-byte name is an I/O error" || not_ok "hostile name" "$RC $OUT $ERR"
grep -q '^frag 1$' <<<"$OUT" && grep -q 'Input/output error' <<<"$ERR" &&
	ok "  ... and a fragment past the fragment table too" || not_ok "hostile fragment" "$RC $OUT $ERR"
grep -q '^head 1 2 3 $' <<<"$OUT" && grep -q '^big 1$' <<<"$OUT" && grep -q '^block 32 0$' <<<"$OUT" &&
	grep -q '^block 64 4096$' <<<"$OUT" && grep -q '^block 96 0$' <<<"$OUT" &&
	ok "  ... and damaged data blocks: the intact ones read, the others are I/O errors" ||
	not_ok "hostile data blocks" "$RC $OUT $ERR"
[ "$RC" -eq 0 ] && [ "$(tail -1 <<<"$OUT")" = intact ] && wait_quiet &&
	ok "  ... the image server survives (the rest still reads) and ends after the linger" ||
	not_ok "hostile image: server" "$RC $OUT $ERR $(ps -u "$(id -u)" -o pid,comm)"
[ "$(grep -c "^sif: warning: the image's squashfs filesystem is damaged" <<<"$ERR")" -eq 1 ] &&
	ok "  ... and the launcher says once that the image is damaged (the server's warning, relayed)" ||
	not_ok "hostile image: the server's warning" "$ERR"
# zstd blocks go through the server's own zstd decompressor (a context kept per thread): a block
# whose frame is damaged (zstd frames carry no checksum here: damage at its start) is an I/O error
mksquashfs hostile hostile-zstd.sqfs -quiet -no-progress -noappend -all-root -noI -noF -noX \
	-comp zstd >/dev/null && damage hostile-zstd.sqfs start
wait_quiet
run "$SIF" exec hostile-zstd.sqfs sh -c 'cat /big >/dev/null; echo "big $?"
	for k in 0 32 64; do echo "block $k $(dd if=/big bs=4096 skip=$k count=1 2>/dev/null | wc -c)"; done
	cat /ok'
grep -q '^big 1$' <<<"$OUT" && grep -q '^block 0 4096$' <<<"$OUT" && grep -q '^block 32 0$' <<<"$OUT" &&
	grep -q '^block 64 4096$' <<<"$OUT" && [ "$(tail -1 <<<"$OUT")" = intact ] &&
	[ "$(grep -c "^sif: warning: the image's squashfs filesystem is damaged" <<<"$ERR")" -eq 1 ] &&
	ok "  ... the same with zstd blocks: the intact ones read, the damaged one is an I/O error" ||
	not_ok "hostile image, zstd" "$RC $OUT $ERR"

# ---- tracing ---------------------------------------------------------------------------------
run "$SIF" exec -v --no-share "$IMG" true
grep -q 'debug: namespace: new user and mount namespace' <<<"$ERR" && grep -q 'debug: mount: fuse.sif' <<<"$ERR" &&
	ok "-v traces the namespace and mount steps" || not_ok "-v" "$ERR"

done_testing
