/* SPDX-License-Identifier: BSD-3-Clause */
/* The sif front end: one function per verb, dispatched from sif.c. */
#ifndef SIF_CLI_H
#define SIF_CLI_H

#include <stdio.h>

#include "err.h"

#define SIF_EXIT_FAILURE 255  /* the launcher's own failures */

struct sif_command {
	const char *name;
	const char *summary;                 /* one line for "sif help" */
	const char *usage;                   /* full text for "sif help NAME" */
	int (*run)(int argc, char **argv);   /* returns the process exit status */
};

extern const struct sif_command sif_cmd_build;
extern const struct sif_command sif_cmd_exec;
extern const struct sif_command sif_cmd_run;
extern const struct sif_command sif_cmd_shell;
extern const struct sif_command sif_cmd_inspect;

/* Print "sif: error: MESSAGE" with a hint fitting err->code; returns 255. */
int cli_fail(const struct sif_err *err);
/* Print "sif: error: FMT" and return 255. */
int cli_failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print a command's usage to F. */
void cli_usage(FILE *f, const struct sif_command *cmd);

#endif
