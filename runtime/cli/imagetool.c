/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sif-build: the image tool behind "sif build".  It links what the launcher
 * must not load on every start (libarchive, libsquashfs, libcrypto); sif
 * runs it as "sif-build build ARGS...".
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli.h"

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "build") == 0)
		return sif_cmd_build.run(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
		printf("sif-build %s\n", PACKAGE_VERSION);
		return 0;
	}
	return cli_failf("sif-build is run by sif: use 'sif build' (see sif-build(1))");
}
