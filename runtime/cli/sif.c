/* SPDX-License-Identifier: BSD-3-Clause */
/* sif: the command line front end. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const struct sif_command *const commands[] = {
	&sif_cmd_exec,
	&sif_cmd_run,
	&sif_cmd_shell,
	&sif_cmd_build,
	&sif_cmd_inspect,
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

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

static void print_help(FILE *f)
{
	fprintf(f,
	        "Usage: sif COMMAND [OPTIONS] ...\n"
	        "\n"
	        "sif runs containers from single-file images (.sif) as the invoking user,\n"
	        "without setuid helpers or daemons.\n"
	        "\n"
	        "Commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
	fprintf(f,
	        "  %-10s %s\n"
	        "  %-10s %s\n"
	        "\n"
	        "Options:\n"
	        "  -h, --help     show this help\n"
	        "      --version  print the version\n"
	        "\n"
	        "Run 'sif help COMMAND' for a command's options; see sif(1).\n",
	        "help", "show help for sif or for one command",
	        "version", "print the version");
}

static const struct sif_command *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i]->name, name) == 0)
			return commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	const struct sif_command *cmd;

	if (argc < 2) {
		print_help(stderr);
		return SIF_EXIT_FAILURE;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("sif %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		print_help(stdout);
		return 0;
	}
	if (strcmp(argv[1], "help") == 0) {
		if (argc < 3) {
			print_help(stdout);
			return 0;
		}
		if (strcmp(argv[2], "help") == 0 || strcmp(argv[2], "version") == 0) {
			printf("Usage: sif help [COMMAND]\n       sif version | sif --version\n");
			return 0;
		}
		cmd = find_command(argv[2]);
		if (!cmd)
			return cli_failf("help: unknown command '%s': run 'sif help' for the list", argv[2]);
		cli_usage(stdout, cmd);
		return 0;
	}
	cmd = find_command(argv[1]);
	if (!cmd)
		return cli_failf("unknown command '%s': run 'sif help' for the list", argv[1]);
	return cmd->run(argc - 1, argv + 1);
}
