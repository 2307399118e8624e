/* SPDX-License-Identifier: BSD-3-Clause */
/* sif build: make a SIF image from a source. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build.h"
#include "cli.h"
#include "sif.h"

static const char usage[] =
	"Usage: sif build [OPTIONS] OUT.sif SOURCE\n"
	"\n"
	"Make the SIF image OUT.sif from SOURCE. Sources:\n"
	"  squashfs:FILE   an existing squashfs image (mksquashfs, tar2sqfs), which\n"
	"                  becomes the primary system partition; without a prefix a\n"
	"                  file that begins with a squashfs superblock is taken as one\n"
	"(docker-archive:, oci:, oci-archive:, dir: and docker:// are not supported yet.)\n"
	"\n"
	"Options:\n"
	"      --arch ARCH  the image's architecture, as a Go name (amd64, arm64,\n"
	"                   ppc64le, ...); default: this machine's\n"
	"  -F, --force      replace OUT.sif if it exists\n"
	"  -h, --help       show this help\n"
	"\n"
	"The image is reproducible: its ID is all zeros and its times come from\n"
	"SOURCE_DATE_EPOCH, else from the source. It is written beside OUT.sif and\n"
	"renamed into place at the end: a failed build leaves no OUT.sif.\n"
	"Exit status: 0, or 255 on failure. See sif-build(1).\n";

static int parse_epoch(const char *s, int64_t *t)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		return -1;
	*t = v;
	return 0;
}

/* Is PATH a file that begins with a squashfs superblock? */
static bool looks_like_squashfs(const char *path)
{
	char magic[4];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	bool yes = false;

	if (fd >= 0) {
		yes = read(fd, magic, 4) == 4 && memcmp(magic, "hsqs", 4) == 0;
		close(fd);
	}
	return yes;
}

static int run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"arch", required_argument, NULL, 'a'},
		{"force", no_argument, NULL, 'F'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct sif_build_opts bo = {.arch = sif_host_arch()};
	struct sif_err err = {0};
	const char *out, *src, *sde;
	int c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+Fh", opts, NULL)) != -1) {
		switch (c) {
		case 'a': bo.arch = optarg; break;
		case 'F': bo.replace = true; break;
		case 'h': cli_usage(stdout, &sif_cmd_build); return 0;
		default:
			return cli_failf("build: unknown option or missing value '%s': run 'sif help build'",
			                 argv[optind - 1]);
		}
	}
	if (argc - optind != 2)
		return cli_failf("build: name OUT.sif and one SOURCE: run 'sif help build'");
	out = argv[optind];
	src = argv[optind + 1];

	sde = getenv("SOURCE_DATE_EPOCH");
	if (sde && *sde) {
		if (parse_epoch(sde, &bo.time) < 0)
			return cli_failf("build: SOURCE_DATE_EPOCH=\"%s\" is not a number of seconds: "
			                 "set it to an integer or unset it", sde);
		bo.have_time = true;
	}

	if (strncmp(src, "squashfs:", 9) == 0) {
		src += 9;
	} else if (strchr(src, ':') && !looks_like_squashfs(src)) {
		size_t n = (size_t)(strchr(src, ':') - src);
		return cli_failf("build: source type '%.*s:' is not supported yet: this version "
		                 "builds from squashfs:FILE only", (int)n, src);
	} else if (!looks_like_squashfs(src)) {
		if (access(src, R_OK) < 0)
			return cli_failf("build: %s: %s; check the path", src, strerror(errno));
		return cli_failf("build: %s: not a squashfs image, and other sources are not "
		                 "supported yet (use squashfs:FILE)", src);
	}
	if (sif_build_squashfs(out, src, &bo, &err) < 0) {
		sif_err_prefix(&err, "build: ");
		return cli_fail(&err);
	}
	return 0;
}

const struct sif_command sif_cmd_build = {
	.name = "build",
	.summary = "make a SIF image (today from squashfs:FILE)",
	.usage = usage,
	.run = run,
};
