/* SPDX-License-Identifier: BSD-3-Clause */
/* sif pull: an image from a registry into the cache, and maybe OUT.sif. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build.h"
#include "cli.h"
#include "pull.h"
#include "registry.h"
#include "sif.h"
#include "sqfs_out.h"

static const char usage[] =
	"Usage: sif pull [OPTIONS] [OUT.sif] docker://[HOST[:PORT]/]REPO[:TAG|@sha256:HEX]\n"
	"\n"
	"Fetch an image from a registry (Docker Hub when no HOST is named: 'ubuntu'\n"
	"is registry-1.docker.io/library/ubuntu:latest), verify every blob, convert\n"
	"it to a SIF image in the cache, and copy that to OUT.sif when given; else\n"
	"print the cached image's path. Blobs and images are cached under\n"
	"$SIF_CACHEDIR (default $XDG_CACHE_HOME/sif, else ~/.cache/sif); a pull of\n"
	"an image already there costs one manifest request.\n"
	"\n"
	"Options:\n"
	"      --arch ARCH      the architecture to pick from a multi-architecture\n"
	"                       image, as a Go name (amd64, arm64, ppc64le, ...);\n"
	"                       default: this machine's\n"
	"  -j, --jobs N         parallel layer downloads (default 4)\n"
	"  -c, --compress ALG   gzip, zstd (default), lz4, xz or none\n"
	"  -l, --level N        the compressor's level (default: its own)\n"
	"      --insecure       plain HTTP to the registry (also for the registries\n"
	"                       listed in $SIF_INSECURE_REGISTRIES, comma-separated)\n"
	"      --ca-file FILE   trust the CAs in FILE (PEM) for the registry's\n"
	"                       certificate (default: $SIF_CA_FILE, else the system's)\n"
	"  -F, --force          replace OUT.sif if it exists\n"
	"  -q, --quiet          no progress display\n"
	"  -v, --verbose        trace each request (never its credentials)\n"
	"  -h, --help           show this help\n"
	"\n"
	"Credentials come from 'sif login' ($XDG_CONFIG_HOME/sif/auth.json) or\n"
	"Docker's config.json (with its credHelpers and credsStore); proxies from\n"
	"https_proxy, http_proxy and no_proxy; mirrors tried first from\n"
	"$SIF_REGISTRY_MIRRORS (REGISTRY=MIRROR[,MIRROR...];...); timeouts from\n"
	"$SIF_PULL_CONNECT_TIMEOUT, $SIF_PULL_REQUEST_TIMEOUT and\n"
	"$SIF_PULL_STALL_TIMEOUT (seconds; 30, 120, 30).\n"
	"See 'sif cache' to list, clean or verify the cache.\n"
	"Exit status: 0, or 255 on failure. See sif-pull(1).\n";

static int source_date_epoch(struct sif_build_opts *bo)
{
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	char *end;

	if (!sde || !*sde)
		return 0;
	errno = 0;
	bo->time = strtoll(sde, &end, 10);
	if (errno || end == sde || *end)
		return -1;
	bo->have_time = true;
	return 0;
}

static void pull_defaults(struct sif_pull_opts *po)
{
	const char *ca = getenv("SIF_CA_FILE");

	if (ca && *ca)
		po->ca_file = ca;
}

int cli_build_docker(const char *out, const char *ref, const struct sif_build_opts *bo,
                     bool quiet)
{
	struct sif_pull_opts po = { .progress = !quiet && isatty(STDERR_FILENO) };
	struct sif_err err = {0};
	char cached[PATH_MAX];

	pull_defaults(&po);
	if (!bo->replace && access(out, F_OK) == 0)
		return cli_failf("build: %s exists: use -F to replace it", out);
	if (sif_pull(ref, &po, bo, cached, &err) < 0 ||
	    sif_pull_copy(cached, out, bo->replace, &err) < 0) {
		sif_err_prefix(&err, "build: ");
		return cli_fail(&err);
	}
	return 0;
}

static int run(int argc, char **argv)
{
	enum { OPT_ARCH = 256, OPT_INSECURE, OPT_CA, OPT_PRINT };
	static const struct option opts[] = {
		{"arch", required_argument, NULL, OPT_ARCH},
		{"jobs", required_argument, NULL, 'j'},
		{"compress", required_argument, NULL, 'c'},
		{"level", required_argument, NULL, 'l'},
		{"insecure", no_argument, NULL, OPT_INSECURE},
		{"ca-file", required_argument, NULL, OPT_CA},
		{"force", no_argument, NULL, 'F'},
		{"quiet", no_argument, NULL, 'q'},
		{"verbose", no_argument, NULL, 'v'},
		{"print-path", no_argument, NULL, OPT_PRINT},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct sif_build_opts bo = {.arch = sif_host_arch(), .comp = SQFS_OUT_ZSTD};
	struct sif_pull_opts po = {0};
	struct sif_err err = {0};
	const char *out = NULL, *ref;
	char cached[PATH_MAX];
	bool quiet = false, print_path = false;
	unsigned v;
	int c;

	pull_defaults(&po);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+j:c:l:Fqvh", opts, NULL)) != -1) {
		switch (c) {
		case OPT_ARCH: bo.arch = optarg; break;
		case 'j':
			if (cli_parse_uint(optarg, 64, &v) < 0 || v == 0)
				return cli_failf("pull: --jobs '%s' is not a number of downloads: give 1 "
				                 "to 64", optarg);
			po.jobs = v;
			break;
		case 'c':
			bo.comp = cli_parse_comp(optarg);
			if (bo.comp < 0)
				return cli_failf("pull: unknown compressor '%s': use gzip, zstd, lz4, xz "
				                 "or none", optarg);
			break;
		case 'l':
			if (cli_parse_uint(optarg, 100, &v) < 0 || v == 0)
				return cli_failf("pull: --level '%s' is not a level: give a positive "
				                 "number the compressor accepts", optarg);
			bo.level = (int)v;
			break;
		case OPT_INSECURE: po.insecure = true; break;
		case OPT_CA:
			if (access(optarg, R_OK) < 0)
				return cli_failf("pull: --ca-file %s: %s: name a readable PEM file", optarg,
				                 strerror(errno));
			po.ca_file = optarg;
			break;
		case 'F': bo.replace = true; break;
		case 'q': quiet = true; break;
		case 'v': po.verbose++; break;
		case OPT_PRINT: print_path = true; break;
		case 'h': cli_usage(stdout, &sif_cmd_pull); return 0;
		default:
			return cli_failf("pull: unknown option or missing value '%s': run 'sif help pull'",
			                 argv[optind - 1]);
		}
	}
	if (argc - optind == 1) {
		ref = argv[optind];
	} else if (argc - optind == 2) {
		out = argv[optind];
		ref = argv[optind + 1];
	} else {
		return cli_failf("pull: name [OUT.sif] and one docker://REF: run 'sif help pull'");
	}
	if (strncmp(ref, "docker://", 9) != 0) {
		if (out && strncmp(out, "docker://", 9) == 0)
			return cli_failf("pull: the image comes last: sif pull %s %s", ref, out);
		return cli_failf("pull: %s: name a registry image as docker://REPO[:TAG] (other "
		                 "sources: 'sif build')", ref);
	}
	if (bo.level && bo.comp == SQFS_OUT_NONE)
		return cli_failf("pull: --level has no meaning with --compress none: drop one");
	if (source_date_epoch(&bo) < 0)
		return cli_failf("pull: SOURCE_DATE_EPOCH=\"%s\" is not a number of seconds: set it "
		                 "to an integer or unset it", getenv("SOURCE_DATE_EPOCH"));
	if (out && !bo.replace && access(out, F_OK) == 0)
		return cli_failf("pull: %s exists: use -F to replace it", out);
	bo.jobs = sif_usable_cpus();
	po.progress = bo.progress = !quiet && isatty(STDERR_FILENO);

	if (sif_pull(ref, &po, &bo, cached, &err) < 0 ||
	    (out && sif_pull_copy(cached, out, bo.replace, &err) < 0)) {
		sif_err_prefix(&err, "pull: ");
		return cli_fail(&err);
	}
	if (!out || print_path)
		printf("%s\n", cached);
	return fflush(stdout) == 0 ? 0 : cli_failf("pull: cannot write the path: %s",
	                                           strerror(errno));
}

const struct sif_command sif_cmd_pull = {
	.name = "pull",
	.summary = "fetch an image from a registry (docker://) into the cache or a SIF",
	.usage = usage,
	.run = run,
};
