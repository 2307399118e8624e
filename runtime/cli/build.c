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

#include <sys/stat.h>

#include "build.h"
#include "cli.h"
#include "sif.h"
#include "source.h"
#include "sqfs_out.h"

static const char usage[] =
	"Usage: sif build [OPTIONS] OUT.sif SOURCE\n"
	"\n"
	"Make the SIF image OUT.sif from SOURCE, without root and without unpacking\n"
	"anything to disk. Sources:\n"
	"  docker-archive:FILE[:REPO:TAG]  'docker save' or skopeo output\n"
	"  oci:DIR[:TAG]                   an OCI image layout\n"
	"  oci-archive:FILE[:TAG]          a tar of an OCI image layout\n"
	"  dir:ROOTFS                      a directory tree (a sandbox)\n"
	"  squashfs:FILE                   an existing squashfs image, wrapped as is\n"
	"  docker://[HOST/]REPO[:TAG]      a registry image, as 'sif pull' fetches it\n"
	"Without a prefix the kind is detected. Every layer is checked against its\n"
	"digests; the image gets Apptainer's /.singularity.d (runscript, environment,\n"
	"labels) from the image config, which is also kept in the SIF.\n"
	"\n"
	"Options:\n"
	"      --arch ARCH      the architecture to pick from a multi-architecture\n"
	"                       image, as a Go name (amd64, arm64, ppc64le, ...);\n"
	"                       default: this machine's\n"
	"  -c, --compress ALG   gzip, zstd (default), lz4, xz or none\n"
	"  -l, --level N        the compressor's level (default: its own)\n"
	"  -j, --jobs N         compression threads (default: the CPUs this process\n"
	"                       may use, by affinity and cgroup quota)\n"
	"  -F, --force          replace OUT.sif if it exists\n"
	"  -q, --quiet          no progress display\n"
	"  -h, --help           show this help\n"
	"\n"
	"The image is reproducible: the same SOURCE and options give the same bytes\n"
	"(its ID is all zeros; its times come from SOURCE_DATE_EPOCH, else from the\n"
	"source). It is written beside OUT.sif and renamed into place at the end: a\n"
	"failed or interrupted build leaves no OUT.sif.\n"
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
		{"compress", required_argument, NULL, 'c'},
		{"level", required_argument, NULL, 'l'},
		{"jobs", required_argument, NULL, 'j'},
		{"force", no_argument, NULL, 'F'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct sif_build_opts bo = {.arch = sif_host_arch(), .comp = SQFS_OUT_ZSTD};
	struct sif_err err = {0};
	const char *out, *src, *sde;
	bool quiet = false;
	enum img_kind kind;
	unsigned v;
	int c, r;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+c:l:j:Fqh", opts, NULL)) != -1) {
		switch (c) {
		case 'a': bo.arch = optarg; break;
		case 'c':
			bo.comp = cli_parse_comp(optarg);
			if (bo.comp < 0)
				return cli_failf("build: unknown compressor '%s': use gzip, zstd, lz4, xz "
				                 "or none", optarg);
			break;
		case 'l':
			if (cli_parse_uint(optarg, 100, &v) < 0 || v == 0)
				return cli_failf("build: --level '%s' is not a level: give a positive "
				                 "number the compressor accepts", optarg);
			bo.level = (int)v;
			break;
		case 'j':
			if (cli_parse_uint(optarg, 1024, &v) < 0 || v == 0)
				return cli_failf("build: --jobs '%s' is not a number of threads: give "
				                 "1 to 1024", optarg);
			bo.jobs = v;
			break;
		case 'F': bo.replace = true; break;
		case 'q': quiet = true; break;
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
	if (!bo.jobs)
		bo.jobs = sif_usable_cpus();
	bo.progress = !quiet && isatty(STDERR_FILENO);

	sde = getenv("SOURCE_DATE_EPOCH");
	if (sde && *sde) {
		if (parse_epoch(sde, &bo.time) < 0)
			return cli_failf("build: SOURCE_DATE_EPOCH=\"%s\" is not a number of seconds: "
			                 "set it to an integer or unset it", sde);
		bo.have_time = true;
	}
	if (bo.level && bo.comp == SQFS_OUT_NONE)
		return cli_failf("build: --level has no meaning with --compress none: drop one");

	if (strncmp(src, "squashfs:", 9) == 0) {
		r = sif_build_squashfs(out, src + 9, &bo, &err);
	} else if (strncmp(src, "dir:", 4) == 0) {
		r = sif_build_dir(out, src + 4, &bo, &err);
	} else if (strncmp(src, "oci:", 4) == 0) {
		r = sif_build_image(out, IMG_OCI_DIR, src + 4, &bo, &err);
	} else if (strncmp(src, "oci-archive:", 12) == 0) {
		r = sif_build_image(out, IMG_OCI_ARCHIVE, src + 12, &bo, &err);
	} else if (strncmp(src, "docker-archive:", 15) == 0) {
		r = sif_build_image(out, IMG_DOCKER_ARCHIVE, src + 15, &bo, &err);
	} else if (strncmp(src, "docker://", 9) == 0) {
		return cli_build_docker(out, src, &bo, quiet);
	} else if (strncmp(src, "library://", 10) == 0 || strncmp(src, "shub://", 7) == 0) {
		return cli_failf("build: %s: registry sources are not supported yet: fetch the image "
		                 "with 'skopeo copy ... oci-archive:FILE' and build from that", src);
	} else if (looks_like_squashfs(src)) {
		r = sif_build_squashfs(out, src, &bo, &err);
	} else if (img_source_detect(src, &kind) == 1) {
		r = sif_build_image(out, kind, src, &bo, &err);
	} else {
		struct stat st;
		if (stat(src, &st) < 0)
			return cli_failf("build: %s: %s; check the path (or name the kind: "
			                 "docker-archive:, oci:, oci-archive:, dir:, squashfs:)", src,
			                 strerror(errno));
		if (S_ISDIR(st.st_mode))
			r = sif_build_dir(out, src, &bo, &err);
		else
			return cli_failf("build: %s: not a squashfs image, OCI layout or archive, or "
			                 "docker archive: name its kind (e.g. oci-archive:%s)", src, src);
	}
	if (r < 0) {
		sif_err_prefix(&err, "build: ");
		return cli_fail(&err);
	}
	return 0;
}

const struct sif_command sif_cmd_build = {
	.name = "build",
	.summary = "make a SIF image from Docker/OCI layers, a directory or a squashfs",
	.usage = usage,
	.run = run,
};
