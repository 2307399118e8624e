/* SPDX-License-Identifier: BSD-3-Clause */
/* What every sif program prints the same way: errors and usage. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

/* Length of the UTF-8 sequence at S if it is well formed and prints (not a
 * C1 control), else 0. */
static size_t utf8_printable(const unsigned char *s)
{
	size_t n = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;

	if (n == 0 || s[0] > 0xf4)
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if (s[0] == 0xc2 && s[1] < 0xa0)
		return 0;                       /* U+0080..U+009F */
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xf0 && s[1] < 0x90) ||
	    (s[0] == 0xf4 && s[1] > 0x8f) || (s[0] == 0xed && s[1] > 0x9f))
		return 0;                       /* overlong, beyond U+10FFFF, surrogates */
	return n;
}

int cli_failf(const char *fmt, ...)
{
	char msg[4096];
	const unsigned char *p;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* messages name files and entries from images and layers: nothing
	 * in them may drive the terminal (escape sequences, C1 controls) */
	for (p = (const unsigned char *)msg; *p;) {
		size_t n = *p >= 0x80 ? utf8_printable(p) : (*p >= 0x20 && *p != 0x7f);
		if (n == 0) {
			*(unsigned char *)p = '?';
			n = 1;
		}
		p += n;
	}
	fflush(stdout);
	fprintf(stderr, "sif: error: %s\n", msg);
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

int cli_parse_uint(const char *s, unsigned max, unsigned *v)
{
	char *end;
	unsigned long x;

	errno = 0;
	x = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || x > max)
		return -1;
	*v = (unsigned)x;
	return 0;
}
