/* SPDX-License-Identifier: BSD-3-Clause */
/* sif: the command line front end. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <limits.h>
#include <unistd.h>

#include "cli.h"

/* "sif build", "sif pull", "sif login", "sif logout" and "sif cache" run
 * the image tool (tool.c), which links what the launcher does not load
 * (libarchive, libsquashfs, libcrypto, libcurl); it prints their usage. */
static const struct sif_command sif_cmd_build_tool = {
	.name = "build",
	.summary = "make a SIF image from Docker/OCI layers, a directory or a squashfs",
	.usage = NULL,   /* the image tool prints it */
	.run = cli_run_image_tool,
};

static const struct sif_command sif_cmd_pull_tool = {
	.name = "pull",
	.summary = "fetch an image from a registry (docker://) into the cache or a SIF",
	.usage = NULL,
	.run = cli_run_image_tool,
};

static const struct sif_command sif_cmd_login_tool = {
	.name = "login",
	.summary = "store credentials for a registry",
	.usage = NULL,
	.run = cli_run_image_tool,
};

static const struct sif_command sif_cmd_logout_tool = {
	.name = "logout",
	.summary = "remove the stored credentials for a registry",
	.usage = NULL,
	.run = cli_run_image_tool,
};

static const struct sif_command sif_cmd_cache_tool = {
	.name = "cache",
	.summary = "list, clean or verify the image cache of sif pull",
	.usage = NULL,
	.run = cli_run_image_tool,
};

static const struct sif_command *const commands[] = {
	&sif_cmd_exec,
	&sif_cmd_run,
	&sif_cmd_shell,
	&sif_cmd_build_tool,
	&sif_cmd_pull_tool,
	&sif_cmd_inspect,
	&sif_cmd_cache_tool,
	&sif_cmd_login_tool,
	&sif_cmd_logout_tool,
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

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
		if (!cmd->usage)
			return cmd->run(2, (char *[]){argv[2], (char *)"--help", NULL});
		cli_usage(stdout, cmd);
		return 0;
	}
	cmd = find_command(argv[1]);
	if (!cmd)
		return cli_failf("unknown command '%s': run 'sif help' for the list", argv[1]);
	return cmd->run(argc - 1, argv + 1);
}
