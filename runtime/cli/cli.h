/* SPDX-License-Identifier: BSD-3-Clause */
/* The sif front end: one function per verb, dispatched from sif.c. */
#ifndef SIF_CLI_H
#define SIF_CLI_H

#include <stdbool.h>
#include <stddef.h>
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
extern const struct sif_command sif_cmd_pull;
extern const struct sif_command sif_cmd_login;
extern const struct sif_command sif_cmd_logout;
extern const struct sif_command sif_cmd_cache;

/* Print "sif: error: MESSAGE" with a hint fitting err->code; returns 255. */
int cli_fail(const struct sif_err *err);
/* Print "sif: error: FMT" and return 255. */
int cli_failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* An option's number from 0 to MAX (-1 if not one). */
int cli_parse_uint(const char *s, unsigned max, unsigned *v);
/* The image tool's compressor name as an enum sqfs_out_comp (-1 if unknown). */
int cli_parse_comp(const char *s);

/* Print a command's usage to F. */
void cli_usage(FILE *f, const struct sif_command *cmd);

/* tool.c: exec the image tool (sif-build) with ARGV (the verb first). */
int cli_run_image_tool(int argc, char **argv);
/* tool.c: pull REF into the cache with the image tool ("sif-build pull
 * --print-path"), its path into OUT: 0, or the exit status of a failure
 * already reported. */
int cli_pull_cached(const char *ref, bool verbose, char *out, size_t n);

/* pull.c (the image tool): "sif build OUT docker://REF". */
struct sif_build_opts;
int cli_build_docker(const char *out, const char *ref, const struct sif_build_opts *bo,
                     bool quiet);

#endif
