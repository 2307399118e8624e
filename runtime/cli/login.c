/* SPDX-License-Identifier: BSD-3-Clause */
/* sif login / sif logout: credentials for a registry. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "registry.h"

static const char login_usage[] =
	"Usage: sif login [OPTIONS] HOST[:PORT]\n"
	"\n"
	"Check a user name and password (or token) against the registry HOST, then\n"
	"store them for 'sif pull' in $XDG_CONFIG_HOME/sif/auth.json (else\n"
	"~/.config/sif/auth.json), a file only you may read. Docker's config.json\n"
	"is also read (never written). For Docker Hub, HOST is docker.io.\n"
	"\n"
	"Options:\n"
	"  -u, --username USER  the user name (default: asked on the terminal)\n"
	"      --password-stdin read the password from standard input (default:\n"
	"                       asked on the terminal, not echoed)\n"
	"      --insecure       plain HTTP to the registry (as for the registries\n"
	"                       SIF_INSECURE_REGISTRIES lists: the password then\n"
	"                       travels in clear text)\n"
	"      --ca-file FILE   trust the CAs in FILE for the registry's certificate\n"
	"  -v, --verbose        trace each request (never its credentials)\n"
	"  -h, --help           show this help\n"
	"\n"
	"Exit status: 0, or 255 on failure. See sif-pull(1).\n";

static const char logout_usage[] =
	"Usage: sif logout HOST[:PORT]\n"
	"\n"
	"Remove the credentials 'sif login' stored for HOST. Docker's config.json is\n"
	"left alone.\n"
	"Exit status: 0, or 255 on failure. See sif-pull(1).\n";

/* A line from F without its newline; NULL at end of file. */
static char *read_line(FILE *f)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, f);

	if (n < 0) {
		free(line);
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return line;
}

/* Ask on the terminal; ECHO off for a password. */
static char *ask(const char *prompt, bool secret)
{
	struct termios t, old;
	FILE *tty = fopen("/dev/tty", "r+e");
	char *line;
	bool restore = false;

	if (!tty)
		return NULL;
	fputs(prompt, tty);
	fflush(tty);
	if (secret && tcgetattr(fileno(tty), &old) == 0) {
		t = old;
		t.c_lflag &= ~(tcflag_t)ECHO;
		restore = tcsetattr(fileno(tty), TCSAFLUSH, &t) == 0;
	}
	line = read_line(tty);
	if (restore) {
		tcsetattr(fileno(tty), TCSAFLUSH, &old);
		fputc('\n', tty);
	}
	fclose(tty);
	return line;
}

static int login(int argc, char **argv)
{
	enum { OPT_STDIN = 256, OPT_INSECURE, OPT_CA };
	static const struct option opts[] = {
		{"username", required_argument, NULL, 'u'},
		{"password-stdin", no_argument, NULL, OPT_STDIN},
		{"insecure", no_argument, NULL, OPT_INSECURE},
		{"ca-file", required_argument, NULL, OPT_CA},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct reg_opts ro = {0};
	struct reg_creds cr = {0};
	struct reg_client *client = NULL;
	struct reg_ref ref = {0};
	struct sif_err err = {0};
	const char *user = NULL, *ca = getenv("SIF_CA_FILE");
	char host[256];
	bool from_stdin = false;
	int c, r;

	if (ca && *ca)
		ro.ca_file = ca;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+u:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'u': user = optarg; break;
		case OPT_STDIN: from_stdin = true; break;
		case OPT_INSECURE: ro.insecure = true; break;
		case OPT_CA: ro.ca_file = optarg; break;
		case 'v': ro.verbose++; break;
		case 'h': cli_usage(stdout, &sif_cmd_login); return 0;
		default:
			return cli_failf("login: unknown option or missing value '%s': run 'sif help "
			                 "login'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return cli_failf("login: name one registry HOST: run 'sif help login'");
	if (reg_host_normalize(argv[optind], host, sizeof(host)) < 0)
		return cli_failf("login: '%s' is not a registry host name (HOST or HOST:PORT)",
		                 argv[optind]);
	cr.user = user ? strdup(user) : ask("Username: ", false);
	if (!cr.user || !*cr.user) {
		reg_creds_free(&cr);
		return cli_failf("login: give a user name with --username (no terminal to ask on)");
	}
	cr.pass = from_stdin ? read_line(stdin) : ask("Password: ", true);
	if (!cr.pass || !*cr.pass) {
		reg_creds_free(&cr);
		return cli_failf("login: no password: give it on standard input with "
		                 "--password-stdin, or on a terminal");
	}
	snprintf(ref.host, sizeof(ref.host), "%s", host);
	snprintf(ref.repo, sizeof(ref.repo), "library/sif-login");
	ro.creds = &cr;
	if ((r = reg_client_open(&client, &ref, &ro, &err)) == 0)
		r = reg_ping(client, &err);
	reg_client_close(client);
	if (r == 0)
		r = reg_auth_file_store(NULL, host, cr.user, cr.pass, &err);
	reg_creds_free(&cr);
	if (r < 0) {
		sif_err_prefix(&err, "login: ");
		return cli_fail(&err);
	}
	printf("Login to %s succeeded\n", host);
	return 0;
}

static int logout(int argc, char **argv)
{
	struct sif_err err = {0};
	char host[256];

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		cli_usage(stdout, &sif_cmd_logout);
		return 0;
	}
	if (argc != 2 || argv[1][0] == '-')
		return cli_failf("logout: name one registry HOST: run 'sif help logout'");
	if (reg_host_normalize(argv[1], host, sizeof(host)) < 0)
		return cli_failf("logout: '%s' is not a registry host name (HOST or HOST:PORT)",
		                 argv[1]);
	if (reg_auth_file_store(NULL, host, NULL, NULL, &err) < 0) {
		sif_err_prefix(&err, "logout: ");
		return cli_fail(&err);
	}
	printf("Removed the credentials for %s\n", host);
	return 0;
}

const struct sif_command sif_cmd_login = {
	.name = "login",
	.summary = "store credentials for a registry",
	.usage = login_usage,
	.run = login,
};

const struct sif_command sif_cmd_logout = {
	.name = "logout",
	.summary = "remove the stored credentials for a registry",
	.usage = logout_usage,
	.run = logout,
};
