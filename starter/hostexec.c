/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sif-hostexec: a host program inside a container, with the host's own
 * loader and libraries.  --slurm binds this file as PREFIX/bin/NAME for
 * each host command, next to PREFIX/ld.so (the host's dynamic loader),
 * PREFIX/lib/ (the libraries the host's programs need) and
 * PREFIX/libexec/NAME (the host's program); see runtime/hostslurm.h.
 * It runs
 *
 *     PREFIX/ld.so --inhibit-cache --library-path PREFIX/lib \
 *                  --argv0 ARGV0 PREFIX/libexec/NAME ARGS...
 *
 * so that neither the image's C library nor its /etc/ld.so.cache is
 * used, and no LD_LIBRARY_PATH reaches what the program starts in turn.
 * It is linked statically: the image may have no C library at all.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
	char self[PATH_MAX], prefix[PATH_MAX], loader[PATH_MAX + 8], lib[PATH_MAX + 8],
	     prog[PATH_MAX * 2];
	const char *name;
	char **nargv;
	ssize_t n;
	int k = 0;

	/* where this file is: the mount point it is bound on, PREFIX/bin/NAME
	 * (not argv[0], which a caller chooses; AT_EXECFN where /proc is not
	 * mounted) */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
	} else {
		const char *fn = (const char *)getauxval(AT_EXECFN);
		snprintf(self, sizeof(self), "%s", fn ? fn : "");
	}
	char *slash = strrchr(self, '/');
	if (!slash || slash == self) {
		fprintf(stderr, "sif-hostexec: error: cannot tell which host program to run (from "
		        "'%s'): run it as PREFIX/bin/NAME, as sif --slurm binds it\n", self);
		return 127;
	}
	name = slash + 1;
	*slash = '\0';
	/* PREFIX/bin -> PREFIX */
	slash = strrchr(self, '/');
	if (!slash || strcmp(slash, "/bin") != 0) {
		fprintf(stderr, "sif-hostexec: error: %s/%s is not in a directory named bin: run "
		        "it as PREFIX/bin/NAME, as sif --slurm binds it\n", self, name);
		return 127;
	}
	*slash = '\0';
	snprintf(prefix, sizeof(prefix), "%s", self);
	snprintf(loader, sizeof(loader), "%s/ld.so", prefix);
	snprintf(lib, sizeof(lib), "%s/lib", prefix);
	snprintf(prog, sizeof(prog), "%s/libexec/%s", prefix, name);

	nargv = calloc((size_t)argc + 8, sizeof(*nargv));
	if (!nargv) {
		fprintf(stderr, "sif-hostexec: error: out of memory\n");
		return 127;
	}
	nargv[k++] = loader;
	nargv[k++] = "--inhibit-cache";
	nargv[k++] = "--library-path";
	nargv[k++] = lib;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
	/* the program sees the name it was called by (ld.so --argv0: glibc
	 * 2.33; this file was built with the C library the host's loader
	 * belongs to, or an older one) */
	nargv[k++] = "--argv0";
	nargv[k++] = argc > 0 ? argv[0] : (char *)name;
#endif
	nargv[k++] = prog;
	for (int i = 1; i < argc; i++)
		nargv[k++] = argv[i];
	nargv[k] = NULL;
	execve(loader, nargv, environ);
	fprintf(stderr, "sif-hostexec: error: run %s with the host's loader %s: %s\n", prog, loader,
	        strerror(errno));
	return 127;
}
