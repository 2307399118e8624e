#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# sif build from OCI and Docker images and from directories: every source
# form, reproducibility, compressors, the image's runtime configuration,
# and hostile inputs (one line, exit 255, nothing left, nothing written).
#
# Environment: SIF; SIF_BUILD_FIXTURES, the directory made (as root) by
# tests/fixtures/make-images.sh and tests/fixtures/hostile.py; optional
# SIF_BUILD_KEEP, a directory where the images worth an oracle check are
# copied, listed in SIF_BUILD_KEEP/oracle.list as IMAGE<TAB>LAYOUT:TAG<TAB>NAME
# (for tests/fixtures/oracle.py --tap, run as root afterwards).
# shellcheck disable=SC2012,SC2015,SC2016  # A && ok || not_ok is the house style; sh -c '...' on purpose
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

FX=${SIF_BUILD_FIXTURES:-}
if [ -z "$FX" ] || [ ! -f "$FX/layers/index.json" ] || [ ! -f "$FX/hostile-cases.txt" ]; then
	skip "SIF_BUILD_FIXTURES is unset or incomplete (tests/fixtures/make-images.sh and hostile.py make it)"
	done_testing
	exit
fi
KEEP=${SIF_BUILD_KEEP:-}
[ -n "$KEEP" ] && { mkdir -p "$KEEP" && : >"$KEEP/oracle.list" || KEEP=; }
# shellcheck disable=SC1091
. "$FX/EXPECT"
export TZ=UTC
export SOURCE_DATE_EPOCH=1700000000
unset FOO TRICKY EMPTY
cd "$TMP" || exit 1
TO=300 # seconds a build may take at most

# build NAME SOURCE [OPTION...]: NAME.sif from SOURCE, silently; one TAP line
build() {
	local n=$1 src=$2
	shift 2
	run timeout "$TO" "$SIF" build "$@" "$n.sif" "$src"
	if [ "$RC" -eq 0 ] && [ -s "$n.sif" ] && [ -z "$OUT$ERR" ]; then
		ok "build $n: $* ${src//$FX\//}"
	else
		not_ok "build $n: $* ${src//$FX\//}" "exit $RC" "stdout: ${OUT:0:300}" "stderr: ${ERR:0:600}"
		rm -f "$n.sif"
		return 1
	fi
}

# keep NAME REF: hand NAME.sif to the root oracle, to compare with umoci's REF
keep() {
	[ -n "$KEEP" ] && [ -f "$1.sif" ] || return 0
	cp "$1.sif" "$KEEP/$1.sif" && printf '%s.sif\t%s\t%s\n' "$1" "$2" "$1" >>"$KEEP/oracle.list"
}

# sqfs SIF FILE: the primary partition of SIF as a squashfs file
sqfs() {
	part "$1" || return 1
	tail -c +$((P_OFF + 1)) "$1" | head -c "$P_SIZE" >"$2"
}

# compressor SIF: the squashfs superblock's compressor id (1 gzip, 2 lzma,
# 3 lzo, 4 xz, 5 lz4, 6 zstd)
compressor() {
	part "$1" || return 1
	od -An -tu2 -j $((P_OFF + 20)) -N2 "$1" | tr -d ' '
}

# what the layered image "layers:latest" must show inside
PROBE='cat /etc/motd
for p in /data/to-delete /data/dir-to-delete /data/opaque/a /data/opaque/sub /data/opaque2/old \
         /data/opaque3 /data/hl-delete-one /bin/vi /data/dir-to-file/child; do
	test -e "$p" && echo "still there: $p"
done
test -f /data/dir-to-file && echo "dir-to-file: file"
test -d /data/file-to-dir && cat /data/file-to-dir/inside
echo "opaque: $(ls /data/opaque | tr "\n" " ")"
echo "opaque2: $(ls /data/opaque2 | tr "\n" " ")"
cat /data/changes
readlink /data/link-rel
cat /data/hl/sub/c
echo "links: $(stat -c %h /data/hl/a) $(stat -c %h /data/hl-keep-one)"
sha256sum /data/big.bin | cut -d" " -f1
ls /data/names | wc -l
cat /data/deep/level-1/level-2/level-3/level-4/level-5/level-6/level-7/level-8/level-9/level-10/level-11/level-12/level-13/level-14/level-15/level-16/level-17/level-18/level-19/level-20/level-21/level-22/level-23/level-24/level-25/level-26/level-27/level-28/level-29/level-30/level-31/level-32/level-33/level-34/level-35/level-36/level-37/level-38/level-39/level-40/leaf'
PROBE_WANT="layer 3
dir-to-file: file
now a dir
opaque: c 
opaque2: new 
version 2, longer
hl/b
one inode, three names
links: 3 1
$BIG_SHA256
6
deep leaf"

# probe NAME: the layered image's content seen through sif exec
probe() {
	run timeout 60 "$SIF" exec "$1.sif" /bin/sh -c "$PROBE"
	if [ "$RC" -eq 0 ] && [ "$OUT" = "$PROBE_WANT" ]; then
		ok "  ... $1: whiteouts, opaque dirs, replacements, links and content as the layers say"
	else
		not_ok "  ... $1: content" "exit $RC" "$(diff <(echo "$PROBE_WANT") <(echo "$OUT"))" "stderr: ${ERR:0:300}"
	fi
}

# ---- every source form of the same image -------------------------------------
L=$FX/layers
build oci "oci:$L:latest" && probe oci && keep oci "$L:latest"
build oci-archive "oci-archive:$FX/layers.oci.tar:latest" && probe oci-archive && keep oci-archive "$L:latest"
build oci-archive-notag "oci-archive:$FX/layers.oci.tar"
build docker-archive "docker-archive:$FX/layers.docker.tar" && probe docker-archive && keep docker-archive "$L:latest"
build docker-archive-gz "docker-archive:$FX/layers.docker.tar.gz" && probe docker-archive-gz &&
	keep docker-archive-gz "$L:latest"
build zstd-layers "oci:$FX/layers-zstd:latest" && probe zstd-layers && keep zstd-layers "$L:latest"
build plain-layers "oci:$FX/layers-plain:latest" && probe plain-layers && keep plain-layers "$L:latest"
build zstd-archive "oci-archive:$FX/layers-zstd.oci.tar:latest" && keep zstd-archive "$L:latest"
build single-notag "oci:$FX/single"
for t in v1 v2 v3 v4; do
	build "tag-$t" "oci:$L:$t" && keep "tag-$t" "$L:$t"
done
# format detection: no prefix
build auto-docker "$FX/layers.docker.tar"
build auto-docker-gz "$FX/layers.docker.tar.gz"
build auto-oci-archive "$FX/layers.oci.tar"
build auto-oci-dir "$FX/single"
build quiet "oci:$L:latest" -q

# the same image gives the same squashfs, whatever its packaging
if sqfs oci.sif oci.sqfs; then
	for n in oci-archive oci-archive-notag docker-archive docker-archive-gz zstd-layers plain-layers zstd-archive \
	         single-notag auto-docker auto-docker-gz auto-oci-archive auto-oci-dir quiet; do
		[ -f "$n.sif" ] || continue
		if sqfs "$n.sif" "$n.sqfs" && cmp -s oci.sqfs "$n.sqfs"; then
			ok "  ... $n has the same squashfs as oci:layers:latest"
		else
			not_ok "  ... $n has another squashfs than oci:layers:latest" "$(cmp oci.sqfs "$n.sqfs" 2>&1)"
		fi
	done
else
	not_ok "the primary partition of oci.sif is not found by inspect --objects --json"
fi

# ---- owners, modes, special files, links: as listed by unsquashfs -lln ------
if [ -f oci.sqfs ] && unsquashfs -lln oci.sqfs >list 2>&1; then
	while IFS='|' read -r what pattern; do
		if grep -qE "$pattern" list; then ok "  ... oci: $what"; else not_ok "  ... oci: $what" "no line matches: $pattern"; fi
	done <<-'CHECKS'
	setuid root 04755|^-rwsr-xr-x 0/0 .* squashfs-root/usr/bin/suid-tool$
	setgid 02755, group 1000|^-rwxr-sr-x 0/1000 .* squashfs-root/usr/bin/sgid-tool$
	setgid directory 02775|^drwxrwsr-x 0/1000 .* squashfs-root/srv/shared$
	sticky directory 01777|^drwxrwxrwt 0/0 .* squashfs-root/scratch$
	file of 1000:1000|^-rw-r--r-- 1000/1000 .* squashfs-root/data/user-file$
	file of 1000:0, 0640|^-rw-r----- 1000/0 .* squashfs-root/data/mixed-owner$
	directory of 1000:1000, 0750|^drwxr-x--- 1000/1000 .* squashfs-root/data/user-dir$
	owner changed by a later layer|^-rw-r--r-- 1000/1000 .* squashfs-root/data/root-file$
	mode 0401|^-r-------x 0/0 .* squashfs-root/data/odd-mode$
	directory mode changed by a later layer (0711)|^drwx--x--x 0/0 .* squashfs-root/data/modedir$
	root home 0700|^drwx------ 0/0 .* squashfs-root/root$
	character device 1,3|^crw-r--r-- 0/0 +1, +3 .* squashfs-root/data/char-dev$
	block device 7,0|^brw-r--r-- 0/0 +7, +0 .* squashfs-root/data/block-dev$
	fifo|^prw-r--r-- 0/0 .* squashfs-root/data/fifo$
	absolute symlink|^lrwxrwxrwx 0/0 .* squashfs-root/data/link-abs -> /etc/motd$
	dangling symlink|^lrwxrwxrwx 0/0 .* squashfs-root/data/link-dangling-abs -> /nonexistent/target$
	symlink to a directory|^lrwxrwxrwx 0/0 .* squashfs-root/data/link-dir -> \.\./etc$
	empty file|^-rw-r--r-- 0/0 +0 .* squashfs-root/data/empty$
	3 MiB file|^-rw-r--r-- 0/0 +3145745 .* squashfs-root/data/big\.bin$
	name with a space|^-rw-r--r-- 0/0 .* squashfs-root/data/names/with space$
	UTF-8 name|^-rw-r--r-- 0/0 .* squashfs-root/data/names/ünïcødé-файл-名前$
	name with a leading dash|^-rw-r--r-- 0/0 .* squashfs-root/data/names/-leading-dash$
	200-byte name|squashfs-root/data/names/l{200}$
	file mtime from the layer (T2)|^-rw-r--r-- 0/0 +0 2020-09-13 12:43 squashfs-root/data/empty$
	CHECKS
	[ "$(grep -c ' squashfs-root/\.singularity\.d/' list)" -gt 0 ] && ok "  ... oci: /.singularity.d is there" ||
		not_ok "  ... oci: no /.singularity.d"
else
	not_ok "unsquashfs -lln cannot list the partition of oci.sif" "$(head -5 list 2>/dev/null)"
fi

# ---- the runtime configuration: runscript, WorkingDir, Env, labels ------------
if [ -f oci.sif ]; then
	run timeout 60 "$SIF" run oci.sif
	want=$'entrypoint args: default-arg arg two\ncwd: /work\nFOO=bar baz'
	[ "$RC" -eq 0 ] && [ "$OUT" = "$want" ] && ok "sif run: ENTRYPOINT + CMD, in WorkingDir /work, with Env" ||
		not_ok "sif run" "exit $RC" "want: $want" "got: $OUT" "stderr: ${ERR:0:300}"
	run timeout 60 "$SIF" run oci.sif one "two three"
	[ "$RC" -eq 0 ] && [ "$(head -1 <<<"$OUT")" = "entrypoint args: one two three" ] &&
		ok "sif run ARGS: the arguments replace CMD" || not_ok "sif run ARGS" "exit $RC" "$OUT" "${ERR:0:300}"
	run timeout 60 "$SIF" exec oci.sif /bin/sh -c 'echo "$FOO"'
	[ "$RC" -eq 0 ] && [ "$OUT" = "bar baz" ] && ok "Env: FOO=bar baz inside" || not_ok "Env FOO" "$RC $OUT ${ERR:0:300}"
	run timeout 60 "$SIF" exec oci.sif /bin/sh -c 'printf "%s" "$TRICKY"'
	want="it's \$HOME \"q\" \`x\` \\ end"
	[ "$RC" -eq 0 ] && [ "$OUT" = "$want" ] && ok "Env: quotes, \$, backquotes and backslashes survive" ||
		not_ok "Env TRICKY" "want: $want" "got:  $OUT" "${ERR:0:300}"
	run timeout 60 "$SIF" exec oci.sif /bin/sh -c 'echo "${EMPTY+set}:$EMPTY:$PATH"'
	[ "$RC" -eq 0 ] && [ "$OUT" = "set::/usr/bin:/bin" ] && ok "Env: an empty value is set; PATH is the image's" ||
		not_ok "Env EMPTY/PATH" "$RC $OUT ${ERR:0:300}"
	run env FOO=host timeout 60 "$SIF" exec oci.sif /bin/sh -c 'echo "$FOO"'
	[ "$RC" -eq 0 ] && [ -n "$OUT" ] && ok "Env with FOO set on the host runs (gives '$OUT')" ||
		not_ok "Env with FOO on the host" "$RC $OUT ${ERR:0:300}"
	run timeout 60 "$SIF" exec oci.sif cat /.singularity.d/labels.json
	if [ "$RC" -eq 0 ] && python3 -c '
import json, sys
d = json.loads(sys.argv[1])
sys.exit(0 if d.get("org.example.label") == "hello" and d.get("org.example.spaces") == "a b c" else 1)' "$OUT" 2>/dev/null; then
		ok "labels.json holds the image's labels"
	else
		not_ok "labels.json" "$RC" "${OUT:0:500}" "${ERR:0:300}"
	fi
	run timeout 60 "$SIF" exec oci.sif /usr/bin/suid-tool
	[ "$RC" -eq 0 ] && [ "$OUT" = suid-tool ] && ok "a setuid file runs (without privilege)" || not_ok "suid-tool" "$RC $OUT $ERR"
	run "$SIF" inspect --objects --json oci.sif
	grep -q "\"created\": $SOURCE_DATE_EPOCH" <<<"$OUT" && ok "SOURCE_DATE_EPOCH is the image's time" ||
		not_ok "created time" "${OUT:0:400}"
fi

# ---- reproducibility --------------------------------------------------------
if build r1 "oci:$L:latest" && build r2 "oci:$L:latest"; then
	cmp -s r1.sif r2.sif && ok "  ... two builds, the same bytes" || not_ok "two builds differ" "$(cmp r1.sif r2.sif)"
fi
build j1 "oci:$L:latest" --jobs 1 && { cmp -s j1.sif r1.sif && ok "  ... --jobs 1: the same bytes" || not_ok "--jobs 1 differs"; }
build j2 "oci:$L:latest" --jobs 2 && { cmp -s j2.sif r1.sif && ok "  ... --jobs 2: the same bytes" || not_ok "--jobs 2 differs"; }
build j8 "oci:$L:latest" --jobs 8 && { cmp -s j8.sif r1.sif && ok "  ... --jobs 8: the same bytes" || not_ok "--jobs 8 differs"; }
for c in zstd xz; do
	build "j1-$c" "oci:$L:latest" --compress "$c" --jobs 1 && build "j2-$c" "oci:$L:latest" --compress "$c" --jobs 2 &&
		{ cmp -s "j1-$c.sif" "j2-$c.sif" && ok "  ... --compress $c: --jobs 1 and 2 give the same bytes" ||
			not_ok "--compress $c: --jobs 1 and 2 differ"; }
done
unset SOURCE_DATE_EPOCH
if build n1 "oci:$L:latest" && sleep 1 && build n2 "oci:$L:latest"; then
	cmp -s n1.sif n2.sif && ok "  ... without SOURCE_DATE_EPOCH too, the same bytes" ||
		not_ok "without SOURCE_DATE_EPOCH the builds differ"
fi
export SOURCE_DATE_EPOCH=1700000001
build e1 "oci:$L:latest" && { cmp -s e1.sif r1.sif && not_ok "another SOURCE_DATE_EPOCH, yet the same bytes" ||
	ok "  ... another SOURCE_DATE_EPOCH, other bytes"; }
export SOURCE_DATE_EPOCH=1700000000
build r-da "docker-archive:$FX/layers.docker.tar" && build r-da2 "docker-archive:$FX/layers.docker.tar" &&
	{ cmp -s r-da.sif r-da2.sif && ok "  ... docker-archive: the same bytes twice" || not_ok "docker-archive builds differ"; }

# ---- compressors --------------------------------------------------------------
declare -A CID=([gzip]=1 [xz]=4 [lz4]=5 [zstd]=6)
for c in gzip zstd lz4 xz none; do
	build "c-$c" "oci:$L:latest" --compress "$c" || continue
	id=$(compressor "c-$c.sif")
	if [ "$c" = none ]; then
		grep -qaF 'echo "entrypoint args: $*"' "c-$c.sif" && ok "  ... none: file data stored as is" ||
			not_ok "  ... none: the data is not stored uncompressed"
	else
		[ "$id" = "${CID[$c]}" ] && ok "  ... superblock compressor id $id ($c)" || not_ok "  ... compressor id $id, want ${CID[$c]} ($c)"
	fi
	run timeout 60 "$SIF" exec "c-$c.sif" cat /etc/motd
	[ "$RC" -eq 0 ] && [ "$OUT" = "layer 3" ] && ok "  ... --compress $c: sif exec reads it" || not_ok "exec c-$c" "$RC $OUT ${ERR:0:300}"
	keep "c-$c" "$L:latest"
done
if [ -f c-gzip.sif ]; then
	! grep -qaF 'echo "entrypoint args: $*"' c-gzip.sif && ok "  ... (gzip does compress that data)" ||
		not_ok "gzip leaves the data as is"
fi
if [ -f oci.sif ]; then
	[ "$(compressor oci.sif)" = 6 ] && ok "the default compressor is zstd" || not_ok "default compressor $(compressor oci.sif)"
fi
build lvl-zstd19 "oci:$L:latest" --compress zstd --level 19 && [ "$(compressor lvl-zstd19.sif)" = 6 ] &&
	{ [ "$(stat -c %s lvl-zstd19.sif)" -le "$(stat -c %s c-zstd.sif)" ] && ok "  ... zstd level 19 is not larger than the default" ||
		not_ok "zstd 19 larger"; }
build lvl-gzip1 "oci:$L:latest" --compress gzip --level 1 && { cmp -s lvl-gzip1.sif c-gzip.sif &&
	not_ok "--level 1 changes nothing" || ok "  ... --level 1 gives another image"; }
build lvl-xz9 "oci:$L:latest" --compress xz --level 9

# ---- multi-arch index -----------------------------------------------------------
case $(uname -m) in x86_64) host=amd64 ;; aarch64) host=arm64 ;; *) host= ;; esac
for a in amd64 arm64; do
	if build "arch-$a" "oci:$FX/multiarch:latest" --arch "$a"; then
		run "$SIF" inspect --objects "arch-$a.sif"
		grep -q "^Primary Architecture: $a$" <<<"$OUT" && ok "  ... the header says $a" || not_ok "header arch" "$OUT"
		sqfs "arch-$a.sif" "arch-$a.sqfs" && [ "$(unsquashfs -cat "arch-$a.sqfs" etc/arch 2>/dev/null)" = "$a" ] &&
			ok "  ... the $a image was chosen" || not_ok "the wrong image for --arch $a"
		keep "arch-$a" "$L:arch-$a"
	fi
done
if [ -n "$host" ] && build arch-default "oci:$FX/multiarch:latest"; then
	cmp -s "arch-default.sif" "arch-$host.sif" && ok "  ... without --arch: this machine's ($host)" || not_ok "default arch is not $host"
fi

# ---- dir: sources ---------------------------------------------------------------
mkdir -p tree/bin tree/etc tree/sub/deeper
cp /bin/busybox tree/bin/busybox
ln -s busybox tree/bin/sh && ln -s busybox tree/bin/cat && ln -s busybox tree/bin/stat
echo "from a directory" >tree/etc/motd && chmod 0644 tree/etc/motd
ln tree/etc/motd tree/etc/motd-hardlink
ln -s ../etc/motd tree/sub/link
mkfifo tree/sub/fifo
: >tree/sub/empty
chmod 0700 tree/sub/deeper
chmod 0750 tree/sub
touch -h -d @1500000000 tree/etc/motd tree/sub/link
if build dir "dir:tree"; then
	run timeout 60 "$SIF" exec dir.sif /bin/sh -c \
		'cat /etc/motd /sub/link; stat -c %h /etc/motd-hardlink; stat -c %a /etc/motd /sub /sub/deeper; test -p /sub/fifo && echo fifo'
	want=$'from a directory\nfrom a directory\n2\n644\n750\n700\nfifo'
	[ "$RC" -eq 0 ] && [ "$OUT" = "$want" ] &&
		ok "  ... dir: content, links, modes, fifo" || not_ok "dir: content" "want: $want" "got: $OUT" "${ERR:0:300}"
	sqfs dir.sif dir.sqfs && unsquashfs -lln dir.sqfs >dlist 2>&1
	grep -qE '^-rw-r--r-- [0-9]+/[0-9]+ +17 2017-07-14 02:40 squashfs-root/etc/motd$' dlist &&
		ok "  ... dir: mtimes kept" || not_ok "dir: mtime" "$(grep etc/motd dlist)"
fi
build dir2 "dir:tree" && { cmp -s dir.sif dir2.sif && ok "  ... dir: the same bytes twice" || not_ok "dir: builds differ"; }
build auto-dir "tree" && sqfs auto-dir.sif auto-dir.sqfs && sqfs dir.sif dir.sqfs &&
	{ cmp -s dir.sqfs auto-dir.sqfs && ok "  ... a directory without prefix is a dir: source" || not_ok "auto dir differs"; }

# ---- failures: one line, exit 255, no output, nothing left ----------------------
mkdir fail && cd fail || exit 1
echo "not an image" >junk
expect_fail "an OCI layout that does not exist" "$SIF" build x.sif "oci:$TMP/nope:latest"
expect_fail "a tag the layout does not have" "$SIF" build x.sif "oci:$L:nope"
expect_fail "no tag, and the layout has several images" "$SIF" build x.sif "oci:$L"
expect_fail "a docker-archive that is not a tar" "$SIF" build x.sif docker-archive:junk
expect_fail "a docker-archive given as oci-archive" "$SIF" build x.sif "oci-archive:$FX/layers.docker.tar"
expect_fail "an oci-archive given as docker-archive" "$SIF" build x.sif "docker-archive:$FX/layers.oci.tar"
expect_fail "a file of unknown format, without prefix" "$SIF" build x.sif junk
expect_fail "an architecture the index does not have" "$SIF" build --arch s390x x.sif "oci:$FX/multiarch:latest"
expect_fail "an unknown compressor" "$SIF" build --compress bogus x.sif "oci:$L:latest"
expect_fail "a gzip level out of range" "$SIF" build --compress gzip --level 42 x.sif "oci:$L:latest"
expect_fail "a level that is not a number" "$SIF" build --level x x.sif "oci:$L:latest"
expect_fail "--jobs that is not a number" "$SIF" build --jobs two x.sif "oci:$L:latest"
mkdir -p ../unreadable/etc && echo secret >../unreadable/etc/secret && chmod 000 ../unreadable/etc/secret
if [ "$(id -u)" -ne 0 ]; then
	expect_fail "a dir: source with an unreadable file" "$SIF" build x.sif dir:../unreadable
else
	skip "running as root: unreadable files are readable"
fi
expect_fail "a dir: source that is a file" "$SIF" build x.sif dir:junk
[ "$(ls -A | tr '\n' ' ')" = "junk " ] && ok "failed builds left nothing behind" || not_ok "leftovers" "$(ls -A)"
cd .. || exit 1

# an existing output, --force, an unwritable directory
if [ -f oci.sif ]; then
	cp oci.sif before.sif
	expect_fail "an existing output is not replaced" "$SIF" build oci.sif "oci:$L:v1"
	cmp -s oci.sif before.sif && ok "  ... and is left as it was" || not_ok "the existing output changed"
	check "-F replaces it" "$SIF" build -F oci.sif "oci:$L:v1"
	check "--force replaces it" "$SIF" build --force oci.sif "oci:$L:latest"
	cmp -s oci.sif before.sif && ok "  ... with the same bytes as before" || not_ok "rebuilt image differs"
fi
if [ "$(id -u)" -ne 0 ]; then
	mkdir ro && chmod 555 ro
	expect_fail "an unwritable output directory" "$SIF" build ro/x.sif "oci:$L:latest"
	[ -z "$(ls -A ro)" ] && ok "  ... leaves it untouched" || not_ok "ro dir touched" "$(ls -A ro)"
	chmod 755 ro
else
	skip "running as root: the unwritable-directory check needs an unprivileged user"
fi

# ---- the control image of hostile.py builds: its cases fail for their fault only --
build control "oci:$FX/valid-control:latest" && {
	# the control image has no shell: look into its squashfs
	sqfs control.sif control.sqfs && unsquashfs -lln control.sqfs >clist 2>&1
	grep -q 'squashfs-root/a/new$' clist && ! grep -q 'squashfs-root/a/keep$' clist &&
		! grep -q 'squashfs-root/sub/file$' clist && grep -q 'squashfs-root/ln -> /etc/hostname$' clist &&
		ok "  ... control: whiteout, opaque dir, symlink applied" || not_ok "control content" "$(cat clist)"
}
build control-docker "docker-archive:$FX/valid-control.docker.tar"

# ---- hostile inputs -------------------------------------------------------------
while IFS=$'\t' read -r name src; do
	[ -n "$name" ] || continue
	top=$TMP/hostile/$name
	d=$top/w/x/y/z
	mkdir -p "$d" && cd "$d" || exit 1
	run timeout "$TO" "$SIF" build out.sif "$src"
	left=$(ls -A)
	cd "$TMP" || exit 1
	stray=$(find "$top" -mindepth 1 -not -path "$top/w" -not -path "$top/w/x" -not -path "$top/w/x/y" -not -path "$d")
	lines=$(printf '%s' "$ERR" | grep -c '')
	if [ "$RC" -eq 255 ] && [ -z "$OUT" ] && [ "$lines" -eq 1 ] && [ "${ERR#sif: error: }" != "$ERR" ] &&
	   [ -z "$left$stray" ]; then
		ok "hostile: $name"
	else
		not_ok "hostile: $name ($src)" "exit $RC, stdout: ${OUT:0:200}" "stderr: ${ERR:0:600}" \
			"left in the output directory: $left" "written beside it: $stray"
	fi
done <"$FX/hostile-cases.txt"
found=$(find "$TMP" /tmp /var/tmp "$HOME" -name 'SIF_HOSTILE_MARKER*' 2>/dev/null | head -20)
[ -z "$found" ] && ok "no hostile input wrote a file anywhere (no SIF_HOSTILE_MARKER*)" ||
	not_ok "hostile inputs wrote files" "$found"

done_testing
