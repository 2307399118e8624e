#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# sif pull | build | exec docker://..., sif login/logout and sif cache, against
# the real docker-registry instances of tests/registry/harness.sh on loopback:
# plain HTTP, TLS (the harness's CA), TLS + htpasswd Basic auth, TLS + token
# auth (with the harness's token issuer), and a fault-injecting front
# (tests/registry/faults.py) of the plain one.  Run as the unprivileged user.
#
# Environment: SIF; SIF_REGISTRY_ENV, the DIR/env the harness wrote (as root,
# "harness.sh start DIR"): without it this file skips, but under CI=true that
# is a failure.  Every test works in its own cache (SIF_CACHEDIR) and
# temporary directory (SIF_TMPDIR) under $TMP, with HOME in $TMP too, so
# ~/.config/sif/auth.json is ours.
# shellcheck disable=SC2015,SC2016  # A && ok || not_ok is the house style
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

ENVF=${SIF_REGISTRY_ENV:-}
if [ -z "$ENVF" ] || [ ! -r "$ENVF" ]; then
	why="SIF_REGISTRY_ENV is unset or unreadable (as root: tests/registry/harness.sh start DIR; then SIF_REGISTRY_ENV=DIR/env)"
	if [ "${CI:-}" = true ]; then
		not_ok "registry tests cannot run under CI=true: $why"
	else
		skip "$why"
	fi
	done_testing
	exit
fi
# shellcheck disable=SC1090,SC1091
. "$ENVF"
for v in REG_PLAIN REG_TLS REG_BASIC REG_TOKEN REG_FAULT REG_CA REG_USER REG_PASS REG_PLAIN_LOG REG_TLS_LOG \
         REG_BASIC_LOG REG_TOKEN_LOG REG_ISSUER_LOG REG_FAULT_LOG REG_FAULT_CONTROL REG_LAYERS_DIGEST REG_BLOBS_LATEST REG_BLOBS_V3; do
	if [ -z "${!v:-}" ]; then
		not_ok "$ENVF lacks $v: is it from tests/registry/harness.sh?"
		done_testing
		exit
	fi
done
if ! curl -sf -o /dev/null --max-time 5 "http://$REG_PLAIN/v2/" ||
   ! curl -sf -o /dev/null --max-time 5 --cacert "$REG_CA" "https://$REG_TLS/v2/"; then
	not_ok "the registries of $ENVF do not answer (harness.sh stopped?)"
	done_testing
	exit
fi
if ! "$SIF" help pull >/dev/null 2>&1 && ! "$SIF" pull --help >/dev/null 2>&1; then
	not_ok "sif has no pull command ($SIF help pull: $("$SIF" help pull 2>&1 | head -n 1))"
	done_testing
	exit
fi

cd "$TMP" || exit 1
TO=180 # seconds a pull may take at most
export HOME=$TMP/home TZ=UTC SOURCE_DATE_EPOCH=1700000000
export XDG_CACHE_HOME=$TMP/xdg-cache
mkdir -p "$HOME"
unset XDG_CONFIG_HOME DOCKER_CONFIG REGISTRY_AUTH_FILE SIF_CACHEDIR SIF_TMPDIR
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
CA=(--ca-file "$REG_CA")
IMG=layers:latest
BIG=$(echo "$REG_BLOBS_LATEST" | cut -d' ' -f3) # the 3 MiB layer, shared with v2 and v3
WANT_MOTD="layer 3"

# newcache NAME: a fresh SIF_CACHEDIR and SIF_TMPDIR for what follows
newcache() {
	export SIF_CACHEDIR=$TMP/cache-$1 SIF_TMPDIR=$TMP/tmpdir-$1
	mkdir -p "$SIF_CACHEDIR" "$SIF_TMPDIR"
}

# mark LOG: the number of lines LOG has now; since LOG MARK: the lines after it
mark() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }
since() { sleep 0.3; tail -n +"$(($2 + 1))" "$1"; } # docker-registry logs once the answer is sent
# blob_gets LINES DIGEST: how many GETs of the blob DIGEST LINES has (access log)
blob_gets() { grep -c "\"GET /v2/[^ ]*/blobs/$2 HTTP/[0-9.]*\" 200 " <<<"$1"; }

# pull DESC OUT REF [OPTION...]: sif pull -q into OUT; one TAP line
pull() {
	local d=$1 o=$2 ref=$3
	shift 3
	run timeout "$TO" "$SIF" pull -q "$@" "$o" "$ref"
	if [ "$RC" -eq 0 ] && [ -s "$o" ] && [ -z "$ERR" ]; then
		ok "$d"
	else
		not_ok "$d" "command: sif pull -q $* $o $ref" "exit $RC" "stdout: ${OUT:0:300}" "stderr: ${ERR:0:600}"
		return 1
	fi
}

# pull_fails DESC OUT REF [OPTION...]: one line "sif: error: ...", exit 255, no
# OUT (nor anything beside it), nothing left in SIF_TMPDIR
pull_fails() {
	local d=$1 o=$2 ref=$3
	shift 3
	expect_fail "$d" timeout "$TO" "$SIF" pull -q "$@" "$o" "$ref"
	local left
	left=$(find "$(dirname "$o")" -maxdepth 1 -name "$(basename "$o")*" 2>/dev/null; find "${SIF_TMPDIR:-/nonexistent}" -mindepth 1 2>/dev/null)
	[ -z "$left" ] && ok "  ... no $o, nothing left in SIF_TMPDIR" || not_ok "  ... files left after a failed pull" "$left"
}

# error_says DESC REGEX: the last error (ERR) matches REGEX (grep -iE)
error_says() {
	grep -qiE -- "$2" <<<"$ERR" && ok "  ... the error $1" || not_ok "  ... the error does not say $1" "want /$2/" "stderr: ${ERR:0:600}"
}

sqfs() { part "$1" && tail -c +$((P_OFF + 1)) "$1" | head -c "$P_SIZE" >"$2"; }
arch_of() { "$SIF" inspect --objects --json "$1" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["arch"])' 2>/dev/null; }

# motd SIF: /etc/motd of the image, read from its squashfs (no launch needed)
motd() { sqfs "$1" "$1.motd.sqfs" && unsquashfs -cat "$1.motd.sqfs" etc/motd 2>/dev/null; rm -f "$1.motd.sqfs"; }

# same_sqfs DESC A.sif B.sif: the primary partitions are byte for byte the same
same_sqfs() {
	if sqfs "$2" "$2.sqfs" && sqfs "$3" "$3.sqfs" && cmp -s "$2.sqfs" "$3.sqfs"; then
		ok "$1"
	else
		not_ok "$1" "$(cmp "$2.sqfs" "$3.sqfs" 2>&1)"
	fi
	rm -f "$2.sqfs" "$3.sqfs"
}

# cache_files_of DIGEST: the regular files in SIF_CACHEDIR whose path names DIGEST's hex, largest first
cache_files_of() {
	find "$SIF_CACHEDIR" -type f -path "*${1#sha256:}*" -printf '%s %p\n' 2>/dev/null | sort -rn | cut -d' ' -f2-
}

# no_partial_blobs: no file in SIF_CACHEDIR or SIF_TMPDIR is a strict prefix of
# one of layers:latest's blobs (what a truncated download would leave)
no_partial_blobs() {
	local dg f s bs found=
	for dg in $REG_BLOBS_LATEST; do
		[ -f "$TMP/blob-${dg#sha256:}" ] || curl -sf -o "$TMP/blob-${dg#sha256:}" "http://$REG_PLAIN/v2/layers/blobs/$dg" || return 1
		bs=$(stat -c %s "$TMP/blob-${dg#sha256:}")
		while IFS= read -r f; do
			s=$(stat -c %s "$f")
			[ "$s" -gt 0 ] && [ "$s" -lt "$bs" ] && cmp -s -n "$s" "$f" "$TMP/blob-${dg#sha256:}" && found+="$f ($s of $bs bytes of $dg) "
		done < <(find "$SIF_CACHEDIR" "$SIF_TMPDIR" -type f 2>/dev/null)
	done
	[ -z "$found" ] || { echo "$found"; return 1; }
}

ms_now() { date +%s%3N; }

# options the sub-commands take, to reach the test registries
help_has() { "$SIF" help "$1" 2>&1 | grep -q -- "$2" || "$SIF" "$1" --help 2>&1 | grep -q -- "$2"; }

# login HOST USER PASSWORD: sif login --password-stdin (with --ca-file when login takes it)
login() {
	local extra=()
	help_has login --ca-file && extra=("${CA[@]}")
	printf '%s\n' "$3" | timeout 60 "$SIF" login "${extra[@]}" --username "$2" --password-stdin "$1" >"$TMP/login.out" 2>"$TMP/login.err"
	RC=$?
	OUT=$(cat "$TMP/login.out")
	ERR=$(cat "$TMP/login.err")
	return $RC
}
# no_secret DESC SECRET...: none of SECRET appears in OUT or ERR
no_secret() {
	local d=$1 s
	shift
	for s in "$@"; do
		if [ -n "$s" ] && grep -qF -- "$s" <<<"$OUT$ERR"; then not_ok "$d" "a secret was printed"; return; fi
	done
	grep -q 'eyJ[A-Za-z0-9_-]\{20,\}' <<<"$OUT$ERR" && { not_ok "$d" "a JWT was printed"; return; }
	ok "$d"
}
AUTH=$HOME/.config/sif/auth.json

# =========================================================================
# ---- plain HTTP: only with --insecure -------------------------------------
newcache plain
m=$(mark "$REG_PLAIN_LOG")
pull_fails "plain HTTP without --insecure: refused" refused.sif "docker://$REG_PLAIN/$IMG"
grep -q '"[A-Z]* /v2/layers/' <<<"$(since "$REG_PLAIN_LOG" "$m")" &&
	not_ok "  ... yet it spoke plain HTTP to the registry" "$(since "$REG_PLAIN_LOG" "$m" | head -5)" ||
	ok "  ... and never fell back to plain HTTP"
if pull "plain HTTP with --insecure" plain.sif "docker://$REG_PLAIN/$IMG" --insecure; then
	[ "$(motd plain.sif)" = "$WANT_MOTD" ] && ok "  ... its /etc/motd is layers:latest's" || not_ok "  ... /etc/motd: $(motd plain.sif)"
fi

# ---- TLS: --ca-file -----------------------------------------------------------
newcache tls
pull_fails "TLS without the CA: refused" noca.sif "docker://$REG_TLS/$IMG"
error_says "names the certificate or --ca-file" 'ca-file|certif|\bCA\b|verify'
pull "TLS with --ca-file" tls.sif "docker://$REG_TLS/$IMG" "${CA[@]}" || true
[ -d "$SIF_TMPDIR" ] && [ -z "$(find "$SIF_TMPDIR" -mindepth 1)" ] && ok "  ... SIF_TMPDIR is left empty" ||
	not_ok "  ... SIF_TMPDIR holds files after a pull" "$(find "$SIF_TMPDIR" -mindepth 1 | head)"

# ---- the same bytes as sif build from the layout -------------------------------
FX=${REG_FIXTURES:-${SIF_BUILD_FIXTURES:-}}
if [ -n "$FX" ] && [ -r "$FX/layers/index.json" ] && [ -f tls.sif ]; then
	run timeout "$TO" "$SIF" build -q ref.sif "oci:$FX/layers:latest"
	if [ "$RC" -eq 0 ] && [ -f ref.sif ]; then
		if sqfs tls.sif tls.sqfs && sqfs ref.sif ref.sqfs && unsquashfs -lln tls.sqfs >tls.list 2>&1 &&
		   unsquashfs -lln ref.sqfs >ref.list 2>&1 && cmp -s tls.list ref.list; then
			ok "pulled = sif build oci:layers:latest: the same files (unsquashfs -lln)"
		else
			not_ok "pulled and built images list other files" "$(diff ref.list tls.list 2>&1 | head -20)"
		fi
		cmp -s tls.sqfs ref.sqfs && ok "  ... and the same squashfs bytes (SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH)" ||
			not_ok "  ... the squashfs bytes differ from sif build's" "$(cmp tls.sqfs ref.sqfs 2>&1)"
		cmp -s tls.sif ref.sif && echo "#   note: the whole SIF equals sif build's" ||
			echo "#   note: the SIF files differ outside the squashfs (metadata objects)"
		rm -f tls.sqfs ref.sqfs
		pull "Docker schema 2 manifest (docker-layers:latest)" docker.sif "docker://$REG_TLS/docker-layers:latest" "${CA[@]}" &&
			same_sqfs "  ... the same squashfs as sif build oci:layers:latest" docker.sif ref.sif
	else
		not_ok "sif build oci:$FX/layers:latest (the reference)" "exit $RC" "${ERR:0:400}"
	fi
else
	skip "REG_FIXTURES has no layers layout: pulled images not compared with sif build"
fi

# ---- by digest, --jobs, --compress, -F ------------------------------------------
if [ -f tls.sif ]; then
	newcache digest
	pull "by digest: layers@$REG_LAYERS_DIGEST" digest.sif "docker://$REG_TLS/layers@$REG_LAYERS_DIGEST" "${CA[@]}" &&
		same_sqfs "  ... the same squashfs as by tag" digest.sif tls.sif
	newcache jobs
	pull "--jobs 1" jobs1.sif "docker://$REG_TLS/$IMG" "${CA[@]}" --jobs 1 &&
		{ cmp -s jobs1.sif tls.sif && ok "  ... the same bytes as the default" || not_ok "  ... --jobs 1 gives other bytes"; }
	pull "--compress gzip" gzip.sif "docker://$REG_TLS/$IMG" "${CA[@]}" --compress gzip &&
		{ part gzip.sif && [ "$(od -An -tu2 -j $((P_OFF + 20)) -N2 gzip.sif | tr -d ' ')" = 1 ] &&
			ok "  ... the squashfs is gzip-compressed" || not_ok "  ... not gzip (superblock compressor)"; }
	cp tls.sif exists.sif
	expect_fail "an existing OUT without -F: refused" timeout "$TO" "$SIF" pull -q "${CA[@]}" exists.sif "docker://$REG_TLS/$IMG"
	cmp -s tls.sif exists.sif && ok "  ... OUT is untouched" || not_ok "  ... OUT was changed"
	pull "-F replaces it" exists.sif "docker://$REG_TLS/$IMG" "${CA[@]}" -F
	newcache digest-bad
	pull_fails "an unknown digest: error" baddigest.sif "docker://$REG_TLS/layers@sha256:$(printf x | sha256sum | cut -d' ' -f1)" "${CA[@]}"
	error_says "says not found / unknown / 404" 'not found|unknown|404|no such'
fi

# ---- 404, connection refused ---------------------------------------------------
newcache errors
pull_fails "an unknown tag: error" notag.sif "docker://$REG_TLS/layers:no-such-tag" "${CA[@]}"
error_says "says not found / unknown / 404" 'not found|unknown|404|no such'
pull_fails "an unknown repository: error" norepo.sif "docker://$REG_TLS/no-such-repo:latest" "${CA[@]}"
closed=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
pull_fails "connection refused: error" refused2.sif "docker://127.0.0.1:$closed/$IMG" "${CA[@]}"
error_says "says the connection failed" 'refused|connect'

# ---- warm pull: one request -------------------------------------------------------
newcache warm
run timeout "$TO" "$SIF" pull -q "${CA[@]}" "docker://$REG_TLS/$IMG"
cold=$OUT
if [ "$RC" -eq 0 ] && [ "$(grep -c '' <<<"$OUT")" -eq 1 ] && [ -f "$OUT" ] && [ "${OUT#"$SIF_CACHEDIR"/}" != "$OUT" ]; then
	ok "without OUT: prints the cached SIF's path, under SIF_CACHEDIR"
else
	not_ok "pull without OUT" "exit $RC" "stdout: ${OUT:0:300}" "stderr: ${ERR:0:400}"
fi
m=$(mark "$REG_TLS_LOG")
t0=$(ms_now)
run timeout "$TO" "$SIF" pull -q "${CA[@]}" "docker://$REG_TLS/$IMG"
t1=$(ms_now)
lines=$(since "$REG_TLS_LOG" "$m")
n=$(grep -c '' <<<"$lines")
[ "$RC" -eq 0 ] && [ "$OUT" = "$cold" ] && ok "warm pull: the same cached SIF" || not_ok "warm pull" "exit $RC" "$OUT" "${ERR:0:300}"
[ "$n" -eq 1 ] && grep -q '"HEAD /v2/layers/manifests/latest ' <<<"$lines" &&
	ok "  ... one request to the registry: HEAD of the manifest" || not_ok "  ... $n requests to the registry, want 1 (HEAD of the manifest)" "$lines"
echo "#   timing: warm pull (manifest request included) $((t1 - t0)) ms (issue 6's target: < 100 ms)"
m=$(mark "$REG_TLS_LOG")
pull "warm pull into OUT" warm-out.sif "docker://$REG_TLS/$IMG" "${CA[@]}" &&
	{ cmp -s warm-out.sif "$cold" && ok "  ... the cached SIF's bytes" || not_ok "  ... OUT differs from the cached SIF"; }
[ "$(blob_gets "$(since "$REG_TLS_LOG" "$m")" "$BIG")" -eq 0 ] && ok "  ... no blob fetched" || not_ok "  ... blobs fetched again"

# default cache: $XDG_CACHE_HOME/sif
unset SIF_CACHEDIR SIF_TMPDIR
run timeout "$TO" "$SIF" pull -q "${CA[@]}" "docker://$REG_TLS/layers:v1"
[ "$RC" -eq 0 ] && [ "${OUT#"$XDG_CACHE_HOME/sif/"}" != "$OUT" ] && [ -f "$OUT" ] &&
	ok "without SIF_CACHEDIR the cache is \$XDG_CACHE_HOME/sif" || not_ok "default cache" "exit $RC" "stdout: $OUT" "${ERR:0:300}"

# ---- 8 concurrent pulls into one cache -----------------------------------------------
newcache conc
m=$(mark "$REG_TLS_LOG")
mkdir -p conc
for i in 1 2 3 4 5 6 7 8; do
	timeout "$TO" "$SIF" pull -q "${CA[@]}" "conc/$i.sif" "docker://$REG_TLS/$IMG" >"conc/$i.out" 2>"conc/$i.err" &
done
bad=
for i in 1 2 3 4 5 6 7 8; do wait -n || bad+="one exited $? "; done
for i in 1 2 3 4 5 6 7 8; do
	[ -s "conc/$i.sif" ] && [ ! -s "conc/$i.err" ] || bad+="#$i: $(head -c 300 "conc/$i.err") "
	cmp -s conc/1.sif "conc/$i.sif" || bad+="#$i differs from #1 "
done
[ -z "$bad" ] && ok "8 concurrent pulls into one cache: all succeed, identical files" || not_ok "8 concurrent pulls" "$bad"
lines=$(since "$REG_TLS_LOG" "$m")
bad=
for dg in $REG_BLOBS_LATEST; do
	c=$(blob_gets "$lines" "$dg")
	[ "$c" -eq 1 ] || bad+="${dg:7:12}: $c GETs; "
done
[ -z "$bad" ] && ok "  ... each blob fetched once (registry log)" || not_ok "  ... blobs fetched more than once or not at all" "$bad"
echo "#   8 concurrent pulls: $(grep -c '/manifests/' <<<"$lines") manifest requests, $(grep -c '/blobs/' <<<"$lines") blob requests"
[ -f tls.sif ] && { cmp -s conc/1.sif tls.sif && ok "  ... the same bytes as a lone pull" || not_ok "  ... other bytes than a lone pull"; }
run timeout "$TO" "$SIF" cache verify
[ "$RC" -eq 0 ] && ok "  ... sif cache verify: the cache is sound" || not_ok "sif cache verify after concurrent pulls" "exit $RC" "${OUT:0:300}" "${ERR:0:300}"
[ -z "$(find "$SIF_TMPDIR" -mindepth 1 2>/dev/null)" ] && ok "  ... SIF_TMPDIR is left empty" ||
	not_ok "  ... SIF_TMPDIR holds files" "$(find "$SIF_TMPDIR" -mindepth 1 | head)"

# ---- multi-arch index ----------------------------------------------------------------------
newcache arch
case $(uname -m) in aarch64) HOSTARCH=arm64 ;; *) HOSTARCH=amd64 ;; esac
if pull "multi-arch index, default" arch-default.sif "docker://$REG_TLS/multiarch:latest" "${CA[@]}"; then
	[ "$(arch_of arch-default.sif)" = "$HOSTARCH" ] && ok "  ... the header says $HOSTARCH" || not_ok "  ... header arch $(arch_of arch-default.sif)"
	[ "$(sqfs arch-default.sif a.sqfs && unsquashfs -cat a.sqfs etc/arch 2>/dev/null)" = "$HOSTARCH" ] &&
		ok "  ... /etc/arch is $HOSTARCH" || not_ok "  ... /etc/arch is not $HOSTARCH"
fi
if pull "multi-arch index, --arch arm64" arch-arm64.sif "docker://$REG_TLS/multiarch:latest" "${CA[@]}" --arch arm64; then
	[ "$(arch_of arch-arm64.sif)" = arm64 ] && ok "  ... the header says arm64" || not_ok "  ... header arch $(arch_of arch-arm64.sif)"
	[ "$(sqfs arch-arm64.sif b.sqfs && unsquashfs -cat b.sqfs etc/arch 2>/dev/null)" = arm64 ] &&
		ok "  ... /etc/arch is arm64" || not_ok "  ... /etc/arch is not arm64"
fi
pull_fails "--arch s390x, not in the index: error" arch-none.sif "docker://$REG_TLS/multiarch:latest" "${CA[@]}" --arch s390x
rm -f a.sqfs b.sqfs

# ---- Basic auth: login / logout -----------------------------------------------------------
newcache basic
pull_fails "Basic auth, anonymous: refused" anon.sif "docker://$REG_BASIC/$IMG" "${CA[@]}"
error_says "says 401 / unauthorized" '401|unauthori[sz]ed|authenticat|credentials|denied'
login "$REG_BASIC" "$REG_USER" "wrong-$REG_PASS"
if [ "$RC" -ne 0 ]; then
	[ "$RC" -eq 255 ] && [ "$(grep -c '' <<<"$ERR")" -eq 1 ] && [ "${ERR#sif: error: }" != "$ERR" ] &&
		ok "login with a wrong password: refused at once (one line, exit 255)" || not_ok "login with a wrong password" "exit $RC" "$ERR"
	error_says "says 401 / unauthorized" '401|unauthori[sz]ed|authenticat|credentials|denied|password'
else
	ok "login with a wrong password: stored, to be refused at pull"
fi
pull_fails "  ... then a pull is refused" wrongpw.sif "docker://$REG_BASIC/$IMG" "${CA[@]}"
error_says "says 401 / unauthorized" '401|unauthori[sz]ed|authenticat|credentials|denied'
no_secret "  ... and does not print the password" "wrong-$REG_PASS"
login "$REG_BASIC" "$REG_USER" "$REG_PASS" && ok "sif login --password-stdin (Basic)" || not_ok "sif login (Basic)" "exit $RC" "$OUT" "$ERR"
no_secret "  ... prints no secret" "$REG_PASS"
if [ -f "$AUTH" ]; then
	[ $(( 0$(stat -c %a "$AUTH") & 077 )) -eq 0 ] && ok "  ... $AUTH is private (mode $(stat -c %a "$AUTH"))" ||
		not_ok "  ... $AUTH is readable by others (mode $(stat -c %a "$AUTH"))"
	grep -q "$REG_BASIC" "$AUTH" && ok "  ... auth.json names $REG_BASIC" || not_ok "  ... auth.json lacks $REG_BASIC" "$(head -c 300 "$AUTH")"
else
	not_ok "  ... no $AUTH after sif login"
fi
m=$(mark "$REG_BASIC_LOG")
pull "Basic auth: pull after login" basic.sif "docker://$REG_BASIC/$IMG" "${CA[@]}" &&
	{ [ "$(motd basic.sif)" = "$WANT_MOTD" ] && ok "  ... layers:latest" || not_ok "  ... wrong image"; }
no_secret "  ... prints no secret" "$REG_PASS"
grep -q '" 200 ' <<<"$(since "$REG_BASIC_LOG" "$m")" && ok "  ... the registry served it (log)" || not_ok "  ... nothing in the registry log"
run timeout 60 "$SIF" logout "$REG_BASIC"
[ "$RC" -eq 0 ] && ok "sif logout $REG_BASIC" || not_ok "sif logout (Basic)" "exit $RC" "$ERR"
[ -f "$AUTH" ] && grep -q "$REG_BASIC" "$AUTH" && not_ok "  ... auth.json still names $REG_BASIC" || ok "  ... auth.json no longer names it"
newcache basic2
pull_fails "  ... then a pull is refused" basic-out.sif "docker://$REG_BASIC/$IMG" "${CA[@]}"
error_says "says 401 / unauthorized" '401|unauthori[sz]ed|authenticat|credentials|denied'

# ---- token auth ------------------------------------------------------------------------------
newcache token
m=$(mark "$REG_ISSUER_LOG")
pull_fails "token auth, anonymous: refused" tanon.sif "docker://$REG_TOKEN/$IMG" "${CA[@]}"
error_says "says 401 / unauthorized" '401|unauthori[sz]ed|authenticat|credentials|denied'
grep -q '	-	repository:layers:	200$' <<<"$(since "$REG_ISSUER_LOG" "$m")" &&
	ok "  ... after asking the issuer anonymously (log)" || not_ok "  ... the issuer was not asked anonymously" "$(since "$REG_ISSUER_LOG" "$m")"
login "$REG_TOKEN" "$REG_USER" "wrong-$REG_PASS"
if [ "$RC" -ne 0 ]; then
	[ "$RC" -eq 255 ] && [ "$(grep -c '' <<<"$ERR")" -eq 1 ] && ok "token login with a wrong password: refused at once" ||
		not_ok "token login with a wrong password" "exit $RC" "$ERR"
else
	pull_fails "token login with a wrong password, then pull: refused" twrong.sif "docker://$REG_TOKEN/$IMG" "${CA[@]}"
	error_says "says 401 / unauthorized" '401|unauthori[sz]ed|authenticat|credentials|denied'
fi
login "$REG_TOKEN" "$REG_USER" "$REG_PASS" && ok "sif login --password-stdin (token)" || not_ok "sif login (token)" "exit $RC" "$OUT" "$ERR"
m=$(mark "$REG_ISSUER_LOG")
pull "token auth: pull after login" token.sif "docker://$REG_TOKEN/$IMG" "${CA[@]}" &&
	{ [ "$(motd token.sif)" = "$WANT_MOTD" ] && ok "  ... layers:latest" || not_ok "  ... wrong image"; }
no_secret "  ... prints no secret" "$REG_PASS"
grep -q "	$REG_USER	repository:layers:pull	200\$" <<<"$(since "$REG_ISSUER_LOG" "$m")" &&
	ok "  ... with a token the issuer granted $REG_USER (log)" || not_ok "  ... no grant in the issuer's log" "$(since "$REG_ISSUER_LOG" "$m")"
run timeout 60 "$SIF" logout "$REG_TOKEN"
[ "$RC" -eq 0 ] && ok "sif logout $REG_TOKEN" || not_ok "sif logout (token)" "exit $RC" "$ERR"
newcache token2
pull_fails "  ... then a pull is refused" token-out.sif "docker://$REG_TOKEN/$IMG" "${CA[@]}"
error_says "says 401 / unauthorized" '401|unauthori[sz]ed|authenticat|credentials|denied'
run timeout 60 "$SIF" logout "$REG_TOKEN"
[ "$RC" -eq 0 ] || { [ "$RC" -eq 255 ] && [ "$(grep -c '' <<<"$ERR")" -eq 1 ]; } &&
	ok "logout when not logged in: 0, or one line and 255" || not_ok "logout twice" "exit $RC" "$ERR"

# ---- sif build / sif exec docker:// ------------------------------------------------------------
newcache build
# sif build and sif exec: --ca-file when they take it, else $SIF_CA_FILE
if help_has build --ca-file; then
	run timeout "$TO" "$SIF" build -q "${CA[@]}" built.sif "docker://$REG_TLS/$IMG"
else
	run env SIF_CA_FILE="$REG_CA" timeout "$TO" "$SIF" build -q built.sif "docker://$REG_TLS/$IMG"
fi
[ "$RC" -eq 0 ] && [ -s built.sif ] && ok "sif build OUT docker://..." || not_ok "sif build docker://" "exit $RC" "${ERR:0:400}"
[ -f built.sif ] && [ -f tls.sif ] && same_sqfs "  ... the same squashfs as sif pull" built.sif tls.sif
newcache exec
if help_has exec --ca-file; then
	run timeout "$TO" "$SIF" exec "${CA[@]}" "docker://$REG_TLS/$IMG" cat /etc/motd
else
	run env SIF_CA_FILE="$REG_CA" timeout "$TO" "$SIF" exec "docker://$REG_TLS/$IMG" cat /etc/motd
fi
[ "$RC" -eq 0 ] && [ "$OUT" = "$WANT_MOTD" ] && ok "sif exec docker://... cat /etc/motd" || not_ok "sif exec docker://" "exit $RC" "stdout: $OUT" "${ERR:0:400}"
m=$(mark "$REG_TLS_LOG")
run env SIF_CA_FILE="$REG_CA" timeout "$TO" "$SIF" exec "docker://$REG_TLS/$IMG" cat /etc/motd
n=$(grep -c '' <<<"$(since "$REG_TLS_LOG" "$m")")
[ "$RC" -eq 0 ] && [ "$OUT" = "$WANT_MOTD" ] && [ "$n" -eq 1 ] && ok "  ... again: from the cache, after one request" ||
	not_ok "  ... sif exec docker:// again" "exit $RC, $n requests" "stdout: $OUT" "${ERR:0:400}"

# ---- sif cache list / verify / clean, and a corrupted entry ----------------------------------
newcache cache
pull "into a fresh cache" c-latest.sif "docker://$REG_TLS/$IMG" "${CA[@]}"
run timeout 60 "$SIF" cache list
[ "$RC" -eq 0 ] && grep -qE "layers|${REG_LAYERS_DIGEST:7:12}" <<<"$OUT" && ok "sif cache list names the image" ||
	not_ok "sif cache list" "exit $RC" "${OUT:0:400}" "${ERR:0:300}"
run timeout 120 "$SIF" cache verify
[ "$RC" -eq 0 ] && ok "sif cache verify: sound" || not_ok "sif cache verify" "exit $RC" "${OUT:0:300}" "${ERR:0:300}"
f=$(cache_files_of "$BIG" | head -n 1)
if [ -n "$f" ] && [ -w "$f" ]; then
	# one bit flipped in the middle, same size and times: only a re-hash sees it
	python3 -c '
import os, sys
p = sys.argv[1]; st = os.stat(p)
with open(p, "r+b") as f:
    f.seek(st.st_size // 2); b = f.read(1); f.seek(st.st_size // 2); f.write(bytes([b[0] ^ 1]))
os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))' "$f"
	run timeout 120 "$SIF" cache verify
	# detected = a line naming the blob as bad; the exit status (0 once the
	# entry is removed, or 255) is the client's choice, shown as a note
	if grep "${BIG:7:12}" <<<"$OUT
$ERR" | grep -qiE 'corrupt|mismatch|bad|damaged|invalid|differ'; then
		ok "a flipped bit in a cached blob: sif cache verify names it"
		echo "#   note: sif cache verify exits $RC after finding a corrupted blob"
	else
		not_ok "sif cache verify misses a corrupted blob" "exit $RC" "${OUT:0:300}" "${ERR:0:300}"
	fi
	m=$(mark "$REG_TLS_LOG")
	pull "  ... then a pull of layers:v3 (shares it)" c-v3.sif "docker://$REG_TLS/layers:v3" "${CA[@]}" &&
		{ [ "$(motd c-v3.sif)" = "layer 3" ] && ok "  ... v3 is right" || not_ok "  ... v3 is wrong"; }
	[ "$(blob_gets "$(since "$REG_TLS_LOG" "$m")" "$BIG")" -eq 1 ] && ok "  ... fetched the blob again" ||
		not_ok "  ... did not fetch the corrupted blob again" "$(since "$REG_TLS_LOG" "$m")"
	if [ -n "$FX" ] && [ -r "$FX/layers/index.json" ]; then
		run timeout "$TO" "$SIF" build -q ref-v3.sif "oci:$FX/layers:v3" && same_sqfs "  ... the same squashfs as sif build oci:layers:v3" c-v3.sif ref-v3.sif
	fi
	run timeout 120 "$SIF" cache verify
	[ "$RC" -eq 0 ] && ok "  ... sif cache verify: sound again" || not_ok "  ... sif cache verify still fails" "exit $RC" "${ERR:0:300}"
	# a cached blob cut short: the cheap check on read catches it
	f=$(cache_files_of "$BIG" | head -n 1)
	if [ -n "$f" ] && [ -w "$f" ]; then
		truncate -s 1000 "$f"
		m=$(mark "$REG_TLS_LOG")
		pull "a cached blob cut short: a pull of layers:v2 (shares it)" c-v2.sif "docker://$REG_TLS/layers:v2" "${CA[@]}" &&
			{ [ "$(motd c-v2.sif)" = "layer 2" ] && ok "  ... v2 is right" || not_ok "  ... v2 is wrong"; }
		[ "$(blob_gets "$(since "$REG_TLS_LOG" "$m")" "$BIG")" -eq 1 ] && ok "  ... fetched the blob again" ||
			not_ok "  ... did not fetch the short blob again"
	fi
else
	not_ok "no file in SIF_CACHEDIR is named by the blob ${BIG:7:12}... (content-addressed cache)" "$(find "$SIF_CACHEDIR" -type f | head)"
fi
run timeout 60 "$SIF" cache clean
[ "$RC" -eq 0 ] && ok "sif cache clean" || not_ok "sif cache clean" "exit $RC" "${ERR:0:300}"
run timeout 60 "$SIF" cache clean --all
[ "$RC" -eq 0 ] && ok "sif cache clean --all" || not_ok "sif cache clean --all" "exit $RC" "${ERR:0:300}"
left=
for dg in $REG_BLOBS_LATEST; do left+=$(cache_files_of "$dg"); done
[ -z "$left" ] && ok "  ... no blob is left" || not_ok "  ... blobs are left" "$left"
run timeout 60 "$SIF" cache list
[ "$RC" -eq 0 ] && ! grep -q "${REG_LAYERS_DIGEST:7:12}" <<<"$OUT" && ok "  ... sif cache list no longer names the image" ||
	not_ok "  ... sif cache list after clean --all" "exit $RC" "${OUT:0:300}"
m=$(mark "$REG_TLS_LOG")
pull "  ... a pull after it" c-again.sif "docker://$REG_TLS/$IMG" "${CA[@]}"
lines=$(since "$REG_TLS_LOG" "$m")
bad=
for dg in $REG_BLOBS_LATEST; do [ "$(blob_gets "$lines" "$dg")" -eq 1 ] || bad+="${dg:7:12} "; done
[ -z "$bad" ] && ok "  ... fetches every blob again" || not_ok "  ... blobs not fetched once each: $bad"

# ---- faults (through faults.py, plain HTTP) ------------------------------------------------------
N=$$-$RANDOM
F="docker://$REG_FAULT/fault"
fault_lines() { grep -F "/v2/fault/$1/" "$REG_FAULT_LOG"; }

newcache f429
t0=$(ms_now)
pull "429 twice, then 200: the pull succeeds" f429.sif "$F/429x2.n$N/$IMG" --insecure
t1=$(ms_now)
l=$(fault_lines "429x2.n$N")
[ "$(grep -c '	429	[0-9]*	429$' <<<"$l")" -eq 2 ] && grep -q '	200	[0-9]*	-$' <<<"$l" &&
	ok "  ... two 429s, then a retry that passed (log)" || not_ok "  ... the log shows no retry" "$l"
[ $((t1 - t0)) -ge 1000 ] && ok "  ... it waited (Retry-After: 1): $((t1 - t0)) ms" || not_ok "  ... Retry-After ignored: $((t1 - t0)) ms"
newcache f429b
pull "429 on a blob once: the pull succeeds" f429b.sif "$F/429x1-blob.n$N/$IMG" --insecure
newcache f503
pull "503 twice, then 200: the pull succeeds" f503.sif "$F/503x2.n$N/$IMG" --insecure
[ "$(grep -c '	503	[0-9]*	503$' <<<"$(fault_lines "503x2.n$N")")" -eq 2 ] && ok "  ... after two 503s (log)" || not_ok "  ... the 503s are not in the log"
newcache f500
t0=$(ms_now)
pull_fails "500 every time: error after retries" f500.sif "$F/500x1000.n$N/$IMG" --insecure
t1=$(ms_now)
error_says "says 500" '500|server error'
c=$(grep -c '	500	[0-9]*	500$' <<<"$(fault_lines "500x1000.n$N")")
[ "$c" -ge 2 ] && [ "$c" -le 20 ] && ok "  ... after $c tries in $((t1 - t0)) ms" || not_ok "  ... $c tries (want 2..20)"
newcache f500b
pull_fails "500 on every blob: error" f500b.sif "$F/500x1000-blob.n$N/$IMG" --insecure
newcache f404
pull_fails "404 on the manifest: error" f404.sif "$F/404x1000-manifest.n$N/$IMG" --insecure
error_says "says not found / 404" 'not found|unknown|404'

newcache ftrunc
pull_fails "a truncated blob transfer: error" ftrunc.sif "$F/truncate.n$N/$IMG" --insecure
grep -q 'truncate:' <<<"$(fault_lines "truncate.n$N")" && ok "  ... (the front cut a transfer)" || not_ok "  ... the front cut nothing" "$(fault_lines "truncate.n$N")"
r=$(no_partial_blobs) && ok "  ... no partial blob in the cache or SIF_TMPDIR" || not_ok "  ... a partial blob was kept" "$r"
run timeout 120 "$SIF" cache verify
[ "$RC" -eq 0 ] && ok "  ... sif cache verify: sound" || not_ok "  ... sif cache verify after a truncated transfer" "exit $RC" "${ERR:0:300}"
pull "  ... and a pull without the fault, same cache, succeeds" ftrunc-ok.sif "docker://$REG_FAULT/$IMG" --insecure
newcache ftruncbig
pull_fails "a layer transfer cut in the middle: error" ftruncbig.sif "$F/truncate-bigblob.n$N/$IMG" --insecure
grep -q 'truncate:' <<<"$(fault_lines "truncate-bigblob.n$N")" && ok "  ... (the front cut a layer)" || not_ok "  ... the front cut nothing"
r=$(no_partial_blobs) && ok "  ... no partial blob in the cache or SIF_TMPDIR" || not_ok "  ... a partial blob was kept" "$r"
run timeout 120 "$SIF" cache verify
[ "$RC" -eq 0 ] && ok "  ... sif cache verify: sound" || not_ok "  ... sif cache verify after a cut layer" "exit $RC" "${ERR:0:300}"
newcache ftrunc1
run timeout "$TO" "$SIF" pull -q --insecure ftrunc1.sif "$F/truncatex1.n$N/$IMG"
if [ "$RC" -eq 0 ] && [ -s ftrunc1.sif ] && [ -z "$ERR" ]; then
	ok "a transfer truncated once: retried, the pull succeeds"
elif [ "$RC" -eq 255 ] && [ ! -e ftrunc1.sif ] && [ "$(grep -c '' <<<"$ERR")" -eq 1 ]; then
	ok "a transfer truncated once: one clean error (not retried)"
else
	not_ok "a transfer truncated once" "exit $RC" "stderr: ${ERR:0:400}"
fi
# the build reads each layer while it downloads: a layer cut once in the
# middle and fetched again leaves nothing of the first try in the image
newcache ftruncbig1
run timeout "$TO" "$SIF" pull -q -v --insecure ftruncbig1.sif "$F/truncatex1-bigblob.n$N/$IMG"
if [ "$RC" -eq 0 ] && [ -s ftruncbig1.sif ]; then
	ok "a layer cut once in the middle: retried, the pull succeeds"
	grep -q 'truncate:' <<<"$(fault_lines "truncatex1-bigblob.n$N")" && ok "  ... (the front cut a layer)" || not_ok "  ... the front cut nothing"
	same_sqfs "  ... the image is the one pulled without a fault" ftrunc-ok.sif ftruncbig1.sif
	grep -q 'started over: building from the cache' <<<"$ERR" &&
		echo "# (the build had read the cut layer: it was built again from the cache)"
else
	not_ok "a layer cut once in the middle" "exit $RC" "stderr: $(grep -v ' debug: ' <<<"$ERR" | head -c 400)"
fi

newcache fcorrupt
pull_fails "a corrupted blob (one bit): error" fcorrupt.sif "$F/corrupt.n$N/$IMG" --insecure
error_says "says digest" 'digest|sha256|checksum|hash'
run timeout 120 "$SIF" cache verify
[ "$RC" -eq 0 ] && ok "  ... sif cache verify: sound (nothing bad kept)" || not_ok "  ... sif cache verify after a corrupted blob" "exit $RC" "${ERR:0:300}"
bad=
while IFS= read -r f; do
	h=$(sha256sum "$f" | cut -d' ' -f1)
	for dg in $REG_BLOBS_LATEST; do
		[[ $f == *"${dg#sha256:}"* ]] && [ "$(stat -c %s "$f")" -eq "$(stat -c %s "$TMP/blob-${dg#sha256:}" 2>/dev/null || echo -1)" ] &&
			[ "sha256:$h" != "$dg" ] && bad+="$f "
	done
done < <(find "$SIF_CACHEDIR" -type f)
[ -z "$bad" ] && ok "  ... no cached blob has a wrong digest" || not_ok "  ... a corrupted blob was cached" "$bad"

newcache fcorruptbig
pull_fails "a corrupted layer (one bit): error" fcorruptbig.sif "$F/corrupt-bigblob.n$N/$IMG" --insecure
error_says "says digest" 'digest|sha256|checksum|hash'

newcache fbig
pull_fails "a 5 MiB manifest: refused" fbig.sif "$F/bigmanifest.n$N/$IMG" --insecure
error_says "says it is too large" 'large|size|MiB|limit|exceed|big'
newcache fbigc
pull_fails "a 5 MiB manifest, chunked (no Content-Length): refused" fbigc.sif "$F/bigchunked.n$N/$IMG" --insecure
error_says "says it is too large" 'large|size|MiB|limit|exceed|big'

# the control file: every request of the next pull sees the fault
if [ -w "$REG_FAULT_CONTROL" ]; then
	newcache fctl
	echo "503x1.c$N" >"$REG_FAULT_CONTROL"
	pull "control file: one 503 on the first request, then the pull succeeds" fctl.sif "docker://$REG_FAULT/$IMG" --insecure
	: >"$REG_FAULT_CONTROL"
fi


# ---- a tag that moves: HEAD while it stays, GET once it moved -------------------------
# (pushed with skopeo as this user: the TLS registry takes anonymous pushes)
SK=(skopeo --policy "$REG_DIR/policy.json" --registries-conf "$REG_DIR/registries.conf")
MOV=moving-$$-$RANDOM
if [ -n "$FX" ] && [ -r "$FX/layers/index.json" ] &&
   "${SK[@]}" copy -q --preserve-digests --dest-cert-dir "$REG_DIR/skopeo-certs" "oci:$FX/layers:v1" "docker://$REG_TLS/layers:$MOV" >"$TMP/skopeo.log" 2>&1; then
	newcache moving
	m=$(mark "$REG_TLS_LOG")
	pull "a new tag: pulled" mov1.sif "docker://$REG_TLS/layers:$MOV" "${CA[@]}" &&
		{ [ "$(motd mov1.sif)" = "layer 1" ] && ok "  ... layers:v1's content" || not_ok "  ... wrong image: $(motd mov1.sif)"; }
	lines=$(since "$REG_TLS_LOG" "$m")
	grep -q "\"GET /v2/layers/manifests/$MOV " <<<"$lines" && ! grep -q "\"HEAD /v2/layers/manifests/$MOV " <<<"$lines" &&
		ok "  ... asked with GET alone (nothing cached: no HEAD first)" || not_ok "  ... the requests of a cold pull" "$(grep manifests <<<"$lines")"
	m=$(mark "$REG_TLS_LOG")
	pull "  ... again, unchanged" mov2.sif "docker://$REG_TLS/layers:$MOV" "${CA[@]}"
	lines=$(since "$REG_TLS_LOG" "$m")
	[ "$(grep -c '' <<<"$lines")" -eq 1 ] && grep -q "\"HEAD /v2/layers/manifests/$MOV " <<<"$lines" &&
		ok "  ... one request: HEAD of the manifest" || not_ok "  ... want one HEAD" "$lines"
	if "${SK[@]}" copy -q --preserve-digests --dest-cert-dir "$REG_DIR/skopeo-certs" "oci:$FX/layers:v2" "docker://$REG_TLS/layers:$MOV" >"$TMP/skopeo.log" 2>&1; then
		m=$(mark "$REG_TLS_LOG")
		pull "  ... the tag moved to layers:v2: pulled again" mov3.sif "docker://$REG_TLS/layers:$MOV" "${CA[@]}" &&
			{ [ "$(motd mov3.sif)" = "layer 2" ] && ok "  ... the new content (layer 2)" || not_ok "  ... stale content: $(motd mov3.sif)"; }
		lines=$(since "$REG_TLS_LOG" "$m")
		[ "$(grep -c "\"HEAD /v2/layers/manifests/$MOV " <<<"$lines")" -eq 1 ] &&
			[ "$(grep -c "\"GET /v2/layers/manifests/$MOV " <<<"$lines")" -eq 1 ] &&
			ok "  ... HEAD saw the new digest, then one GET" || not_ok "  ... the requests after the tag moved" "$(grep manifests <<<"$lines")"
		m=$(mark "$REG_TLS_LOG")
		pull "  ... and again" mov4.sif "docker://$REG_TLS/layers:$MOV" "${CA[@]}"
		lines=$(since "$REG_TLS_LOG" "$m")
		[ "$(grep -c '' <<<"$lines")" -eq 1 ] && grep -q '"HEAD ' <<<"$lines" && cmp -s mov3.sif mov4.sif &&
			ok "  ... one HEAD, the same image" || not_ok "  ... after the move, want one HEAD" "$lines"
	else
		not_ok "skopeo cannot move the tag $MOV" "$(tail -n 3 "$TMP/skopeo.log")"
	fi
else
	skip "no fixtures or skopeo cannot push to $REG_TLS: the moving tag is not tested ($(tail -n 1 "$TMP/skopeo.log" 2>/dev/null))"
fi

# ---- mirrors (SIF_REGISTRY_MIRRORS) -------------------------------------------------------------
closed=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DOWN=127.0.0.1:$closed
newcache mirror1
m=$(mark "$REG_PLAIN_LOG")
SIF_REGISTRY_MIRRORS="$DOWN=http://$REG_PLAIN" pull "mirror: the registry is down, its mirror serves the pull" mir1.sif "docker://$DOWN/$IMG" &&
	{ [ "$(motd mir1.sif)" = "$WANT_MOTD" ] && ok "  ... layers:latest" || not_ok "  ... wrong image"; }
lines=$(since "$REG_PLAIN_LOG" "$m")
bad=
for dg in $REG_BLOBS_LATEST; do [ "$(blob_gets "$lines" "$dg")" -eq 1 ] || bad+="${dg:7:12} "; done
[ -z "$bad" ] && ok "  ... each blob fetched once from the mirror (its log)" || not_ok "  ... blobs not fetched from the mirror: $bad" "$lines"
newcache mirror2
m=$(mark "$REG_TLS_LOG")
m2=$(mark "$REG_PLAIN_LOG")
SIF_REGISTRY_MIRRORS="$REG_TLS=$DOWN,http://$REG_PLAIN/nothing-here" pull "mirror: one down, one holding nothing: the registry serves it" mir2.sif "docker://$REG_TLS/$IMG" "${CA[@]}"
lines=$(since "$REG_TLS_LOG" "$m")
bad=
for dg in $REG_BLOBS_LATEST; do [ "$(blob_gets "$lines" "$dg")" -eq 1 ] || bad+="${dg:7:12} "; done
[ -z "$bad" ] && grep -q '/v2/nothing-here/layers/manifests/latest' <<<"$(since "$REG_PLAIN_LOG" "$m2")" &&
	ok "  ... after asking the second mirror (its log), every blob from the registry" || not_ok "  ... fallback: $bad" "$(since "$REG_PLAIN_LOG" "$m2" | head -3)"
[ -f mir1.sif ] && { cmp -s mir1.sif mir2.sif && ok "  ... the same image as through the mirror" || not_ok "  ... another image than through the mirror"; }
# the mirror's PREFIX: a repository under another name there
if "${SK[@]}" copy -q --preserve-digests --dest-tls-verify=false "oci:$FX/layers:latest" "docker://$REG_PLAIN/mirror-of/layers:latest" >"$TMP/skopeo.log" 2>&1; then
	newcache mirror3
	m=$(mark "$REG_PLAIN_LOG")
	SIF_REGISTRY_MIRRORS="$DOWN=http://$REG_PLAIN/mirror-of" pull "mirror with a prefix: REPO is PREFIX/REPO there" mir3.sif "docker://$DOWN/$IMG"
	grep -q '"GET /v2/mirror-of/layers/manifests/latest ' <<<"$(since "$REG_PLAIN_LOG" "$m")" && ok "  ... asked for mirror-of/layers (its log)" ||
		not_ok "  ... the mirror was not asked for mirror-of/layers" "$(since "$REG_PLAIN_LOG" "$m" | head -3)"
else
	not_ok "skopeo cannot push mirror-of/layers to $REG_PLAIN" "$(tail -n 3 "$TMP/skopeo.log")"
fi
# a mirror that damages a layer: the digest catches it, the registry serves it
newcache mirror4
m=$(mark "$REG_TLS_LOG")
SIF_REGISTRY_MIRRORS="$REG_TLS=http://$REG_FAULT/fault/corrupt-bigblob.mir$N" pull "mirror sends a damaged layer: the pull succeeds from the registry" mir4.sif "docker://$REG_TLS/$IMG" "${CA[@]}"
grep -q 'corrupt:' <<<"$(fault_lines "corrupt-bigblob.mir$N")" && [ "$(blob_gets "$(since "$REG_TLS_LOG" "$m")" "$BIG")" -eq 1 ] &&
	ok "  ... the damaged layer was refused and fetched from the registry (logs)" || not_ok "  ... no digest check through the mirror?" "$(fault_lines "corrupt-bigblob.mir$N" | tail -3)"
[ -f mir1.sif ] && { cmp -s mir1.sif mir4.sif && ok "  ... the right image" || not_ok "  ... another image"; }
run timeout 120 "$SIF" cache verify
[ "$RC" -eq 0 ] && ok "  ... sif cache verify: sound" || not_ok "  ... sif cache verify after a damaging mirror" "exit $RC" "${ERR:0:300}"
newcache mirror5
SIF_REGISTRY_MIRRORS="$DOWN=http://$DOWN" pull_fails "mirror and registry both down: error" mir5.sif "docker://$DOWN/$IMG"
error_says "is the registry's" "cannot connect to $DOWN"
SIF_REGISTRY_MIRRORS="no-equals-sign" pull_fails "a malformed SIF_REGISTRY_MIRRORS: error" mir6.sif "docker://$REG_TLS/$IMG" "${CA[@]}"
error_says "names SIF_REGISTRY_MIRRORS" 'SIF_REGISTRY_MIRRORS'

# ---- Docker credential helpers (credsStore, credHelpers) ---------------------------------------
mkdir -p "$TMP/bin" "$TMP/dockercfg"
cat >"$TMP/bin/docker-credential-siftest" <<EOS
#!/bin/sh
server=\$(cat)
printf '%s %s\n' "\$1" "\$server" >>"$TMP/helper.log"
case \$server in
$REG_BASIC|$REG_TOKEN) printf '{"ServerURL":"%s","Username":"%s","Secret":"%s"}\n' "\$server" "$REG_USER" "$REG_PASS" ;;
*) echo "credentials not found in native keychain"; exit 1 ;;
esac
EOS
printf '#!/bin/sh\ncat >/dev/null\necho "the keyring is locked"\nexit 4\n' >"$TMP/bin/docker-credential-broken"
chmod 755 "$TMP/bin/docker-credential-siftest" "$TMP/bin/docker-credential-broken"
rm -f "$AUTH"
hpath=$TMP/bin:$PATH
newcache helper1
echo '{"auths":{},"credsStore":"siftest"}' >"$TMP/dockercfg/config.json"
: >"$TMP/helper.log"
run env PATH="$hpath" DOCKER_CONFIG="$TMP/dockercfg" timeout "$TO" "$SIF" pull -v "${CA[@]}" h1.sif "docker://$REG_BASIC/$IMG"
[ "$RC" -eq 0 ] && [ -s h1.sif ] && ok "credsStore: docker-credential-siftest gives the Basic credentials" ||
	not_ok "credsStore: pull with the helper's credentials" "exit $RC" "stderr: ${ERR:0:600}"
no_secret "  ... prints no secret, even with -v" "$REG_PASS"
grep -qx "get $REG_BASIC" "$TMP/helper.log" && ok "  ... the helper was asked 'get' for $REG_BASIC" || not_ok "  ... the helper's log" "$(cat "$TMP/helper.log")"
newcache helper2
echo "{\"credHelpers\":{\"$REG_TOKEN\":\"siftest\"}}" >"$TMP/dockercfg/config.json"
PATH=$hpath DOCKER_CONFIG=$TMP/dockercfg pull "credHelpers: the token registry's helper" h2.sif "docker://$REG_TOKEN/$IMG" "${CA[@]}"
no_secret "  ... prints no secret" "$REG_PASS"
newcache helper3
echo "{\"credHelpers\":{\"$REG_TOKEN\":\"absent\"}}" >"$TMP/dockercfg/config.json"
PATH=$hpath DOCKER_CONFIG=$TMP/dockercfg pull_fails "credHelpers names a helper not on PATH: error" h3.sif "docker://$REG_TOKEN/$IMG" "${CA[@]}"
error_says "names the helper" 'docker-credential-absent.*PATH'
echo '{"credsStore":"broken"}' >"$TMP/dockercfg/config.json"
PATH=$hpath DOCKER_CONFIG=$TMP/dockercfg pull_fails "a failing helper: error" h4.sif "docker://$REG_TOKEN/$IMG" "${CA[@]}"
error_says "gives its status and message" 'status 4.*keyring is locked'

# ---- concurrent logins: both land in auth.json -----------------------------------------------
bad=
for round in 1 2 3; do
	rm -f "$AUTH"
	printf '%s\n' "$REG_PASS" | timeout 60 "$SIF" login "${CA[@]}" --username "$REG_USER" --password-stdin "$REG_BASIC" >/dev/null 2>"$TMP/l1.err" &
	printf '%s\n' "$REG_PASS" | timeout 60 "$SIF" login "${CA[@]}" --username "$REG_USER" --password-stdin "$REG_TOKEN" >/dev/null 2>"$TMP/l2.err" &
	wait
	grep -q "\"$REG_BASIC\"" "$AUTH" 2>/dev/null && grep -q "\"$REG_TOKEN\"" "$AUTH" 2>/dev/null ||
		bad+="round $round: $(cat "$TMP/l1.err" "$TMP/l2.err") $(head -c 200 "$AUTH" 2>/dev/null | tr -d '\n') "
done
[ -z "$bad" ] && ok "two logins at once, three times: both land in auth.json" || not_ok "concurrent logins" "$bad"
run timeout 60 "$SIF" logout "$REG_BASIC"
run timeout 60 "$SIF" logout "$REG_TOKEN"
[ -f "$AUTH" ] && ! grep -q "$REG_BASIC\|$REG_TOKEN" "$AUTH" && ok "  ... and both logouts" || not_ok "  ... logouts" "$(head -c 300 "$AUTH")"

# ---- timeouts: a stalled transfer fails in bounded time, and is retried ------------------------
newcache stall1
t0=$(ms_now)
SIF_PULL_STALL_TIMEOUT=2 pull "a layer transfer stalls once (SIF_PULL_STALL_TIMEOUT=2): retried, the pull succeeds" st1.sif "$F/stallx1-bigblob.s$N/$IMG" --insecure
t1=$(ms_now)
l=$(fault_lines "stallx1-bigblob.s$N")
grep -q 'stall:[0-9]*/[0-9]*:client-closed' <<<"$l" && ok "  ... sif closed the stalled transfer ($((t1 - t0)) ms in all; log)" ||
	not_ok "  ... the front saw no stalled transfer closed by sif" "$l"
newcache stall2
t0=$(ms_now)
SIF_PULL_STALL_TIMEOUT=2 pull_fails "a layer transfer stalls every time: error" st2.sif "$F/stall-bigblob.s$N/$IMG" --insecure
t1=$(ms_now)
error_says "says it stalled" 'stall'
# the default (30 s, three tries) would take over 90 s: the variable is honoured
[ $((t1 - t0)) -lt 60000 ] && ok "  ... within $((t1 - t0)) ms (3 tries of 2 s and curl's averaging)" || not_ok "  ... it took $((t1 - t0)) ms"
c=$(grep -c 'stall:' <<<"$(fault_lines "stall-bigblob.s$N")")
[ "$c" -ge 3 ] && ok "  ... after retries ($c stalled transfers; log)" || not_ok "  ... $c stalled transfers, want retries"
r=$(no_partial_blobs) && ok "  ... no partial blob in the cache or SIF_TMPDIR" || not_ok "  ... a partial blob was kept" "$r"
newcache stall3
SIF_PULL_REQUEST_TIMEOUT=2 pull_fails "the manifest stalls (SIF_PULL_REQUEST_TIMEOUT=2): error" st3.sif "$F/stall-manifest.s$N/$IMG" --insecure
error_says "says it did not answer in time" 'within 2 s'
SIF_PULL_CONNECT_TIMEOUT=0 pull_fails "SIF_PULL_CONNECT_TIMEOUT=0: refused" st4.sif "docker://$REG_TLS/$IMG" "${CA[@]}"
error_says "names the variable" 'SIF_PULL_CONNECT_TIMEOUT'

done_testing
