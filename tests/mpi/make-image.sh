#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The MPI test image's root, as a squashfs (run as root: debootstrap needs it).
#
#   tests/mpi/make-image.sh OUT.sqfs [CACHE]
#
# A Debian 12 minbase root with Debian's openmpi-bin and libopenmpi3, which
# must be the version the host has (Open MPI's rule: the mpirun/PMIx side and
# the ranks' library match), Slurm's libpmi2-0 (the PMI-2 client), and the
# programs of tests/mpi/*.c compiled on the host into /opt/mpi-tests: with
# mpicc, but pmi2.c against libpmi2.  tests/integration/mpi.sh turns
# OUT.sqfs into a SIF with 'sif build' as the unprivileged user.
#
# CACHE (default /var/cache/sif-tests/debs) keeps the downloaded .debs
# between runs (debootstrap --cache-dir).  DEBIAN_MIRROR overrides the
# mirror (default http://deb.debian.org/debian).
set -euo pipefail
die() { echo "make-image.sh: error: $*" >&2; exit 1; }
[ $# -ge 1 ] || die "usage: $0 OUT.sqfs [CACHE]"
OUT=$1
CACHE=${2:-/var/cache/sif-tests/debs}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
HERE=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" -eq 0 ] || die "run as root (debootstrap)"
for t in debootstrap mksquashfs mpicc cc dpkg-query; do
	command -v $t >/dev/null || die "$t is missing (tests/deps.sh installs it)"
done
host_ver=$(dpkg-query -W -f='${Version}' libopenmpi3 2>/dev/null) || die "the host has no libopenmpi3"
[ -f /usr/include/slurm/pmi2.h ] || die "the host has no Slurm PMI-2 header (libpmi2-0-dev)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sif-mpi-image.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
ROOT=$WORK/root
mkdir -p "$CACHE"
# minbase: dpkg, apt and a shell; openmpi-bin brings mpirun, orted and the
# PMIx, hwloc, UCX and libfabric libraries; no recommends
debootstrap --variant=minbase --include=openmpi-bin,libopenmpi3,libpmi2-0 --cache-dir="$CACHE" \
	bookworm "$ROOT" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
	{ tail -n 20 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
img_ver=$(dpkg-query --admindir="$ROOT/var/lib/dpkg" -W -f='${Version}' libopenmpi3)
[ "$img_ver" = "$host_ver" ] ||
	die "the image has libopenmpi3 $img_ver, the host $host_ver: Open MPI needs the same version on both sides"

# the test programs, built against the host's Open MPI (the same version)
mkdir -p "$ROOT/opt/mpi-tests"
for src in "$HERE"/*.c; do
	bin=$ROOT/opt/mpi-tests/$(basename "$src" .c)
	if [ "$(basename "$src")" = pmi2.c ]; then
		cc -O2 -Wall -Wextra -Werror -I/usr/include/slurm -o "$bin" "$src" -lpmi2
	else
		mpicc -O2 -Wall -Wextra -Werror -o "$bin" "$src"
	fi
done
echo "$img_ver" >"$ROOT/opt/mpi-tests/openmpi-version"

# what a container never needs: docs, manuals, locales, apt's caches
rm -rf "$ROOT"/usr/share/doc/* "$ROOT"/usr/share/man/* "$ROOT"/usr/share/info/* \
	"$ROOT"/usr/share/locale/* "$ROOT"/var/cache/apt/* "$ROOT"/var/lib/apt/lists/* \
	"$ROOT"/var/cache/debconf/*-old "$ROOT"/var/log/*
mkdir -p "$(dirname "$OUT")"
mksquashfs "$ROOT" "$OUT.tmp" -noappend -quiet -no-progress -comp zstd >/dev/null
chmod 644 "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "make-image.sh: $OUT: Debian 12 minbase, Open MPI $img_ver, $(du -sm "$ROOT" | cut -f1) MB unpacked, $(du -m "$OUT" | cut -f1) MB squashfs"
