/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Running the image tool (sif-build) from the launcher: the verbs that
 * build or pull images, and "sif exec docker://..." which needs the path
 * of a pulled image.  SIF_LIBEXECDIR points an uninstalled build tree at
 * its own sif-build.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <limits.h>
#include <unistd.h>

#include <sys/wait.h>

#include "cli.h"

static int tool_path(char *path, size_t n)
{
	const char *dir = getenv("SIF_LIBEXECDIR");

	if (!dir || !*dir)
		dir = SIF_LIBEXECDIR;
	return (size_t)snprintf(path, n, "%s/sif-build", dir) >= n ? -1 : 0;
}

int cli_run_image_tool(int argc, char **argv)
{
	char path[PATH_MAX], **nargv;

	if (tool_path(path, sizeof(path)) < 0)
		return cli_failf("%s: SIF_LIBEXECDIR is too long: unset it", argv[0]);
	nargv = calloc((size_t)argc + 2, sizeof(*nargv));
	if (!nargv)
		return cli_failf("%s: out of memory", argv[0]);
	nargv[0] = (char *)"sif-build";
	for (int i = 0; i < argc; i++)
		nargv[i + 1] = argv[i];
	execv(path, nargv);
	free(nargv);
	return cli_failf("%s: cannot run %s: %s; reinstall sif, or set SIF_LIBEXECDIR to the "
	                 "directory that holds sif-build", argv[0], path, strerror(errno));
}

int cli_pull_cached(const char *ref, bool verbose, char *out, size_t n)
{
	char path[PATH_MAX];
	int pfd[2], status;
	size_t len = 0;
	pid_t pid;

	if (tool_path(path, sizeof(path)) < 0)
		return cli_failf("%s: SIF_LIBEXECDIR is too long: unset it", ref);
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return cli_failf("%s: pipe: %s", ref, strerror(errno));
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return cli_failf("%s: fork: %s", ref, strerror(errno));
	}
	if (pid == 0) {
		char *argv[7];
		int k = 0;
		argv[k++] = (char *)"sif-build";
		argv[k++] = (char *)"pull";
		argv[k++] = (char *)"--print-path";
		if (verbose)
			argv[k++] = (char *)"-v";
		argv[k++] = (char *)"--";
		argv[k++] = (char *)ref;
		argv[k] = NULL;
		/* stdout is the pipe; stderr stays the user's, for progress and errors */
		if (dup2(pfd[1], STDOUT_FILENO) < 0)
			_exit(SIF_EXIT_FAILURE);
		execv(path, argv);
		fprintf(stderr, "sif: error: %s: cannot run %s: %s; reinstall sif, or set "
		        "SIF_LIBEXECDIR to the directory that holds sif-build\n", ref, path,
		        strerror(errno));
		_exit(SIF_EXIT_FAILURE);
	}
	close(pfd[1]);
	for (;;) {
		ssize_t r = read(pfd[0], out + len, n - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
		if (len == n - 1)
			break;
	}
	close(pfd[0]);
	out[len] = '\0';
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return cli_failf("%s: waitpid: %s", ref, strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return SIF_EXIT_FAILURE;   /* the image tool said why */
	out[strcspn(out, "\n")] = '\0';
	if (out[0] != '/')
		return cli_failf("%s: the image tool gave no image path", ref);
	return 0;
}
