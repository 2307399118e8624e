/* SPDX-License-Identifier: BSD-3-Clause */
/* sif cache: list, clean or verify the cache of sif pull. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cache.h"
#include "cli.h"

static const char usage[] =
	"Usage: sif cache list\n"
	"       sif cache clean [--all | --blobs | --images]\n"
	"       sif cache verify\n"
	"\n"
	"The cache of 'sif pull' ($SIF_CACHEDIR, default $XDG_CACHE_HOME/sif, else\n"
	"~/.cache/sif) holds the blobs fetched from registries and the images built\n"
	"from them.\n"
	"  list     each entry with its size, then the totals\n"
	"  clean    remove entries: all of them (--all, the default), only the\n"
	"           blobs (--blobs) or only the built images (--images); entries\n"
	"           a running pull holds are kept\n"
	"  verify   re-hash every entry against its digest, remove the corrupt\n"
	"           ones (the next pull fetches them again) and report\n"
	"A read-only site cache ($SIF_CACHEDIR_SITE) is never changed.\n"
	"Exit status: 0, or 255 on failure. See sif-cache(1).\n";

static int run(int argc, char **argv)
{
	struct sif_cache c;
	struct sif_err err = {0};
	const char *sub = argc >= 2 ? argv[1] : NULL;
	int r, what = CACHE_ALL;

	if (!sub || !strcmp(sub, "-h") || !strcmp(sub, "--help") || !strcmp(sub, "help")) {
		cli_usage(sub ? stdout : stderr, &sif_cmd_cache);
		return sub ? 0 : SIF_EXIT_FAILURE;
	}
	if (strcmp(sub, "list") && strcmp(sub, "clean") && strcmp(sub, "verify"))
		return cli_failf("cache: unknown subcommand '%s': use list, clean or verify", sub);
	for (int i = 2; i < argc; i++) {
		if (!strcmp(sub, "clean") && !strcmp(argv[i], "--all"))
			what = CACHE_ALL;
		else if (!strcmp(sub, "clean") && !strcmp(argv[i], "--blobs"))
			what = CACHE_BLOBS;
		else if (!strcmp(sub, "clean") && !strcmp(argv[i], "--images"))
			what = CACHE_IMAGES;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			cli_usage(stdout, &sif_cmd_cache);
			return 0;
		} else
			return cli_failf("cache %s: unknown argument '%s': run 'sif help cache'", sub,
			                 argv[i]);
	}
	if ((r = cache_open(&c, false, &err)) < 0)
		goto fail;
	if (!strcmp(sub, "list")) {
		r = cache_list(&c, stdout, &err);
	} else if (!strcmp(sub, "clean")) {
		r = cache_clean(&c, what, stdout, &err);
	} else {
		unsigned bad = 0;
		r = cache_verify(&c, stdout, &bad, &err);
	}
	if (r == 0)
		return 0;
fail:
	sif_err_prefix(&err, "cache %s: ", sub);
	return cli_fail(&err);
}

const struct sif_command sif_cmd_cache = {
	.name = "cache",
	.summary = "list, clean or verify the image cache of sif pull",
	.usage = usage,
	.run = run,
};
