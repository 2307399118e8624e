/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sif-build: the image tool behind "sif build".  It links what the launcher
 * must not load on every start (libarchive, libsquashfs, libcrypto, libcurl);
 * sif runs it as "sif-build VERB ARGS..." for build, pull, login, logout
 * and cache.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli.h"

int main(int argc, char **argv)
{
	static const struct sif_command *const cmds[] = {
		&sif_cmd_build, &sif_cmd_pull, &sif_cmd_login, &sif_cmd_logout, &sif_cmd_cache,
	};

	for (size_t i = 0; argc >= 2 && i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i]->name) == 0)
			return cmds[i]->run(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
		printf("sif-build %s\n", PACKAGE_VERSION);
		return 0;
	}
	return cli_failf("sif-build is run by sif: use 'sif build' (see sif-build(1))");
}
