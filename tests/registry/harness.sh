#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Registries on loopback for the tests of `sif pull docker://...`.
#
#   harness.sh start DIR [FIXTURES]   start everything, push the images,
#                                     write DIR/env; idempotent (a healthy
#                                     running set is left as it is)
#   harness.sh check DIR              pull back through every registry with
#                                     skopeo, and try each fault with curl
#   harness.sh stop DIR               stop everything started in DIR;
#                                     idempotent; leaves nothing running
#
# Run by tests/suite as root: it installs docker-registry, skopeo, openssl,
# curl and python3 with apt-get when they are missing (as another user they
# must be there).  It starts, on 127.0.0.1 with ports picked free:
#   plain   docker-registry, plain HTTP, anonymous
#   tls     docker-registry, TLS (a CA made here), anonymous
#   basic   docker-registry, TLS + htpasswd (bcrypt) Basic auth
#   token   docker-registry, TLS + `auth: token`; its realm is
#   issuer  tests/registry/token_issuer.py over TLS (Basic credentials in,
#           RS256 JWTs out)
#   fault   tests/registry/faults.py, plain HTTP, in front of "plain"
# and pushes with skopeo, into each registry: layers:{latest,v1..v4,
# arch-amd64,arch-arm64} and multiarch:latest (an index: skopeo copy --all)
# from the OCI layouts of tests/fixtures/make-images.sh (FIXTURES, else
# $SIF_BUILD_FIXTURES, else made in DIR/fixtures), and docker-layers:latest
# (Docker schema 2, from layers.docker.tar).  Digests are preserved.
#
# DIR/env (sh syntax, world-readable) says where everything is: see the end
# of this file.  Each docker-registry writes its access log (one line per
# request, Apache combined format, written when the answer is complete) to
# DIR/<name>/access.log; the issuer and the fault front write their own.
# Keys stay root-only; logs, certificates and env are world-readable.
# shellcheck disable=SC2015,SC2016,SC2034,SC2317  # A && B || C on purpose; bash -c '...' scripts
set -u
set -o pipefail
umask 022

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
REGISTRY=/usr/bin/docker-registry
[ -x "$REGISTRY" ] || REGISTRY=docker-registry

die() { echo "harness: $*" >&2; exit 1; }
say() { echo "harness: $*"; }

[ $# -ge 2 ] || die "usage: harness.sh start|check|stop DIR [FIXTURES]"
CMD=$1
mkdir -p "$2" 2>/dev/null || die "cannot create $2"
DIR=$(cd "$2" && pwd)
[ "$DIR" != / ] || die "DIR must not be /"
PIDS=$DIR/pids

# ---- processes --------------------------------------------------------------
# ours PID: PID is alive and was started by us in DIR (its command line names DIR)
ours() {
	[ -n "$1" ] && [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF "$DIR/"
}

stop_all() {
	local name pid left=()
	[ -f "$PIDS" ] || return 0
	while read -r name pid; do
		ours "$pid" && kill -TERM "$pid" 2>/dev/null && left+=("$pid")
	done <"$PIDS"
	local i
	for i in $(seq 50); do
		local alive=0 p
		for p in "${left[@]}"; do ours "$p" && alive=1; done
		[ "$alive" -eq 0 ] && break
		sleep 0.1
	done
	for p in "${left[@]}"; do ours "$p" && kill -KILL "$p" 2>/dev/null; done
	rm -f "$PIDS"
	return 0
}

# daemon NAME CMD...: start CMD detached (own session), stdout/stderr to
# DIR/NAME/{stdout,stderr}; remember its pid
daemon() {
	local name=$1
	shift
	mkdir -p "$DIR/$name"
	setsid "$@" </dev/null >>"$DIR/$name/stdout" 2>>"$DIR/$name/stderr" &
	local pid=$!
	echo "$name $pid" >>"$PIDS"
	LAST_PID=$pid
}

free_port() {
	"$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_http NAME URL WANT [CURL-ARGS...]: until URL answers WANT (status), ~10 s
wait_http() {
	local name=$1 url=$2 want=$3 i code
	shift 3
	for i in $(seq 100); do
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@" "$url" 2>/dev/null)
		[ "$code" = "$want" ] && return 0
		# (not "ours": until it has exec'd, the child's command line is
		# still this script's; alive is what matters here)
		kill -0 "$LAST_PID" 2>/dev/null ||
			{ echo "harness: $name exited: $(tail -n 5 "$DIR/$name/stderr" 2>/dev/null)" >&2; return 1; }
		sleep 0.1
	done
	echo "harness: $name does not answer $want at $url (last: $code)" >&2
	return 1
}

# wait_file F: until F exists, ~10 s
wait_file() {
	local i
	for i in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.1; done
	return 1
}

# ---- packages ---------------------------------------------------------------
ensure_packages() {
	local need=() p
	for p in docker-registry:docker-registry skopeo:skopeo openssl:openssl curl:curl python3:python3; do
		command -v "${p%%:*}" >/dev/null 2>&1 || need+=("${p#*:}")
	done
	[ ${#need[@]} -eq 0 ] && return 0
	[ "$(id -u)" -eq 0 ] || die "missing: ${need[*]} (as root: apt-get install ${need[*]})"
	say "installing ${need[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null ||
		die "apt-get install ${need[*]} failed"
}

# bcrypt PASSWORD: a bcrypt hash docker-registry's htpasswd accepts.  Python
# 3.11's crypt module (libxcrypt) makes $2b$ hashes; else apache2-utils.
bcrypt() {
	local h
	h=$("$PY" -W ignore -c 'import crypt, sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 10)))' "$1" 2>/dev/null)
	case $h in '$2'?'$'*) echo "$h"; return 0 ;; esac
	if ! command -v htpasswd >/dev/null; then
		[ "$(id -u)" -eq 0 ] || { echo "harness: no bcrypt: install apache2-utils" >&2; return 1; }
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends apache2-utils >/dev/null || return 1
	fi
	htpasswd -nbB -C 10 x "$1" | sed -n 's/^x://p'
}

# ---- certificates -----------------------------------------------------------
make_certs() {
	local c=$DIR/certs
	rm -rf "$c" "$DIR/skopeo-certs"
	mkdir -p "$c" "$DIR/skopeo-certs"
	(
		umask 077
		openssl req -x509 -newkey rsa:2048 -nodes -days 30 -sha256 \
			-keyout "$c/ca.key" -out "$c/ca.crt" -subj "/CN=sif test CA" \
			-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign &&
		openssl req -newkey rsa:2048 -nodes -keyout "$c/server.key" -out "$c/server.csr" \
			-subj "/CN=localhost" &&
		printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
			"extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost" >"$c/server.ext" &&
		openssl x509 -req -in "$c/server.csr" -CA "$c/ca.crt" -CAkey "$c/ca.key" -CAcreateserial \
			-days 30 -sha256 -extfile "$c/server.ext" -out "$c/server.crt" &&
		# the token signing key, and its self-signed certificate: the registry's rootcertbundle
		openssl req -x509 -newkey rsa:2048 -nodes -days 30 -sha256 \
			-keyout "$c/token.key" -out "$c/token.crt" -subj "/CN=sif test token issuer"
	) >"$DIR/certs.log" 2>&1 || { cat "$DIR/certs.log" >&2; return 1; }
	chmod 644 "$c/ca.crt" "$c/server.crt" "$c/token.crt"
	cp "$c/ca.crt" "$DIR/ca.crt"
	cp "$c/ca.crt" "$DIR/skopeo-certs/ca.crt"
}

# ---- docker-registry ----------------------------------------------------------
# registry_config NAME PORT TLS(0/1) AUTH(none/basic/token)
registry_config() {
	local name=$1 port=$2 tls=$3 auth=$4 d=$DIR/$1
	mkdir -p "$d/data"
	{
		cat <<-EOF
		version: 0.1
		log:
		  level: info
		  formatter: text
		  accesslog:
		    disabled: false
		storage:
		  filesystem:
		    rootdirectory: $d/data
		  delete:
		    enabled: true
		  maintenance:
		    uploadpurging:
		      enabled: false
		http:
		  addr: 127.0.0.1:$port
		  secret: $(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
		  headers:
		    X-Content-Type-Options: [nosniff]
		EOF
		[ "$tls" = 1 ] && cat <<-EOF
		  tls:
		    certificate: $DIR/certs/server.crt
		    key: $DIR/certs/server.key
		EOF
		case $auth in
		basic) cat <<-EOF
		auth:
		  htpasswd:
		    realm: sif-test-basic
		    path: $DIR/htpasswd
		EOF
		;;
		token) cat <<-EOF
		auth:
		  token:
		    realm: https://127.0.0.1:$ISSUER_PORT/token
		    service: $TOKEN_SERVICE
		    issuer: $TOKEN_ISSUER
		    rootcertbundle: $DIR/certs/token.crt
		EOF
		;;
		esac
	} >"$d/config.yml"
}

# start_registry NAME TLS AUTH: picks a free port (retrying when another
# process took it first); sets PORT
start_registry() {
	local name=$1 tls=$2 auth=$3 try scheme=http want=200 args=()
	[ "$tls" = 1 ] && scheme=https && args=(--cacert "$DIR/ca.crt")
	[ "$auth" != none ] && want=401
	for try in 1 2 3 4 5; do
		PORT=$(free_port) || return 1
		registry_config "$name" "$PORT" "$tls" "$auth"
		: >"$DIR/$name/stderr"
		# the access log goes to stdout: DIR/NAME/access.log
		mkdir -p "$DIR/$name"
		setsid env -i PATH=/usr/bin:/bin HOME="$DIR/$name" "$REGISTRY" serve "$DIR/$name/config.yml" \
			</dev/null >>"$DIR/$name/access.log" 2>>"$DIR/$name/stderr" &
		LAST_PID=$!
		echo "$name $LAST_PID" >>"$PIDS"
		wait_http "$name" "$scheme://127.0.0.1:$PORT/v2/" "$want" "${args[@]}" && return 0
		grep -q 'address already in use' "$DIR/$name/stderr" || return 1
		kill "$LAST_PID" 2>/dev/null
	done
	return 1
}

# ---- pushing ------------------------------------------------------------------
# push REGNAME HOSTPORT SKOPEO-DEST-ARGS...: every fixture image into one registry
push() {
	local reg=$1 hp=$2 t
	shift 2
	local sk=(skopeo --policy "$DIR/policy.json" --registries-conf "$DIR/registries.conf" copy -q --retry-times 2 --preserve-digests "$@")
	for t in latest v1 v2 v3 v4 arch-amd64 arch-arm64; do
		"${sk[@]}" "oci:$FX/layers:$t" "docker://$hp/layers:$t" || { echo "harness: push layers:$t to $reg failed" >&2; return 1; }
	done
	"${sk[@]}" --all "oci:$FX/multiarch:latest" "docker://$hp/multiarch:latest" ||
		{ echo "harness: push multiarch:latest (--all) to $reg failed" >&2; return 1; }
	skopeo --policy "$DIR/policy.json" --registries-conf "$DIR/registries.conf" copy -q --retry-times 2 --format v2s2 "$@" \
		"docker-archive:$FX/layers.docker.tar" "docker://$hp/docker-layers:latest" ||
		{ echo "harness: push docker-layers:latest (v2s2) to $reg failed" >&2; return 1; }
}

# ---- start ----------------------------------------------------------------------
healthy() {
	[ -f "$DIR/env" ] && [ -f "$PIDS" ] || return 1
	local name pid
	while read -r name pid; do ours "$pid" || return 1; done <"$PIDS"
	# shellcheck disable=SC1091
	(. "$DIR/env" &&
		curl -sf -o /dev/null --max-time 3 "http://$REG_PLAIN/v2/" &&
		curl -sf -o /dev/null --max-time 3 --cacert "$REG_CA" "https://$REG_TLS/v2/" &&
		curl -sf -o /dev/null --max-time 3 "http://$REG_FAULT/v2/")
}

start() {
	if healthy; then
		say "already running in $DIR (env: $DIR/env)"
		return 0
	fi
	stop_all
	ensure_packages
	FX=${1:-${SIF_BUILD_FIXTURES:-}}
	if [ -z "$FX" ] || [ ! -f "$FX/layers/index.json" ] || [ ! -f "$FX/multiarch/index.json" ] ||
	   [ ! -f "$FX/layers.docker.tar" ]; then
		FX=$DIR/fixtures
		say "making the fixture images in $FX"
		"$SRC/tests/fixtures/make-images.sh" "$FX" >"$DIR/make-images.log" 2>&1 ||
			{ tail -n 20 "$DIR/make-images.log" >&2; die "make-images.sh failed"; }
	fi
	FX=$(cd "$FX" && pwd)

	rm -rf "$DIR/plain" "$DIR/tls" "$DIR/basic" "$DIR/token" "$DIR/issuer" "$DIR/fault" "$DIR/env" \
		"$DIR/push.log" "$DIR/check" "$PIDS"
	chmod 755 "$DIR"
	make_certs || die "openssl failed"
	printf '{"default":[{"type":"insecureAcceptAnything"}]}\n' >"$DIR/policy.json"
	: >"$DIR/registries.conf"

	USER_NAME=siftest-user
	USER_PASS="pw-$(od -An -tx1 -N6 /dev/urandom | tr -d ' \n')"
	RO_NAME=siftest-reader
	RO_PASS="ro-$(od -An -tx1 -N6 /dev/urandom | tr -d ' \n')"
	TOKEN_SERVICE=sif-test-registry
	TOKEN_ISSUER=sif-test-issuer
	local h1 h2
	h1=$(bcrypt "$USER_PASS") && h2=$(bcrypt "$RO_PASS") || die "cannot make a bcrypt hash"
	printf '%s:%s\n%s:%s\n' "$USER_NAME" "$h1" "$RO_NAME" "$h2" >"$DIR/htpasswd"
	(umask 077 && printf '%s:%s:pull,push\n%s:%s:pull\n' "$USER_NAME" "$USER_PASS" "$RO_NAME" "$RO_PASS" >"$DIR/certs/users")

	# the token issuer first: the token registry's config names its port
	mkdir -p "$DIR/issuer"
	daemon issuer "$PY" "$HERE/token_issuer.py" --listen 127.0.0.1:0 --port-file "$DIR/issuer/port" \
		--tls-cert "$DIR/certs/server.crt" --tls-key "$DIR/certs/server.key" \
		--sign-key "$DIR/certs/token.key" --issuer "$TOKEN_ISSUER" --service "$TOKEN_SERVICE" \
		--users "$DIR/certs/users" --log "$DIR/issuer/requests.log"
	wait_file "$DIR/issuer/port" || die "the token issuer did not start: $(tail -n 5 "$DIR/issuer/stderr")"
	ISSUER_PORT=$(cat "$DIR/issuer/port")
	wait_http issuer "https://127.0.0.1:$ISSUER_PORT/token?service=$TOKEN_SERVICE" 200 --cacert "$DIR/ca.crt" ||
		die "the token issuer does not answer"

	start_registry plain 0 none || die "the plain registry did not start"
	P_PLAIN=$PORT
	start_registry tls 1 none || die "the TLS registry did not start"
	P_TLS=$PORT
	start_registry basic 1 basic || die "the Basic-auth registry did not start"
	P_BASIC=$PORT
	start_registry token 1 token || die "the token-auth registry did not start"
	P_TOKEN=$PORT

	mkdir -p "$DIR/fault"
	: >"$DIR/fault/control"
	chmod 666 "$DIR/fault/control"
	daemon fault "$PY" "$HERE/faults.py" --upstream "http://127.0.0.1:$P_PLAIN" --listen 127.0.0.1:0 \
		--port-file "$DIR/fault/port" --control "$DIR/fault/control" --log "$DIR/fault/requests.log"
	wait_file "$DIR/fault/port" || die "the fault front did not start: $(tail -n 5 "$DIR/fault/stderr")"
	P_FAULT=$(cat "$DIR/fault/port")
	wait_http fault "http://127.0.0.1:$P_FAULT/v2/" 200 || die "the fault front does not answer"

	say "pushing the images from $FX"
	{
		push plain "127.0.0.1:$P_PLAIN" --dest-tls-verify=false &&
		push tls "127.0.0.1:$P_TLS" --dest-cert-dir "$DIR/skopeo-certs" &&
		push basic "127.0.0.1:$P_BASIC" --dest-cert-dir "$DIR/skopeo-certs" --dest-creds "$USER_NAME:$USER_PASS" &&
		push token "127.0.0.1:$P_TOKEN" --dest-cert-dir "$DIR/skopeo-certs" --dest-creds "$USER_NAME:$USER_PASS"
	} >"$DIR/push.log" 2>&1 || { tail -n 20 "$DIR/push.log" >&2; stop_all; die "pushing failed"; }

	# what the registry serves (digests preserved: the same as the layouts')
	local raw=$DIR/check/raw
	mkdir -p "$raw"
	curl -sf -o "$raw/layers-latest" -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
		"http://127.0.0.1:$P_PLAIN/v2/layers/manifests/latest" &&
	curl -sf -o "$raw/multiarch-latest" -H 'Accept: application/vnd.oci.image.index.v1+json' \
		"http://127.0.0.1:$P_PLAIN/v2/multiarch/manifests/latest" &&
	curl -sf -o "$raw/layers-v3" -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
		"http://127.0.0.1:$P_PLAIN/v2/layers/manifests/v3" &&
	curl -sf -o "$raw/docker-layers-latest" -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
		"http://127.0.0.1:$P_PLAIN/v2/docker-layers/manifests/latest" || { stop_all; die "cannot read back the manifests"; }
	local blobs_latest blobs_v3
	blobs_latest=$("$PY" -c 'import json,sys; m=json.load(open(sys.argv[1])); print(" ".join([m["config"]["digest"]] + [l["digest"] for l in m["layers"]]))' "$raw/layers-latest") &&
	blobs_v3=$("$PY" -c 'import json,sys; m=json.load(open(sys.argv[1])); print(" ".join([m["config"]["digest"]] + [l["digest"] for l in m["layers"]]))' "$raw/layers-v3") ||
		{ stop_all; die "cannot parse the manifests"; }
	local want
	want=$("$PY" -c 'import json,sys; print([m["digest"] for m in json.load(open(sys.argv[1]))["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"]=="latest"][0])' "$FX/layers/index.json")
	[ "sha256:$(sha256sum <"$raw/layers-latest" | cut -d' ' -f1)" = "$want" ] ||
		{ stop_all; die "layers:latest has another digest in the registry than in the layout"; }

	q() { printf '%q' "$1"; }
	cat >"$DIR/env.tmp" <<-EOF
	# written by tests/registry/harness.sh start; sh syntax
	REG_DIR=$(q "$DIR")
	REG_FIXTURES=$(q "$FX")
	REG_CA=$(q "$DIR/ca.crt")
	# HOST:PORT of each registry (docker://\$REG_TLS/layers:latest)
	REG_PLAIN=127.0.0.1:$P_PLAIN
	REG_TLS=127.0.0.1:$P_TLS
	REG_BASIC=127.0.0.1:$P_BASIC
	REG_TOKEN=127.0.0.1:$P_TOKEN
	REG_FAULT=127.0.0.1:$P_FAULT
	REG_ISSUER=127.0.0.1:$ISSUER_PORT
	REG_TOKEN_REALM=https://127.0.0.1:$ISSUER_PORT/token
	REG_TOKEN_SERVICE=$TOKEN_SERVICE
	# pull and push on basic and token; REG_RO_USER may only pull
	REG_USER=$USER_NAME
	REG_PASS=$USER_PASS
	REG_RO_USER=$RO_NAME
	REG_RO_PASS=$RO_PASS
	# access logs (Apache combined format, one line per answered request)
	REG_PLAIN_LOG=$(q "$DIR/plain/access.log")
	REG_TLS_LOG=$(q "$DIR/tls/access.log")
	REG_BASIC_LOG=$(q "$DIR/basic/access.log")
	REG_TOKEN_LOG=$(q "$DIR/token/access.log")
	# TIME METHOD PATH USER ACCESS STATUS (tab-separated)
	REG_ISSUER_LOG=$(q "$DIR/issuer/requests.log")
	# TIME METHOD PATH UPSTREAM-PATH STATUS BYTES FAULT (tab-separated)
	REG_FAULT_LOG=$(q "$DIR/fault/requests.log")
	# world-writable: its first line is the fault SPEC of every request (faults.py)
	REG_FAULT_CONTROL=$(q "$DIR/fault/control")
	# repositories in every registry: layers (latest v1 v2 v3 v4 arch-amd64
	# arch-arm64), multiarch (latest: an OCI index, amd64 + arm64), docker-layers
	# (latest: Docker schema 2, the same image as layers:latest)
	REG_LAYERS_DIGEST=$want
	REG_MULTIARCH_DIGEST=sha256:$(sha256sum <"$raw/multiarch-latest" | cut -d' ' -f1)
	REG_DOCKER_LAYERS_DIGEST=sha256:$(sha256sum <"$raw/docker-layers-latest" | cut -d' ' -f1)
	# config + layers of layers:latest and layers:v3 (v3 shares its first two layers)
	REG_BLOBS_LATEST="$blobs_latest"
	REG_BLOBS_V3="$blobs_v3"
	EOF
	chmod 644 "$DIR/env.tmp"
	mv "$DIR/env.tmp" "$DIR/env"
	chmod -R a+rX "$DIR/plain" "$DIR/tls" "$DIR/basic" "$DIR/token" "$DIR/issuer" "$DIR/fault" "$DIR/check"
	say "running: plain $P_PLAIN, tls $P_TLS, basic $P_BASIC, token $P_TOKEN (issuer $ISSUER_PORT), fault $P_FAULT; env: $DIR/env"
}

# ---- check: skopeo pulls back through each, curl tries each fault --------------
check() {
	[ -f "$DIR/env" ] || die "not started: no $DIR/env"
	# shellcheck disable=SC1091
	. "$DIR/env"
	local c=$DIR/check n=0 bad=0 out
	mkdir -p "$c"
	sk=(skopeo --policy "$DIR/policy.json" --registries-conf "$DIR/registries.conf")
	t() { # t NAME CMD...
		n=$((n + 1))
		if out=$("${@:2}" 2>&1); then echo "ok $n - $1"; else bad=$((bad + 1)); echo "not ok $n - $1"; printf '%s\n' "$out" | tail -n 5 | sed 's/^/#   /'; fi
	}
	pullback() { # pullback NAME REF ARGS...: copy to an OCI layout, check its manifest digest
		local d=$c/pull-$1
		rm -rf "$d"
		"${sk[@]}" copy -q --preserve-digests "${@:3}" "docker://$2" "oci:$d:x" &&
			grep -q "$REG_LAYERS_DIGEST" "$d/index.json"
	}
	t "plain: skopeo pulls layers:latest over HTTP" pullback plain "$REG_PLAIN/layers:latest" --src-tls-verify=false
	t "tls: skopeo pulls with the CA" pullback tls "$REG_TLS/layers:latest" --src-cert-dir "$DIR/skopeo-certs"
	t "tls: without the CA skopeo fails" bash -c '! "$@"' _ "${sk[@]}" inspect --raw "docker://$REG_TLS/layers:latest"
	t "basic: skopeo pulls with credentials" pullback basic "$REG_BASIC/layers:latest" --src-cert-dir "$DIR/skopeo-certs" --src-creds "$REG_USER:$REG_PASS"
	t "basic: anonymous gets 401" bash -c '[ "$(curl -s -o /dev/null -w "%{http_code}" --cacert "$1" "https://$2/v2/layers/manifests/latest")" = 401 ]' _ "$REG_CA" "$REG_BASIC"
	t "basic: a wrong password gets 401" bash -c '[ "$(curl -s -o /dev/null -w "%{http_code}" -u "$3:wrong" --cacert "$1" "https://$2/v2/layers/manifests/latest")" = 401 ]' _ "$REG_CA" "$REG_BASIC" "$REG_USER"
	t "token: skopeo pulls with credentials" pullback token "$REG_TOKEN/layers:latest" --src-cert-dir "$DIR/skopeo-certs" --src-creds "$REG_USER:$REG_PASS"
	t "token: the read-only user pulls" pullback token-ro "$REG_TOKEN/layers:latest" --src-cert-dir "$DIR/skopeo-certs" --src-creds "$REG_RO_USER:$REG_RO_PASS"
	t "token: anonymous is refused" bash -c '! "$@"' _ "${sk[@]}" inspect --raw --cert-dir "$DIR/skopeo-certs" --no-creds "docker://$REG_TOKEN/layers:latest"
	t "token: a wrong password is refused" bash -c '! "$@"' _ "${sk[@]}" inspect --raw --cert-dir "$DIR/skopeo-certs" --creds "$REG_USER:wrong" "docker://$REG_TOKEN/layers:latest"
	t "token: the read-only user cannot push" bash -c '! "$@"' _ "${sk[@]}" copy -q --dest-cert-dir "$DIR/skopeo-certs" --dest-creds "$REG_RO_USER:$REG_RO_PASS" \
		"oci:$REG_FIXTURES/layers:v1" "docker://$REG_TOKEN/ro-push:v1"
	t "token: the issuer logged a grant and a refusal" bash -c 'grep -q "	$1	repository:layers:pull	200$" "$2" && grep -q "	bad:$1	-	401$" "$2"' _ "$REG_USER" "$REG_ISSUER_LOG"
	t "multiarch: the index is served with its digest" bash -c '"$@" | grep -q "\"arm64\""' _ "${sk[@]}" inspect --raw --tls-verify=false "docker://$REG_PLAIN/multiarch:latest"
	t "multiarch: skopeo picks arm64 from the index" bash -c '"$@" | grep -q "\"architecture\": *\"arm64\""' _ "${sk[@]}" --override-arch arm64 inspect --config --tls-verify=false "docker://$REG_PLAIN/multiarch:latest"
	t "docker-layers: Docker schema 2" bash -c '"$@" | grep -q "application/vnd.docker.distribution.manifest.v2+json"' _ "${sk[@]}" inspect --raw --tls-verify=false "docker://$REG_PLAIN/docker-layers:latest"
	t "fault front: skopeo pulls through it" pullback fault "$REG_FAULT/layers:latest" --src-tls-verify=false
	t "fault front: skopeo pulls through /fault/429x1 (and retries)" pullback fault429 "$REG_FAULT/fault/429x1.chk$$/layers:latest" --src-tls-verify=false
	t "plain: the access log counts blob GETs" grep -q '"GET /v2/layers/blobs/sha256:[0-9a-f]* HTTP/1.1" 200 ' "$REG_PLAIN_LOG"

	local F=http://$REG_FAULT/v2/fault big=${REG_BLOBS_LATEST#* }
	# docker-registry 2.8 answers 404 to a manifest GET whose Accept lacks the OCI type
	local A='Accept: application/vnd.oci.image.manifest.v1+json'
	curl() { command curl -H "$A" "$@"; }
	export -f curl
	export A
	big=${big%% *} # the first layer
	t "fault 429x2: 429, 429 (Retry-After: 1), then 200" bash -c '
		a=$(curl -s -D- -o /dev/null "$1") && b=$(curl -s -o /dev/null -w "%{http_code}" "$1") && c=$(curl -s -o /dev/null -w "%{http_code}" "$1") &&
		printf "%s\n" "$a" | grep -q "^HTTP/1.1 429" && printf "%s\n" "$a" | grep -qi "^retry-after: 1" && [ "$b" = 429 ] && [ "$c" = 200 ]' \
		_ "$F/429x2.chk$$/layers/manifests/latest"
	t "fault 500x3: 500 three times, then 200" bash -c '[ "$(for i in 1 2 3 4; do curl -s -o /dev/null -w "%{http_code} " "$1"; done)" = "500 500 500 200 " ]' _ "$F/500x3.chk$$/layers/manifests/latest"
	t "fault 503x1-blob: the manifest passes, the blob gets 503 once" bash -c '[ "$(curl -s -o /dev/null -w "%{http_code} " "$1/manifests/latest"; curl -s -o /dev/null -w "%{http_code} " "$1/blobs/$2"; curl -s -o /dev/null -w "%{http_code}" "$1/blobs/$2")" = "200 503 200" ]' _ "$F/503x1-blob.chk$$/layers" "$big"
	t "fault truncate: curl reports a partial transfer (18)" bash -c 'curl -s -o /dev/null "$1"; [ $? -eq 18 ]' _ "$F/truncate.chk$$/layers/blobs/$big"
	t "fault truncate-bigblob: the config passes, the layer is cut" bash -c 'cfg=${3%% *}; curl -sf -o /dev/null "$1/$cfg" && curl -s -o /dev/null "$1/$2"; [ $? -eq 18 ]' \
		_ "$F/truncate-bigblob.chk$$/layers/blobs" "$big" "$REG_BLOBS_LATEST"
	t "fault stall: half the body, then silence (curl's low-speed limit gives up: 28)" bash -c 'curl -s -o /dev/null --speed-limit 1000 --speed-time 2 --max-time 60 "$1"; rc=$?; sleep 1.5; [ $rc -eq 28 ] && grep -q "/stall\.chk$3/.*	stall:[0-9]*/[0-9]*:client-closed" "$2"' \
		_ "$F/stall.chk$$/layers/blobs/$big" "$REG_FAULT_LOG" "$$"
	t "fault corrupt: same length, another digest" bash -c 'curl -sf "$1" >"$3" && [ "$(stat -c %s "$3")" = "$(curl -s "$2" | wc -c)" ] && [ "sha256:$(sha256sum <"$3" | cut -d" " -f1)" != "$4" ]' \
		_ "$F/corrupt.chk$$/layers/blobs/$big" "http://$REG_PLAIN/v2/layers/blobs/$big" "$c/corrupt.blob" "$big"
	t "fault bigmanifest: a 5 MiB manifest" bash -c '[ "$(curl -sf "$1" | wc -c)" -gt 5242880 ] && curl -sfI "$1" | tr -d "\r" | grep -qiE "^content-length: 52(4[3-9]|[5-9][0-9])[0-9]{3}$"' _ "$F/bigmanifest.chk$$/layers/manifests/latest"
	t "fault bigchunked: 5 MiB, chunked" bash -c '[ "$(curl -sf "$1" | wc -c)" -gt 5242880 ] && curl -sf -D- -o /dev/null "$1" | grep -qi "^transfer-encoding: chunked"' _ "$F/bigchunked.chk$$/layers/manifests/latest"
	t "fault control file: 503x1 for every request, then reset" bash -c 'echo 503x1 >"$1" && a=$(curl -s -o /dev/null -w "%{http_code}" "$2") && b=$(curl -s -o /dev/null -w "%{http_code}" "$2") && : >"$1" && [ "$a$b" = 503200 ]' \
		_ "$REG_FAULT_CONTROL" "http://$REG_FAULT/v2/layers/manifests/latest"
	t "fault log: each fault is logged" bash -c 'for k in 429 500 503 truncate: corrupt: stall: bigmanifest bigchunked; do grep -q "	$k" "$1" || { echo "no $k"; exit 1; }; done' _ "$REG_FAULT_LOG"
	unset -f curl
	echo "1..$n"
	[ "$bad" -eq 0 ]
}

case $CMD in
start) start "${3:-}" ;;
check) check ;;
stop)
	stop_all
	say "stopped (DIR $DIR)"
	;;
*) die "usage: harness.sh start|check|stop DIR [FIXTURES]" ;;
esac
