/* SPDX-License-Identifier: BSD-3-Clause */
/* Option values the image tool's commands (build, pull) share. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sqfs_out.h"

int cli_parse_comp(const char *s)
{
	static const struct { const char *name; int comp; } algs[] = {
		{"gzip", SQFS_OUT_GZIP}, {"zstd", SQFS_OUT_ZSTD}, {"lz4", SQFS_OUT_LZ4},
		{"xz", SQFS_OUT_XZ}, {"none", SQFS_OUT_NONE},
	};
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		if (strcmp(s, algs[i].name) == 0)
			return algs[i].comp;
	return -1;
}
