/* SPDX-License-Identifier: BSD-3-Clause */
/* What every sif program prints the same way: errors and usage. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "cli.h"

int cli_failf(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("sif: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return SIF_EXIT_FAILURE;
}

int cli_fail(const struct sif_err *err)
{
	const char *hint = "";

	switch (err->code) {
	case EBADMSG:
		hint = "; the file is damaged or not what it should be: copy it again or rebuild it";
		break;
	case ENOENT:
		hint = "; check the path";
		break;
	case EACCES:
	case EPERM:
		hint = "; check the permissions";
		break;
	case ENOSPC:
	case EDQUOT:
		hint = "; free some space or write elsewhere";
		break;
	case ENOMEM:
		hint = "; free some memory and try again";
		break;
	}
	/* a message that already says what to do keeps its own advice */
	if (err->advised)
		hint = "";
	return cli_failf("%s%s", err->msg, hint);
}

void cli_usage(FILE *f, const struct sif_command *cmd)
{
	fputs(cmd->usage, f);
}
