#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Building a SIF from a real OCI image (sif build OUT.sif oci:DIR:TAG, and
# from a docker-archive) side by side with its peers, all making a squashfs
# of the same 3-layer Debian 12 image (minbase + python3 + python3-numpy,
# gzip layers) with the same compressor (gzip, level 9), block size (128 KiB)
# and CPU count:
#   (a) mksquashfs of the already-extracted tree: the baseline of every ratio
#   (b) umoci unpack (as root) + mksquashfs of the bundle's rootfs
#   (c) Charliecloud: ch-image pull from a loopback docker-registry (HTTPS
#       with a CA this script makes) + ch-convert -o squash, unprivileged
#   (d) sif build from oci:DIR:bench and from docker-archive:FILE, unprivileged
# Prints each command line, every run's wall time (the rows interleaved, N
# rounds), the best, CPU time and peak RSS (GNU time's %U+%S and %M), the
# ratios to (a) and the targets (sif build <= 1.0x (a), peak RSS <= 512 MiB),
# measured, never asserted: exit status 0 whether they are met or not, and
# whether sif build works yet or not.
#
# Usage: SIF=/path/to/sif bench/build.sh     (as root)
# Environment:
#   SIF               sif to measure (default: sif on PATH; none: no sif rows)
#   SIF_BENCH_CACHE   cache (default /var/tmp/sif-bench, or $SIF_BENCH_DIR);
#                     this script keeps its files in $SIF_BENCH_CACHE/build
#   SIF_BENCH_USER    unprivileged user for (c) and (d) (default siftest,
#                     created when missing)
#   SIF_BENCH_RUNS    runs per row, the best counts (default 3)
#   SIF_BENCH_ROWS    rows to run besides (a), the baseline (default "b c d p";
#                     p: sif pull cold and warm, skopeo copy + sif build;
#                     l: Charliecloud and sif pull through a slower link)
#   SIF_BENCH_LINK_MBIT  the link of rows l, in Mbit/s (default 250)
#   SIF_BENCH_MIRROR  Debian mirror (default: the bookworm one in
#                     /etc/apt/sources.list*, else http://deb.debian.org/debian)
set -euo pipefail

BASE=${SIF_BENCH_CACHE:-${SIF_BENCH_DIR:-/var/tmp/sif-bench}}
B=$BASE/build
RUNS=${SIF_BENCH_RUNS:-3}
LINK_MBIT=${SIF_BENCH_LINK_MBIT:-250}
ROWS=" ${SIF_BENCH_ROWS:-b c d p} "
BUSER=${SIF_BENCH_USER:-siftest}
UPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
PY=/usr/bin/python3   # Debian's, whatever pyenv & co. put first in PATH
export PATH=$UPATH LC_ALL=C
BLOCK=131072 LEVEL=9
NPROC=$(nproc)

say() { printf '%s\n' "$*"; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (debootstrap, umoci unpack, the registry): SIF=/path/to/sif $0"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "SIF_BENCH_RUNS must be a positive number"
[[ $LINK_MBIT =~ ^[1-9][0-9]*$ ]] || die "SIF_BENCH_LINK_MBIT must be a positive number"

# --- tools ----------------------------------------------------------------------
SIF=${SIF:-$(command -v sif || true)}
if [ -n "$SIF" ]; then
	[ -x "$SIF" ] || die "SIF=$SIF is not executable"
	SIF=$(readlink -f "$SIF")
fi
if ! command -v docker-registry >/dev/null; then
	say "bench: apt-get install -y docker-registry (the loopback registry for ch-image)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker-registry >/dev/null ||
		die "could not install docker-registry"
	# the package's own service (port 5000) is not used: this script runs its own
	systemctl disable --now docker-registry >/dev/null 2>&1 || true
fi
missing=()
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$1 (apt-get install $2)"); }
need umoci umoci
need skopeo skopeo
need mksquashfs squashfs-tools
need debootstrap debootstrap
need openssl openssl
need curl curl
need setpriv util-linux
need ch-image charliecloud-builders
need ch-convert charliecloud-builders
[ -x /usr/bin/time ] || missing+=("/usr/bin/time (apt-get install time)")
$PY -c 'import lark, requests' 2>/dev/null || missing+=("ch-image's modules (apt-get install python3-lark python3-requests)")
[ ${#missing[@]} -eq 0 ] || die "missing: ${missing[*]}"
case "$B$SIF" in *[[:space:]\'\"\\]*) die "SIF_BENCH_CACHE and SIF must not contain blanks or quotes";; esac

# --- the unprivileged user --------------------------------------------------------
if ! getent passwd "$BUSER" >/dev/null; then
	say "bench: useradd -m $BUSER"
	useradd -m "$BUSER"
fi
BUID=$(id -u "$BUSER") BGID=$(id -g "$BUSER") BHOME=$(getent passwd "$BUSER" | cut -d: -f6)
[ -d "$BHOME" ] || die "$BUSER has no home directory $BHOME (useradd -m)"
# setpriv and env exec in place; the user's environment is a clean one
AS=(setpriv "--reuid=$BUID" "--regid=$BGID" --init-groups
	env -i "HOME=$BHOME" "USER=$BUSER" "LOGNAME=$BUSER" "PATH=$UPATH" LC_ALL=C)
if [ -c /dev/fuse ] && [ "$(stat -c %a /dev/fuse)" != 666 ]; then
	say "bench: chmod 666 /dev/fuse (users need it for FUSE, as Debian's udev sets it)"
	chmod 666 /dev/fuse
fi

# --- cleanup (trap) -----------------------------------------------------------------
MOUNTS=() WORK='' REG_PID='' LINK_PID=''
cleanup() {
	local m
	for m in "${MOUNTS[@]}"; do mountpoint -q "$m" && umount -l "$m"; done
	if [ -n "$REG_PID" ]; then kill "$REG_PID" 2>/dev/null || true; wait "$REG_PID" 2>/dev/null || true; fi
	if [ -n "$LINK_PID" ]; then kill "$LINK_PID" 2>/dev/null || true; wait "$LINK_PID" 2>/dev/null || true; fi
	[ -z "$WORK" ] || rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the image (cached) -------------------------------------------------------------
mirror() {  # the first bookworm (not -security/-updates) Debian URI in apt's sources
	$PY - <<'PY'
import glob, re
def entries():
    for f in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
        try: lines = open(f).read().splitlines()
        except OSError: continue
        for l in lines:
            l = re.sub(r"\[[^]]*\]", " ", l.split("#")[0]).split()
            if len(l) >= 3 and l[0] == "deb": yield [l[1]], [l[2]]
    for f in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        try: text = open(f).read()
        except OSError: continue
        for st in re.split(r"\n\s*\n", text):
            d = {}
            for l in st.splitlines():
                if ":" in l and not l.startswith(("#", " ")):
                    k, v = l.split(":", 1); d[k.strip().lower()] = v.split()
            if "deb" in d.get("types", []): yield d.get("uris", []), d.get("suites", [])
for uris, suites in entries():
    if "bookworm" in suites:
        print(uris[0]); break
else:
    print("http://deb.debian.org/debian")
PY
}
MIRROR=${SIF_BENCH_MIRROR:-$(mirror)}
OCI=$B/oci DARCH=$B/bench-docker.tar TREE=$B/tree/rootfs
mkdir -p "$B"
chmod 755 "$BASE" "$B"

# step CMD...: one step of making the image, printed, its output in the log
step() {
	say "  \$ $*"
	printf '$ %s\n' "$*" >>"$B/image.log"
	"$@" >>"$B/image.log" 2>&1 || die "failed: $* (see $B/image.log)"
}
# chroot_apt ROOTFS PKG...: apt-get install in the rootfs, with /proc and a
# tmpfs /dev of its own (nothing of the host's /dev in reach of a later rm)
chroot_apt() {
	local r=$1 n name maj min
	shift
	mount -t proc proc "$r/proc" || return
	MOUNTS+=("$r/proc")
	mount -t tmpfs -o mode=755,size=1m dev "$r/dev" || return
	MOUNTS+=("$r/dev")
	for n in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
		IFS=: read -r name maj min <<<"$n"
		mknod -m 666 "$r/dev/$name" c "$maj" "$min" || return
	done
	# the debs already fetched: apt-get takes them when they match, downloads the rest
	find "$B/debs" -name '*.deb' -exec cp -t "$r/var/cache/apt/archives/" {} + || return
	chroot "$r" env -i PATH=$UPATH LC_ALL=C DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends "$@" || return
	cp -n "$r"/var/cache/apt/archives/*.deb "$B/debs/" || return   # for the next time
	chroot "$r" apt-get clean || return
	umount "$r/dev" "$r/proc" || return
	MOUNTS=()
}

if [ ! -e "$B/image.done" ]; then
	say "image: making the 3-layer OCI image $OCI:bench (once; log: $B/image.log)"
	rm -rf --one-file-system "$OCI" "$B/oci.tmp" "$B/bundle"
	: >"$B/image.log"
	mkdir -p "$B/debs"
	if [ -d "$BASE/rootfs/var/cache/apt/archives" ]; then
		# exec.sh's debootstrap (minbase + python3-numpy) left its debs there
		cp -n "$BASE"/rootfs/var/cache/apt/archives/*.deb "$B/debs/" 2>/dev/null || true
	fi
	T=$B/oci.tmp:bench R=$B/bundle/rootfs
	step umoci init --layout "$B/oci.tmp"
	step umoci new --image "$T"
	step umoci unpack --image "$T" "$B/bundle"
	# --cache-dir: debs from $B/debs when they match, else from the mirror
	step debootstrap --variant=minbase --cache-dir="$B/debs" bookworm "$R" "$MIRROR"
	step find "$R/var/cache/apt/archives" -maxdepth 1 -name '*.deb' -delete
	step umoci repack --refresh-bundle --image "$T" \
		--history.created_by "debootstrap --variant=minbase bookworm $MIRROR" "$B/bundle"
	step chroot_apt "$R" python3
	step umoci repack --refresh-bundle --image "$T" \
		--history.created_by "apt-get install --no-install-recommends python3" "$B/bundle"
	step chroot_apt "$R" python3-numpy
	step umoci repack --image "$T" \
		--history.created_by "apt-get install --no-install-recommends python3-numpy" "$B/bundle"
	step umoci config --image "$T" --config.cmd /usr/bin/python3 \
		--config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
	step umoci gc --layout "$B/oci.tmp"
	rm -rf --one-file-system "$B/bundle"
	chmod -R a+rX "$B/oci.tmp"   # the unprivileged user reads it
	mv "$B/oci.tmp" "$OCI"
	rm -f "$DARCH" "$B/tree.done"
	touch "$B/image.done"
fi
if [ ! -s "$DARCH" ]; then
	say "image: skopeo copy oci:$OCI:bench docker-archive:$DARCH:bench:latest"
	rm -f "$DARCH.tmp"
	skopeo copy -q "oci:$OCI:bench" "docker-archive:$DARCH.tmp:bench:latest" >/dev/null
	chmod 644 "$DARCH.tmp"
	mv "$DARCH.tmp" "$DARCH"
fi
if [ ! -e "$B/tree.done" ]; then
	say "image: umoci unpack --image $OCI:bench $B/tree (the extracted tree of (a))"
	rm -rf --one-file-system "$B/tree"
	umoci unpack --image "$OCI:bench" "$B/tree" >/dev/null
	touch "$B/tree.done"
fi

# --- work dir, the registry -----------------------------------------------------------
WORK=$(mktemp -d "$B/run.XXXXXX")
chmod 755 "$WORK"
U=$WORK/u   # the unprivileged user's: outputs, ch-image storage, its time files
mkdir -p "$U" "$WORK/pki" "$WORK/certs" "$WORK/shim"
chown "$BUID:$BGID" "$U"

# a CA and a server certificate for 127.0.0.1 signed by it: ch-image speaks only
# HTTPS and (through python3-requests) takes the CA from $REQUESTS_CA_BUNDLE
P=$WORK/pki
{
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=sif-bench-ca \
		-keyout "$P/ca.key" -out "$P/ca.crt" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
	openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$P/server.key" -out "$P/server.csr"
	printf '%s\n' basicConstraints=CA:FALSE keyUsage=critical,digitalSignature,keyEncipherment \
		extendedKeyUsage=serverAuth subjectAltName=IP:127.0.0.1,DNS:localhost \
		subjectKeyIdentifier=hash authorityKeyIdentifier=keyid >"$P/server.ext"
	openssl x509 -req -in "$P/server.csr" -CA "$P/ca.crt" -CAkey "$P/ca.key" -CAcreateserial \
		-days 2 -extfile "$P/server.ext" -out "$P/server.crt"
} >"$P/openssl.log" 2>&1 || die "openssl failed: $(tail -3 "$P/openssl.log")"
chmod 644 "$P/ca.crt"
cp "$P/ca.crt" "$WORK/certs/ca.crt"   # skopeo's --dest-cert-dir: *.crt are CAs
PORT=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$WORK/registry.yml" <<YML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $WORK/registry
http:
  addr: 127.0.0.1:$PORT
  tls:
    certificate: $P/server.crt
    key: $P/server.key
YML
docker-registry serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
REG_PID=$!
for _ in $(seq 100); do
	curl -fsS --cacert "$P/ca.crt" "https://127.0.0.1:$PORT/v2/" >/dev/null 2>&1 && break
	kill -0 "$REG_PID" 2>/dev/null || die "docker-registry exited: $(tail -3 "$WORK/registry.log")"
	sleep 0.1
done
REF=127.0.0.1:$PORT/bench:latest
say "registry: docker-registry serve $WORK/registry.yml (https://127.0.0.1:$PORT, CA $P/ca.crt)"
say "registry: skopeo copy --dest-cert-dir $WORK/certs oci:$OCI:bench docker://$REF"
skopeo copy -q --dest-cert-dir "$WORK/certs" "oci:$OCI:bench" "docker://$REF" >/dev/null ||
	die "skopeo copy to the registry failed (log: $WORK/registry.log)"
# rows l: the same registry behind a relay that lets its answers through at
# $SIF_BENCH_LINK_MBIT Mbit/s, shared by all connections (bench/slowlink.py)
if [[ $ROWS == *" l "* ]]; then
	LPORT=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	$PY "$(dirname "$0")/slowlink.py" "$LPORT" "$PORT" "$LINK_MBIT" >"$WORK/slowlink.log" 2>&1 &
	LINK_PID=$!
	for _ in $(seq 100); do
		curl -fsS --cacert "$P/ca.crt" "https://127.0.0.1:$LPORT/v2/" >/dev/null 2>&1 && break
		kill -0 "$LINK_PID" 2>/dev/null || die "slowlink.py exited: $(tail -3 "$WORK/slowlink.log")"
		sleep 0.1
	done
	LREF=127.0.0.1:$LPORT/bench:latest
	say "link:     $PY bench/slowlink.py $LPORT $PORT $LINK_MBIT (https://127.0.0.1:$LPORT: the registry at $LINK_MBIT Mbit/s)"
fi

# ch-convert (0.31) runs `mksquashfs DIR OUT -b 65536 -noappend -all-root -pf FILE
# -e ...` with the block size hard-coded, no option or variable to pass it others,
# and PATH=<its own directory>:$PATH.  So a copy of its installation directory
# ($WORK/ch: bin/ch-* and lib/charliecloud, symlinks) holds a mksquashfs that
# sets the block size, compressor and CPU count of the other rows (before -e,
# which takes the rest of the command line), logs what it runs, and runs
# /usr/bin/mksquashfs.  Row (c') runs /usr/bin/ch-convert as shipped.
CHD=$WORK/ch
mkdir -p "$CHD/bin" "$CHD/lib"
ln -s /usr/lib/charliecloud "$CHD/lib/charliecloud"
for f in /usr/bin/ch-*; do ln -s "$f" "$CHD/bin/"; done
cat >"$CHD/bin/mksquashfs" <<SH
#!/bin/sh
src=\$1 out=\$2
shift 2
prev=
for a in "\$@"; do
	shift
	[ "\$prev" = -b ] && a=$BLOCK
	set -- "\$@" "\$a"
	prev=\$a
done
echo "/usr/bin/mksquashfs \$src \$out -comp gzip -processors $NPROC \$*" >>$U/ch-convert-mksquashfs.log
exec /usr/bin/mksquashfs "\$src" "\$out" -comp gzip -processors $NPROC "\$@"
SH
chmod -R a+rX "$CHD"
chmod 755 "$CHD/bin/mksquashfs"

# --- measuring --------------------------------------------------------------------------
# sqinfo FILE: compressor and block size of the squashfs in FILE (or in the SIF)
sqinfo() {
	$PY - "$1" <<'PY'
import mmap, os, struct, sys
comp = {1: "gzip", 2: "lzma", 3: "lzo", 4: "xz", 5: "lz4", 6: "zstd"}
with open(sys.argv[1], "rb") as f:
    m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    off = m.find(b"hsqs")
    while off >= 0:
        inodes, mtime, bs, frags, c, blog = struct.unpack_from("<IIIIHH", m, off + 4)
        if 0 < bs <= 1 << 20 and bs == 1 << blog and c in comp:
            used = struct.unpack_from("<Q", m, off + 40)[0]
            print(f"{os.path.getsize(sys.argv[1]) / 2**20:.1f} MiB; squashfs at {off}: {comp[c]}, "
                  f"{bs // 1024} KiB blocks, {inodes} inodes")
            break
        off = m.find(b"hsqs", off + 1)
    else:
        print(f"{os.path.getsize(sys.argv[1]) / 2**20:.1f} MiB; no squashfs found")
PY
}

ASQ="${AS[*]}"
# timed WHO ENV CMD: one step, as root or as the user with ENV (VAR=VALUE ...)
# added to the clean environment; sets STEP_WALL, STEP_CPU (user + system
# seconds), STEP_RSS (KiB); output in $LOG
timed() {
	local who=$1 env=$2 cmd=$3 tf u s
	if [ "$who" = root ]; then
		tf=$WORK/time
		eval "/usr/bin/time -f '%e %M %U %S' -o $tf $cmd" >"$LOG" 2>&1 </dev/null || return
	else
		tf=$U/time
		eval "$ASQ $env /usr/bin/time -f '%e %M %U %S' -o $tf $cmd" >"$LOG" 2>&1 </dev/null || return
	fi
	read -r STEP_WALL STEP_RSS u s <"$tf"
	STEP_CPU=$($PY -c "print(f'{$u + $s:.2f}')")
}

# add NAME WHO ENV PREP OUT STEP...: a row: its steps (timed; wall times summed,
# peak RSS the max) run as WHO (root or user) with ENV, after PREP (as root,
# untimed) and a sync; OUT is the squashfs or SIF it makes
NAMES=() WHOS=() ENVS=() PREPS=() OUTS=() STEPS=() CMDS=()
add() {
	local IFS=$'\n' cmd
	NAMES+=("$1") WHOS+=("$2") ENVS+=("$3") PREPS+=("$4") OUTS+=("$5")
	shift 5
	STEPS+=("$*")
	cmd=$(printf '%s && ' "$@")
	CMDS+=("${ENVS[-1]:+${ENVS[-1]} }${cmd% && }")
}
# run_row I: one run of row I; sets WALL, CPU, PARTS (the steps' walls, "s1+s2"),
# RSS, or fails
run_row() {
	local i=$1 s
	eval "${PREPS[$i]}"
	sync   # no writeback of the previous row's output during this one
	WALL=0 CPU=0 RSS=0 PARTS=
	LOG=$WORK/row$i.log
	while IFS= read -r s; do
		if ! timed "${WHOS[$i]}" "${ENVS[$i]}" "$s" </dev/null; then
			FAILED_STEP=$s
			return 1
		fi
		WALL=$($PY -c "print(f'{$WALL + $STEP_WALL:.2f}')")
		CPU=$($PY -c "print(f'{$CPU + $STEP_CPU:.2f}')")
		PARTS+=${PARTS:++}$STEP_WALL
		[ "$STEP_RSS" -le "$RSS" ] || RSS=$STEP_RSS
	done <<<"${STEPS[$i]}"
}
say
say "sif:    ${SIF:-none (set SIF=/path/to/sif)}$([ -z "$SIF" ] || echo " ($("$SIF" --version 2>/dev/null | head -1 || true))")"
say "peers:  $(mksquashfs -version 2>&1 | head -1), umoci $(umoci --version | awk '{print $3}'),"
say "        ch-image $("${AS[@]}" ch-image --version 2>&1 | head -1), skopeo $(skopeo --version | awk '{print $3}'), $(docker-registry --version 2>&1 | awk '{print $NF}' | head -1)"
LAYERS=$($PY - "$OCI" <<'PY'
import json, sys
d = sys.argv[1]
blob = lambda dg: json.load(open(f"{d}/blobs/{dg.replace(':', '/')}"))
m = blob(json.load(open(f"{d}/index.json"))["manifests"][0]["digest"])
print(" + ".join(f"{l['size'] / 2**20:.1f}" for l in m["layers"]), "MiB")
PY
)
say "image:  $OCI:bench: 3 gzip layers, $LAYERS; $(du -sh "$TREE" | cut -f1) extracted ($TREE);"
say "        $DARCH ($(du -h "$DARCH" | cut -f1), layers uncompressed as skopeo writes them); $REF"
say "host:   $(uname -sr), $NPROC CPUs (nproc), $(df -T "$B" | awk 'NR==2{print $2}') under $B"
say "All: gzip level $LEVEL (mksquashfs's default), $((BLOCK / 1024)) KiB blocks, $NPROC CPUs; page cache warm:"
say "the same format and level everywhere, two deflate implementations: mksquashfs (rows a, b,"
say "c, l1) compresses with zlib, sif with libdeflate (the outputs' sizes are printed below);"
say "best of $RUNS runs each (the first round also warms the cache), the rows interleaved"
say "so that load from elsewhere hits all alike. Wall time: GNU time's %e (summed over a"
say "row's steps); peak RSS: its %M (the max over the steps and runs)."

cd "$WORK"   # a directory the user can read
MKSQ="-noappend -comp gzip -b $BLOCK -processors $NPROC"
add "(a) mksquashfs-tree" root "" "rm -f $WORK/a.sqfs" "$WORK/a.sqfs" \
	"mksquashfs $TREE $WORK/a.sqfs $MKSQ"
[[ $ROWS != *" b "* ]] ||
add "(b) umoci+mksquashfs" root "" "rm -rf --one-file-system $WORK/b $WORK/b.sqfs" "$WORK/b.sqfs" \
	"umoci unpack --image $OCI:bench $WORK/b" \
	"mksquashfs $WORK/b/rootfs $WORK/b.sqfs $MKSQ"
# --no-cache: no git build cache (its commit of the pulled tree costs ~5 s more
# here, and fails for a user without a git identity: "unable to auto-detect
# email address"); TMPDIR: ch-convert's temporary directory, in the work dir
CH_ENV="REQUESTS_CA_BUNDLE=$P/ca.crt CH_IMAGE_STORAGE=$U/ch TMPDIR=$U"
CH_PULL="ch-image --no-cache pull $REF"
if [[ $ROWS == *" c "* ]]; then
	add "(c) charliecloud" user "$CH_ENV" \
		"rm -rf --one-file-system $U/ch $U/c.sqfs $U/ch-convert-mksquashfs.log" "$U/c.sqfs" \
		"$CH_PULL" "$CHD/bin/ch-convert -i ch-image -o squash $REF $U/c.sqfs"
	add "(c') charliecloud -b 64K" user "$CH_ENV" "rm -rf --one-file-system $U/ch $U/c2.sqfs" "$U/c2.sqfs" \
		"$CH_PULL" "ch-convert -i ch-image -o squash $REF $U/c2.sqfs"
fi
SIFOPT="-F -q --compress gzip --level $LEVEL --jobs $NPROC"
if [ -n "$SIF" ] && [[ $ROWS == *" d "* ]]; then
	add "(d1) sif build oci" user "" "rm -f $U/d.sif" "$U/d.sif" \
		"$SIF build $SIFOPT $U/d.sif oci:$OCI:bench"
	add "(d2) sif build docker-archive" user "" "rm -f $U/e.sif" "$U/e.sif" \
		"$SIF build $SIFOPT $U/e.sif docker-archive:$DARCH"
fi
# issue 6: sif pull from the same registry, a cold cache and then a warm one
# (the warm row follows the cold one in every round), and skopeo copy + sif build
if [ -n "$SIF" ] && [[ $ROWS == *" p "* ]]; then
	PULLENV="SIF_CACHEDIR=$U/pcache SIF_TMPDIR=$U"
	PULLOPT="-F -q --ca-file $P/ca.crt --compress gzip --level $LEVEL --jobs 4"
	add "(p1) sif pull, cold cache" user "$PULLENV" "rm -rf --one-file-system $U/pcache $U/p.sif" \
		"$U/p.sif" "$SIF pull $PULLOPT $U/p.sif docker://$REF"
	add "(p2) sif pull, warm cache" user "$PULLENV" "rm -f $U/p2.sif" "$U/p2.sif" \
		"$SIF pull $PULLOPT $U/p2.sif docker://$REF"
	add "(p3) skopeo copy + sif build" user "" "rm -rf --one-file-system $U/sk $U/p3.sif" \
		"$U/p3.sif" "skopeo copy -q --src-cert-dir $WORK/certs docker://$REF oci:$U/sk:bench" \
		"$SIF build $SIFOPT $U/p3.sif oci:$U/sk:bench"
fi
# the same through the slower link: sif pull converts while it downloads
if [[ $ROWS == *" l "* ]]; then
	add "(l1) charliecloud, ${LINK_MBIT} Mbit/s" user "$CH_ENV" \
		"rm -rf --one-file-system $U/ch $U/l1.sqfs" "$U/l1.sqfs" \
		"ch-image --no-cache pull $LREF" "$CHD/bin/ch-convert -i ch-image -o squash $LREF $U/l1.sqfs"
	[ -z "$SIF" ] ||
	add "(l2) sif pull cold, ${LINK_MBIT} Mbit/s" user "SIF_CACHEDIR=$U/lcache SIF_TMPDIR=$U" \
		"rm -rf --one-file-system $U/lcache $U/l2.sif" "$U/l2.sif" \
		"$SIF pull -F -q --ca-file $P/ca.crt --compress gzip --level $LEVEL --jobs 4 $U/l2.sif docker://$LREF"
fi

say
say "Rows (each command line as run; user rows as $BUSER, through"
say "  setpriv --reuid=$BUID --regid=$BGID --init-groups env -i HOME=$BHOME USER=$BUSER LOGNAME=$BUSER PATH=$UPATH LC_ALL=C):"
for i in "${!NAMES[@]}"; do
	say "  ${NAMES[$i]}$([ "${WHOS[$i]}" = root ] && echo ", as root" || echo ", as $BUSER")"
	while IFS= read -r s; do say "    \$ ${ENVS[$i]:+${ENVS[$i]} }$s"; done <<<"${STEPS[$i]}"
done
[[ $ROWS != *" c "* ]] ||
	say "  ((c) runs ch-convert from $CHD, see above; (c') the stock one, 64 KiB blocks)"
say
say "Runs, interleaved (round r runs every row once), wall seconds (steps' in parentheses):"
declare -A RUNS_OF BEST PEAK FAILED MINCPU
for r in $(seq "$RUNS"); do
	line="  round $r:"
	for i in "${!NAMES[@]}"; do
		[ -z "${FAILED[$i]:-}" ] || continue
		if run_row "$i"; then
			RUNS_OF[$i]+="${RUNS_OF[$i]:+, }$WALL$([[ $PARTS != *+* ]] || echo " ($PARTS)")"
			if [ -z "${BEST[$i]:-}" ] || $PY -c "import sys; sys.exit(not $WALL < ${BEST[$i]})"; then
				BEST[$i]=$WALL
			fi
			[ "$RSS" -le "${PEAK[$i]:-0}" ] || PEAK[$i]=$RSS
			if [ -z "${MINCPU[$i]:-}" ] || $PY -c "import sys; sys.exit(not $CPU < ${MINCPU[$i]})"; then
				MINCPU[$i]=$CPU
			fi
			line+="  ${NAMES[$i]%% *} $WALL"
		else
			FAILED[$i]=1
			line+="  ${NAMES[$i]%% *} FAILED"
			say "  FAILED: ${NAMES[$i]}, round $r: ${ENVS[$i]:+${ENVS[$i]} }$FAILED_STEP"
			tail -5 "$LOG" | sed 's/^/      /'
		fi
	done
	say "$line"
done
rm -rf --one-file-system "$WORK/b" "$U/ch"
say
for i in "${!NAMES[@]}"; do
	[ -z "${FAILED[$i]:-}" ] || continue
	say "  ${NAMES[$i]}: ${RUNS_OF[$i]}; best ${BEST[$i]} s; CPU ${MINCPU[$i]} s; peak RSS $((PEAK[$i] / 1024)) MiB"
	say "      output: $(sqinfo "${OUTS[$i]}")"
done
if [ -s "$U/ch-convert-mksquashfs.log" ]; then
	say "  (c)'s ch-convert ran: $(tail -1 "$U/ch-convert-mksquashfs.log")"
elif [[ $ROWS == *" c "* ]]; then
	say "  (c)'s ch-convert did not run $CHD/bin/mksquashfs: 64 KiB blocks, not $((BLOCK / 1024))"
fi

# --- the table and the targets ----------------------------------------------------------
say
say "== summary: best wall time of $RUNS, caches warm; CPU = user + system, the least of"
say "   the runs (less sensitive to other load than wall time); ratios to (a)'s"
{
	for i in "${!NAMES[@]}"; do
		if [ -n "${FAILED[$i]:-}" ]; then
			printf '%s\t-\t-\t-\t%s\n' "${NAMES[$i]}" "${CMDS[$i]}"
		else
			printf '%s\t%s\t%s\t%s\t%s\n' "${NAMES[$i]}" "${BEST[$i]}" "${MINCPU[$i]}" "${PEAK[$i]}" "${CMDS[$i]}"
		fi
	done
} >"$WORK/results.tsv"
$PY - "$WORK/results.tsv" "$([ -n "$SIF" ] && echo 1 || echo 0)" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
have_sif = sys.argv[2] == "1"
a = next((r for r in rows if r[0].startswith("(a)") and r[1] != "-"), None)
base, cbase = (float(a[1]), float(a[2])) if a else (None, None)
earlier = {"(b)": "1.7x", "(c)": "2.5x"}   # the issue's measurements, gzip
print(f"  {'':30} {'wall s':>7} {'vs (a)':>7} {'CPU s':>7} {'vs (a)':>7} {'RSS MiB':>8}  command")
for name, wall, cpu, rss, cmd in rows:
    if wall == "-":
        print(f"  {name:30} {'FAILED':>7} {'-':>7} {'-':>7} {'-':>7} {'-':>8}  {cmd}")
        continue
    ratio = f"{float(wall) / base:.2f}x" if base else "-"
    cratio = f"{float(cpu) / cbase:.2f}x" if cbase else "-"
    note = f"  (issue: {earlier[name[:3]]})" if name[:3] in earlier else ""
    print(f"  {name:30} {float(wall):7.2f} {ratio:>7} {float(cpu):7.2f} {cratio:>7} {int(rss) / 1024:8.1f}  {cmd}{note}")
print()
print("targets (measured, not asserted):")
if not have_sif:
    print("  MISS  sif build: not measured (no sif: set SIF=/path/to/sif)")
elif not any(r[0].startswith("(d") for r in rows):
    print("  MISS  sif build: not measured (SIF_BENCH_ROWS without d)")
for name, wall, cpu, rss, cmd in rows:
    if not name.startswith("(d"):
        continue
    if wall == "-":
        print(f"  MISS  {name}: failed (its log is above), nothing measured")
        continue
    r = float(wall) / base if base else float("inf")
    print(f"  {'PASS' if r <= 1.0 else 'MISS'}  {name}: {r:.2f}x (a)'s wall time (target <= 1.0x)")
    print(f"  {'PASS' if int(rss) <= 512 * 1024 else 'MISS'}  {name}: peak RSS {int(rss) / 1024:.1f} MiB (target <= 512 MiB)")
# issue 6: a cold pull at most 0.5x Charliecloud's pull + convert; a warm one under 100 ms
c = next((r for r in rows if r[0].startswith("(c)") and r[1] != "-"), None)
for name, wall, cpu, rss, cmd in rows:
    if name.startswith("(p1)") and wall != "-":
        if c:
            r = float(wall) / float(c[1])
            print(f"  {'PASS' if r <= 0.5 else 'MISS'}  {name}: {r:.2f}x Charliecloud's (c) (target <= 0.5x)")
        else:
            print(f"  MISS  {name}: no Charliecloud row (c) to compare with")
    if name.startswith("(l2)") and wall != "-":
        l1 = next((r for r in rows if r[0].startswith("(l1)") and r[1] != "-"), None)
        if l1:
            print(f"  ----  {name}: {float(wall) / float(l1[1]):.2f}x Charliecloud's (l1) over the same link")
    if name.startswith("(p2)") and wall != "-":
        print(f"  {'PASS' if float(wall) < 0.1 else 'MISS'}  {name}: {float(wall) * 1000:.0f} ms (target < 100 ms, manifest request included)")
PY
say "Targets are goals measured here, not asserts; the machine is shared and noisy."
