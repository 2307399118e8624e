#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Install the Debian 12 packages sif needs to build and test (as root), or,
# as another user, say which are missing.  Idempotent: installs only what is
# missing.  Used by ./quickstart and tests/suite.
set -euo pipefail

PACKAGES=(
	# toolchain
	gcc make libc6-dev autoconf automake libtool pkg-config
	# the chosen libraries (docs: design.md)
	libfuse3-dev libsquashfuse-dev libsquashfs-dev libarchive-dev zlib1g-dev libdeflate-dev
	libjansson-dev libzstd-dev
	# the static archives of libsquashfuse's decompressors (configure: static deps)
	liblzma-dev liblzo2-dev liblz4-dev
	libcurl4-openssl-dev libssl-dev libseccomp-dev
	# tests: fuzzing, images, the unprivileged user, JSON checks
	clang libclang-rt-14-dev squashfs-tools busybox-static python3 umoci skopeo zstd
	util-linux passwd binutils libcap2-bin man-db groff-base
	# tests: a real Slurm cluster (tests/slurm/cluster.sh); mpirun
	munge slurm-wlm openmpi-bin
	# the SPANK plugin (sif_spank.so) is built against Slurm's headers
	libslurm-dev
	# tests: MPI (tests/mpi/): mpicc, slurmd's PMIx plugin (it dlopens
	# libpmix.so, which only libpmix-dev has), Slurm's PMI-2 client library,
	# and the image's root
	libopenmpi-dev libpmix-dev libpmi2-0-dev debootstrap
	# tests: registries on loopback (tests/registry/harness.sh)
	docker-registry openssl curl
)

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "sif: error: missing Debian packages: ${missing[*]} (as root: apt-get install ${missing[*]})" >&2
	exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
