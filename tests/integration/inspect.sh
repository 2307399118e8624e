#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# sif inspect: an image's labels, environment and runscript (squashfs, SIF and
# directory images, hostile ones too); --objects against Apptainer's own files
# and a corrupt corpus.
. "$(dirname "$0")/lib.sh"

FIX=${SIF_FIXTURES:-}/apptainer-sif

# -- help and version ---------------------------------------------------------
run "$SIF" --version
[ "$RC" -eq 0 ] && [[ "$OUT" =~ ^sif\ [0-9]+\.[0-9]+\.[0-9]+$ ]] && ok "sif --version" || not_ok "sif --version" "$OUT"
run "$SIF" help
[ "$RC" -eq 0 ] && grep -q '^  inspect ' <<<"$OUT" && ok "sif help lists inspect" || not_ok "sif help" "$OUT"
run "$SIF" help inspect
[ "$RC" -eq 0 ] && grep -q -- '--objects' <<<"$OUT" && ok "sif help inspect" || not_ok "sif help inspect" "$OUT"
expect_fail "an unknown command" "$SIF" frobnicate
expect_fail "an unknown option" "$SIF" inspect --frob x.sif
expect_fail "inspect without an image" "$SIF" inspect --objects
expect_fail "inspect of a missing image" "$SIF" inspect "$TMP/nonexistent.sif"
expect_fail "a missing image" "$SIF" inspect --objects "$TMP/nonexistent.sif"
grep -q 'No such file or directory; check the path$' <<<"$ERR" && ok "  ... names the cause and what to do" || not_ok "missing image message" "$ERR"
expect_fail "a directory as image" "$SIF" inspect --objects "$TMP"
mkfifo "$TMP/fifo"
expect_fail "a FIFO as image, without hanging" timeout 10 "$SIF" inspect --objects "$TMP/fifo"
expect_fail "a device as image" "$SIF" inspect --objects /dev/zero
expect_fail "a FIFO as image, without --objects, without hanging" timeout 10 "$SIF" inspect "$TMP/fifo"
expect_fail "a device as image, without --objects" "$SIF" inspect /dev/zero

# -- labels, environment and runscript (/.singularity.d) -------------------------
# mksq DIR OUT: a squashfs of DIR, everything root's (we are not root)
mksq() { mksquashfs "$1" "$2" -all-root -noappend -quiet -no-progress >/dev/null 2>&1; }
# no_ctl: standard input holds no byte that could drive a terminal (only \t and
# \n of the C0 controls, no DEL, no C1 control, no bidi override or zero-width)
no_ctl() { python3 -c '
import re, sys
b = sys.stdin.buffer.read()
assert not re.search(rb"[\x00-\x08\x0b-\x1f\x7f]", b), b
t = b.decode("utf-8")   # well-formed UTF-8 too
assert not re.search("[\x80-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]", t), t
'; }

if ! command -v mksquashfs >/dev/null || ! command -v python3 >/dev/null; then
	skip "mksquashfs or python3 is missing: labels, environment and runscript not checked"
else
R=$TMP/root
mkdir -p "$R/.singularity.d/env" "$R/.singularity.d/libs" "$R/etc" "$R/bin"
printf '{\n\t"z.last": "3",\n\t"a.first": "1",\n\t"m.mid": "two words"\n}' >"$R/.singularity.d/labels.json"
printf '#!/bin/sh\nexport PATH="/usr/bin:/bin"\nexport A="${A:-"x \\"y\\""}"\n' >"$R/.singularity.d/env/10-docker2singularity.sh"
printf '#!/bin/sh\n# custom\n\texport B=1\n' >"$R/.singularity.d/env/90-environment.sh"
printf '#!/bin/sh\nexec /bin/app "$@"\n' >"$R/.singularity.d/runscript"
chmod 755 "$R/.singularity.d/runscript" "$R"/.singularity.d/env/*.sh
echo "the image's own passwd" >"$R/etc/passwd"
mksq "$R" "$TMP/img.sqfs"
cat >"$TMP/want" <<'WANT'
=== Labels (/.singularity.d/labels.json) ===
a.first: 1
m.mid: two words
z.last: 3

=== Environment (/.singularity.d/env/10-docker2singularity.sh) ===
#!/bin/sh
export PATH="/usr/bin:/bin"
export A="${A:-"x \"y\""}"

=== Environment (/.singularity.d/env/90-environment.sh) ===
#!/bin/sh
# custom
	export B=1

=== Runscript (/.singularity.d/runscript) ===
#!/bin/sh
exec /bin/app "$@"
WANT
run "$SIF" inspect "$TMP/img.sqfs"
printf '%s\n' "$OUT" >"$TMP/got"
[ "$RC" -eq 0 ] && [ -z "$ERR" ] && diff -u "$TMP/want" "$TMP/got" >"$TMP/d" &&
	ok "squashfs: labels sorted as 'key: value', env scripts and runscript as they are" ||
	not_ok "squashfs: plain inspect" "exit $RC $ERR" "$(cat "$TMP/d")"

# the --json document, checked against the files themselves
jcheck() {   # jcheck DESCRIPTION FORMAT ROOT ARGS...
	local d=$1 fmt=$2 root=$3; shift 3
	run "$SIF" inspect --json "$@"
	if [ "$RC" -eq 0 ] && [ -z "$ERR" ] && printf '%s' "$OUT" | python3 -c '
import json, sys
raw = sys.stdin.buffer.read()
raw.decode("ascii")    # written in ASCII: nothing reaches a terminal raw
d = json.loads(raw)
fmt, root = sys.argv[1], sys.argv[2]
rd = lambda p: open(root + "/.singularity.d/" + p).read()
assert d["format"] == fmt, d["format"]
assert d["singularity_d"] is True
assert d["labels"] == {"a.first": "1", "m.mid": "two words", "z.last": "3"}, d["labels"]
assert list(d["labels"]) == sorted(d["labels"])
assert d["environment"] == {"10-docker2singularity.sh": rd("env/10-docker2singularity.sh"),
                            "90-environment.sh": rd("env/90-environment.sh")}, d["environment"]
assert d["runscript"] == rd("runscript")
assert d["warnings"] == []
assert "labels_text" not in d
if fmt == "sif":
    assert d["architecture"], d
else:
    assert d["architecture"] is None and d["workdir"] is None, d
' "$fmt" "$root" 2>"$TMP/py"; then ok "$d"; else not_ok "$d" "exit $RC $ERR" "$(cat "$TMP/py")"; fi
}
jcheck "squashfs: --json holds labels, environment files and runscript exactly" squashfs "$R" "$TMP/img.sqfs"

# the same image as a directory: read in place, links resolved inside it
run "$SIF" inspect "$R"
printf '%s\n' "$OUT" >"$TMP/got"
[ "$RC" -eq 0 ] && diff -u "$TMP/want" "$TMP/got" >"$TMP/d" && ok "directory image: the same" ||
	not_ok "directory image" "exit $RC $ERR" "$(cat "$TMP/d")"
jcheck "directory image: --json the same" directory "$R" "$R"

# and wrapped in a SIF by sif build
run "$SIF" build "$TMP/img.sif" "squashfs:$TMP/img.sqfs"
if [ "$RC" -ne 0 ] && grep -q 'sif-build' <<<"$ERR"; then
	skip "sif build cannot run its image tool here ($ERR): SIF images not checked"
else
	[ "$RC" -eq 0 ] && ok "sif build wraps the squashfs" || not_ok "sif build squashfs:" "$ERR"
	run "$SIF" inspect "$TMP/img.sif"
	printf '%s\n' "$OUT" | sed '1{/^Architecture: /d}' | sed '1{/^$/d}' >"$TMP/got"
	[ "$RC" -eq 0 ] && [[ "$OUT" =~ ^Architecture:\ [a-z0-9]+$'\n' ]] && diff -u "$TMP/want" "$TMP/got" >"$TMP/d" &&
		ok "SIF image: its architecture, then the same sections" ||
		not_ok "SIF image: plain inspect" "exit $RC $ERR" "$OUT" "$(cat "$TMP/d")"
	jcheck "SIF image: --json the same, with the architecture" sif "$R" "$TMP/img.sif"
	run "$SIF" inspect --objects "$TMP/img.sif"
	[ "$RC" -eq 0 ] && grep -q 'Squashfs/\*System' <<<"$OUT" && ok "--objects still shows the SIF objects" ||
		not_ok "--objects on a built SIF" "$RC $OUT $ERR"
fi

# symlinks are followed inside the image only
ln -s /../../../../../../etc/passwd "$R/.singularity.d/runscript.lnk"
mv "$R/.singularity.d/runscript.lnk" "$R/.singularity.d/runscript"
ln -sf loop2 "$R/.singularity.d/env/loop1"; ln -sf loop1 "$R/.singularity.d/env/loop2"
ln -sf loop1 "$R/.singularity.d/env/90-environment.sh"
mksq "$R" "$TMP/links.sqfs"
for img in "$TMP/links.sqfs" "$R"; do
	kind=squashfs; [ -d "$img" ] && kind=directory
	run "$SIF" inspect "$img"
	if [ "$RC" -eq 0 ] && grep -qx "the image's own passwd" <<<"$OUT" && ! grep -q '^root:' <<<"$OUT" &&
	   grep -q '^(not shown: Too many levels of symbolic links)$' <<<"$OUT" &&
	   [ "$(grep -c '' <<<"$ERR")" -eq 1 ] && grep -q '^sif: warning: .*90-environment.sh: Too many levels' <<<"$ERR"; then
		ok "$kind: a link out of the image resolves inside it; a link loop is a warning"
	else
		not_ok "$kind: links" "exit $RC" "$OUT" "$ERR"
	fi
done

# a hostile image: escape sequences, bidi overrides, invalid UTF-8, CR
H=$TMP/hostile
mkdir -p "$H/.singularity.d/env"
python3 - "$H" <<'PY'
import json, sys
root = sys.argv[1] + "/.singularity.d/"
labels = {"esc\x1b]0;pwned\x07": "red \x1b[31mtext\x1b[0m\r over",
          "c1": "csi \u009b2J", "bidi": "abc\u202eevil\u202c", "zw": "a\u200bb", "ok": "caf\u00e9"}
open(root + "labels.json", "w").write(json.dumps(labels))
open(root + "runscript", "wb").write(b"#!/bin/sh\n\techo \x1b[2J\r\x07 \xff\xfe \xe2\x80\xae\nexec x\n")
PY
mksq "$H" "$TMP/hostile.sqfs"
run "$SIF" inspect "$TMP/hostile.sqfs"
if [ "$RC" -eq 0 ] && printf '%s' "$OUT" | no_ctl 2>"$TMP/py" && grep -qx 'ok: café' <<<"$OUT" &&
   grep -q $'^\techo ' <<<"$OUT" && grep -qx 'exec x' <<<"$OUT"; then
	ok "hostile image: nothing that drives a terminal is printed; text, tabs and newlines are kept"
else
	not_ok "hostile image: plain output" "exit $RC" "$(printf '%s' "$OUT" | od -c | head -20)" "$(cat "$TMP/py")"
fi
run "$SIF" inspect --json "$TMP/hostile.sqfs"
if [ "$RC" -eq 0 ] && printf '%s' "$OUT" | python3 -c '
import json, sys
raw = sys.stdin.buffer.read(); raw.decode("ascii")
d = json.loads(raw)
want = json.load(open(sys.argv[1] + "/.singularity.d/labels.json"))
assert d["labels"] == want, d["labels"]          # exact, as JSON escapes
assert "\ufffd" not in d["runscript"] and "?" in d["runscript"], d["runscript"]   # invalid UTF-8 as ?
' "$H" 2>"$TMP/py"; then ok "hostile image: --json is ASCII and keeps the labels exactly"
else not_ok "hostile image: --json" "exit $RC" "$(cat "$TMP/py")"; fi

# labels.json that is not JSON: one warning, shown as (sanitized) text, exit 0
printf '{"a": "b",\x1b[31m oops' >"$H/.singularity.d/labels.json"
mksq "$H" "$TMP/badlabels.sqfs"
run "$SIF" inspect "$TMP/badlabels.sqfs"
if [ "$RC" -eq 0 ] && [ "$(grep -c '' <<<"$ERR")" -eq 1 ] &&
   grep -q '^sif: warning: .*labels.json is not valid JSON (line 1: .*): shown as text$' <<<"$ERR" &&
   printf '%s' "$ERR" | no_ctl && grep -qx '{"a": "b",?\[31m oops' <<<"$OUT"; then
	ok "invalid labels.json: a one-line warning, the file shown as text"
else
	not_ok "invalid labels.json" "exit $RC" "$OUT" "$ERR"
fi
run "$SIF" inspect --json "$TMP/badlabels.sqfs"
printf '%s' "$OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["labels"] is None and d["labels_text"] == "{\"a\": \"b\",\x1b[31m oops", d
assert len(d["warnings"]) == 1 and "not valid JSON" in d["warnings"][0], d["warnings"]
' 2>"$TMP/py" && [ "$RC" -eq 0 ] && ok "invalid labels.json: --json gives labels null, labels_text and the warning" ||
	not_ok "invalid labels.json --json" "exit $RC" "$(cat "$TMP/py")"

# a file over 1 MiB is not read
head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' x >"$H/.singularity.d/runscript"
mksq "$H" "$TMP/big.sqfs"
run "$SIF" inspect "$TMP/big.sqfs"
[ "$RC" -eq 0 ] && grep -qx '(not shown: larger than 1 MiB)' <<<"$OUT" &&
	grep -q 'runscript is larger than 1 MiB: not shown$' <<<"$ERR" && [ ${#OUT} -lt 4096 ] &&
	ok "a runscript over 1 MiB: refused with a warning" || not_ok "big runscript" "exit $RC" "$ERR"

# an image without /.singularity.d
mkdir -p "$TMP/plain/bin"; echo x >"$TMP/plain/bin/x"
mksq "$TMP/plain" "$TMP/plain.sqfs"
run "$SIF" inspect "$TMP/plain.sqfs"
[ "$RC" -eq 0 ] && [ -z "$ERR" ] && grep -q '^No /.singularity.d in .*plain.sqfs: it has no labels' <<<"$OUT" &&
	ok "no /.singularity.d: says so, exit 0" || not_ok "no /.singularity.d" "exit $RC" "$OUT" "$ERR"
run "$SIF" inspect --json "$TMP/plain.sqfs"
printf '%s' "$OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["singularity_d"] is False and d["labels"] is None and d["runscript"] is None and d["environment"] == {}
' && [ "$RC" -eq 0 ] && ok "no /.singularity.d: --json says so" || not_ok "no /.singularity.d --json" "$OUT"

# a damaged filesystem: one line, exit 255, nothing on stdout
cp "$TMP/img.sqfs" "$TMP/damaged.sqfs"
it=$(python3 -c 'import struct,sys; print(struct.unpack_from("<Q", open(sys.argv[1],"rb").read(), 72)[0])' "$TMP/img.sqfs")
printf '\xff\xff\xff\xff\xff\xff\xff\xff' | dd of="$TMP/damaged.sqfs" bs=1 seek=$((it + 2)) conv=notrunc status=none
expect_fail "a damaged squashfs" "$SIF" inspect "$TMP/damaged.sqfs"

# a directory entry that claims a 64 KiB name: libsquashfuse's own lookup
# copies that much into a 257-byte buffer; sif inspect must not
mkdir -p "$TMP/longname/.singularity.d"
echo '{}' >"$TMP/longname/.singularity.d/labels.json"
for i in $(seq 10 50); do echo x >"$TMP/longname/.singularity.d/zz_a_rather_long_file_name_$i"; done
mksquashfs "$TMP/longname" "$TMP/longname.sqfs" -all-root -noappend -quiet -no-progress \
	-noI -noD -noF -noX >/dev/null 2>&1
if python3 - "$TMP/longname.sqfs" <<'PY'
import struct, sys
d = bytearray(open(sys.argv[1], "rb").read())
dt, = struct.unpack_from("<Q", d, 72)
# uncompressed metadata: a 2-byte block header, the first listing's header
# (3 x u32), then its first entry (offset, inode number, type, size: u16 each)
o = dt + 2 + 12 + 6
if d[o + 2:o + 13] != b"labels.json":
    sys.exit(1)
d[o:o + 2] = b"\xff\xff"
open(sys.argv[1], "wb").write(d)
PY
then
	run "$SIF" inspect "$TMP/longname.sqfs"
	{ [ "$RC" -eq 0 ] || [ "$RC" -eq 255 ]; } && [ "$(grep -c '' <<<"$ERR")" -le 1 ] &&
		ok "a directory entry claiming a 64 KiB name: no overflow (exit $RC)" ||
		not_ok "a 64 KiB directory entry name" "exit $RC" "$ERR"
else
	skip "mksquashfs laid the directory table out otherwise: the 64 KiB name check is not made"
fi
fi

if [ ! -d "$FIX" ]; then
	skip "../shared/fixtures/apptainer-sif is absent (set SIF_FIXTURES): Apptainer's files not compared"
	done_testing
	exit
fi

# -- Apptainer's files: the same facts as siftool's golden outputs -------------
for pair in Empty:empty OneGroup:one-group OneGroupSignedPGP:one-group-signed-pgp; do
	golden=${pair%%:*} file=${pair#*:}
	run "$SIF" inspect --objects "$FIX/$file.sif"
	# first block: the header; after the blank line: the object list
	printf '%s\n' "$OUT" | sed '/^$/,$d' >"$TMP/header"
	printf '%s\n' "$OUT" | sed '1,/^$/d' >"$TMP/list"
	if [ "$RC" -eq 0 ] && diff -u "$FIX/header-$golden.golden.txt" "$TMP/header" >"$TMP/d1" &&
	   diff -u "$FIX/list-$golden.golden.txt" "$TMP/list" >"$TMP/d2"; then
		ok "$file.sif: header and object list as siftool prints them"
	else
		not_ok "$file.sif matches header-/list-$golden.golden.txt" "exit $RC $ERR" "$(cat "$TMP/d1" "$TMP/d2" 2>/dev/null)"
	fi
done

n=0
for f in "$FIX"/*.sif; do
	n=$((n + 1))
	b=$(basename "$f")
	run "$SIF" inspect --objects "$f"
	[ "$RC" -eq 0 ] && [ -z "$ERR" ] && ok "$b: inspect --objects" || not_ok "$b: inspect --objects" "$RC $ERR"
	run "$SIF" inspect --objects --json "$f"
	if [ "$RC" -eq 0 ] && printf '%s' "$OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["header"]["version"] == "01"
assert len(d["objects"]) == d["header"]["descriptors_total"] - d["header"]["descriptors_free"]
' 2>"$TMP/py"; then ok "$b: --json is valid and consistent"; else not_ok "$b: --json" "$RC $ERR $(cat "$TMP/py")"; fi
done
[ "$n" -ge 10 ] && ok "$n Apptainer-written files inspected" || not_ok "expected at least 10 fixture files, found $n"

# the facts the foundation issue names: partitions at 32768 and 36864, the second primary
run "$SIF" inspect --objects --json "$FIX/one-group.sif"
if printf '%s' "$OUT" | python3 -c '
import json, sys
o = json.load(sys.stdin)["objects"]
assert [(x["id"], x["start"], x["end"]) for x in o] == [(1, 32768, 32772), (2, 36864, 40960)], o
assert o[1]["partition"] == {"fstype": "Squashfs", "fstype_code": 1, "parttype": "*System",
    "parttype_code": 2, "primary": True, "arch": "386"}, o[1]
assert o[0]["partition"]["primary"] is False and o[0]["partition"]["fstype"] == "Raw"
assert o[0]["group"] == 1 and o[0]["link"] is None
'; then ok "one-group.sif: two partitions, the second the primary squashfs (386)"; else not_ok "one-group.sif JSON facts" "$OUT"; fi

run "$SIF" inspect --objects --json "$FIX/one-group-signed-pgp.sif"
printf '%s' "$OUT" | python3 -c '
import json, sys
s = json.load(sys.stdin)["objects"][2]
assert s["group"] is None and s["link"] == {"kind": "group", "id": 1}, s
assert s["signature"]["hash"] == "SHA-256" and len(s["signature"]["fingerprint"]) == 40, s
' && ok "signature object: no group, linked to group 1, SHA-256 with fingerprint" || not_ok "signature JSON" "$OUT"

run "$SIF" inspect --objects --json "$FIX/one-object-oci-blob.sif"
grep -q '"digest": "sha256:a88b15e95042f7d5a1327c03c57e10bdc1cf5f5efc2968fc73c12b6f5b00c731"' <<<"$OUT" &&
	ok "OCI blob digest reported" || not_ok "OCI blob digest" "$OUT"
expect_fail "plain inspect of a SIF file without a system partition" "$SIF" inspect "$FIX/empty.sif"
grep -q "no primary system partition.*'sif inspect --objects .*empty.sif' shows what it holds" <<<"$ERR" &&
	ok "  ... and points to --objects" || not_ok "no system partition message" "$ERR"
run "$SIF" inspect "$FIX/one-group.sif"
[ "$RC" -eq 0 ] && grep -qx 'Architecture: 386' <<<"$OUT" && grep -q '^No /.singularity.d in ' <<<"$OUT" &&
	ok "one-group.sif: its architecture; no /.singularity.d in its tiny squashfs" ||
	not_ok "one-group.sif plain inspect" "$RC $OUT $ERR"
run "$SIF" inspect --objects "$FIX/empty-id.sif"
grep -q '^ID: *3fa802cc-358b-45e3-bcc0-69dc7a45f9f8$' <<<"$OUT" && ok "image ID shown as a UUID" || not_ok "image UUID" "$OUT"
run "$SIF" inspect --objects "$FIX/one-object-time.sif"
grep -q '^Created At: *2020-06-30 00:01:56 +0000 UTC$' <<<"$OUT" && ok "creation time shown" || not_ok "creation time" "$OUT"

# -- a corrupt corpus made from one-group.sif: one line, exit 255, nothing else --
# poke FILE OFFSET BYTES...: overwrite bytes in place (little-endian integers by hand)
poke() { local f=$1 off=$2; shift 2; printf "$(printf '\\x%02x' "$@")" | dd of="$f" bs=1 seek="$off" conv=notrunc status=none; }
le64() { local v=$1 i; for i in 0 1 2 3 4 5 6 7; do printf '%d ' $(( (v >> (8 * i)) & 255 )); done; }
base=$FIX/one-group.sif
mk() { cp "$base" "$TMP/$1.sif"; chmod u+w "$TMP/$1.sif"; echo "$TMP/$1.sif"; }
D2=$((4096 + 585))     # descriptor of object 2

f=$(mk truncated-header); truncate -s 100 "$f"
expect_fail "corrupt: truncated header" "$SIF" inspect --objects "$f"
f=$(mk truncated-data); truncate -s 40000 "$f"
expect_fail "corrupt: file shorter than its objects" "$SIF" inspect --objects "$f"
grep -q 'copy it again or rebuild it' <<<"$ERR" && ok "  ... and says what to do" || not_ok "corrupt-file hint" "$ERR"
f=$(mk bad-magic); poke "$f" 32 0x58
expect_fail "corrupt: bad magic" "$SIF" inspect --objects "$f"
f=$(mk bad-version); poke "$f" 42 0x39 0x39
expect_fail "corrupt: bad version" "$SIF" inspect --objects "$f"
f=$(mk absurd-count); poke "$f" 88 $(le64 $((1 << 40)))
expect_fail "corrupt: absurd descriptor count" "$SIF" inspect --objects "$f"
f=$(mk offset-past-end); poke "$f" $((D2 + 17)) $(le64 1000000)
expect_fail "corrupt: object offset past the end" "$SIF" inspect --objects "$f"
f=$(mk size-past-end); poke "$f" $((D2 + 25)) $(le64 $(( (1 << 62) ))) ; poke "$f" $((D2 + 33)) $(le64 $(( (1 << 62) + 4092 )))
expect_fail "corrupt: object size past the end" "$SIF" inspect --objects "$f"
f=$(mk table-past-end); poke "$f" 96 $(le64 40000)
expect_fail "corrupt: descriptor table past the end" "$SIF" inspect --objects "$f"
f=$(mk overlap); poke "$f" $((D2 + 17)) $(le64 32768); poke "$f" $((D2 + 33)) $(le64 4096)
expect_fail "corrupt: overlapping objects" "$SIF" inspect --objects "$f"
f=$(mk two-primaries); poke "$f" $((4096 + 201 + 4)) 2
expect_fail "corrupt: two primary partitions" "$SIF" inspect --objects "$f"
grep -q 'primary' <<<"$ERR" && ok "  ... names the second primary partition" || not_ok "two primaries message" "$ERR"
f=$(mk random); head -c 40960 /dev/urandom >"$f"
expect_fail "corrupt: random bytes" "$SIF" inspect --objects "$f"
run "$SIF" inspect --objects --json "$f"
[ "$RC" -eq 255 ] && [ -z "$OUT" ] && ok "corrupt: --json prints no partial document" || not_ok "--json on corrupt" "$RC $OUT"

done_testing
