#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# sif build OUT.sif squashfs:FILE: the partition is the squashfs, byte for
# byte; output is reproducible; failures leave nothing behind.
. "$(dirname "$0")/lib.sh"

if ! command -v mksquashfs >/dev/null; then
	skip "mksquashfs is not installed (Debian package squashfs-tools): sif build not tested"
	done_testing
	exit
fi
cd "$TMP" || exit 1
mkdir -p root/bin root/etc
echo "hello from sif" >root/etc/motd
cp /bin/sh root/bin/ 2>/dev/null
mksquashfs root r.sqfs -quiet -noappend -comp gzip -mkfs-time 1000000000 >/dev/null 2>&1 || mksquashfs root r.sqfs -quiet -noappend >/dev/null

run "$SIF" build out.sif squashfs:r.sqfs
[ "$RC" -eq 0 ] && [ -z "$OUT$ERR" ] && ok "build from squashfs:FILE, silently" || not_ok "build" "$RC $OUT $ERR"
run "$SIF" inspect --objects out.sif
want="1    |1       |NONE    |32768-$((32768 + $(stat -c %s r.sqfs)))"
grep -qF "$want" <<<"$OUT" && grep -q "FS (Squashfs/\*System/" <<<"$OUT" &&
	ok "one primary squashfs partition at 32768" || not_ok "partition position" "$want" "$OUT"
tail -c +32769 out.sif | cmp -s - r.sqfs && ok "the partition holds the squashfs byte for byte" || not_ok "partition bytes differ"
perm=$(stat -c %a out.sif) want=$(printf '%o' $(( 0666 & ~$(umask) )))
[ "$perm" = "$want" ] && ok "output mode follows the umask ($perm)" || not_ok "output mode $perm, umask wants $want"

run "$SIF" build out.sif squashfs:r.sqfs
expect_fail "an existing output is not replaced" "$SIF" build out.sif squashfs:r.sqfs
grep -q -- '--force' <<<"$ERR" && ok "  ... and the message says how to replace it" || not_ok "no --force hint" "$ERR"
check "--force replaces it" "$SIF" build --force out.sif r.sqfs

"$SIF" build a.sif r.sqfs && sleep 1 && "$SIF" build b.sif r.sqfs
cmp -s a.sif b.sif && ok "the same squashfs gives a byte-identical image" || not_ok "not reproducible"
SOURCE_DATE_EPOCH=1234567890 "$SIF" build c.sif r.sqfs
run "$SIF" inspect --objects --json c.sif
grep -q '"created": 1234567890' <<<"$OUT" && ok "SOURCE_DATE_EPOCH sets the times" || not_ok "SOURCE_DATE_EPOCH" "$OUT"
grep -q '"id": "00000000-0000-0000-0000-000000000000"' <<<"$OUT" && ok "the image ID is all zeros (reproducible)" || not_ok "nonzero id"

check "--arch arm64" "$SIF" build --arch arm64 d.sif r.sqfs
run "$SIF" inspect --objects d.sif
grep -q '^Primary Architecture: arm64$' <<<"$OUT" && grep -q 'FS (Squashfs/\*System/arm64)' <<<"$OUT" &&
	ok "  ... recorded in the header and the partition" || not_ok "arch" "$OUT"

# failures: one line, exit 255, and no output file or temporary left behind
mkdir fail && cd fail || exit 1
head -c $(( $(stat -c %s ../r.sqfs) / 2 )) ../r.sqfs >trunc.sqfs
expect_fail "a truncated squashfs" "$SIF" build x.sif squashfs:trunc.sqfs
printf 'not squashfs' >junk
expect_fail "a file that is not squashfs" "$SIF" build x.sif squashfs:junk
expect_fail "a source that does not exist" "$SIF" build x.sif squashfs:nope
expect_fail "an unsupported source type" "$SIF" build x.sif docker-archive:foo.tar
expect_fail "an unknown architecture" "$SIF" build --arch vax x.sif ../r.sqfs
SOURCE_DATE_EPOCH=soon expect_fail "a malformed SOURCE_DATE_EPOCH" "$SIF" build x.sif ../r.sqfs
expect_fail "no source" "$SIF" build x.sif
mkfifo fifo
expect_fail "a FIFO as source, without hanging" timeout 10 "$SIF" build x.sif squashfs:fifo
[ "$(ls -A | sort | tr '\n' ' ')" = "fifo junk trunc.sqfs " ] && ok "failed builds left nothing behind" || not_ok "leftovers" "$(ls -A)"
cd .. || exit 1
if [ "$(id -u)" -ne 0 ]; then
	mkdir ro && chmod 555 ro
	expect_fail "an unwritable output directory" "$SIF" build ro/x.sif r.sqfs
	[ -z "$(ls -A ro)" ] && ok "  ... leaves it untouched" || not_ok "ro dir touched"
else
	skip "running as root: the unwritable-directory check needs an unprivileged user"
fi
done_testing
