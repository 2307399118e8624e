#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# sif inspect --objects against Apptainer's own files and a corrupt corpus.
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
expect_fail "inspect without saying what" "$SIF" inspect x.sif
expect_fail "a missing image" "$SIF" inspect --objects "$TMP/nonexistent.sif"
grep -q 'No such file or directory; check the path$' <<<"$ERR" && ok "  ... names the cause and what to do" || not_ok "missing image message" "$ERR"
expect_fail "a directory as image" "$SIF" inspect --objects "$TMP"
mkfifo "$TMP/fifo"
expect_fail "a FIFO as image, without hanging" timeout 10 "$SIF" inspect --objects "$TMP/fifo"
expect_fail "a device as image" "$SIF" inspect --objects /dev/zero

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
