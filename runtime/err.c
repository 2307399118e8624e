/* SPDX-License-Identifier: BSD-3-Clause */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

__attribute__((format(printf, 4, 0)))
static int vset(struct sif_err *err, int errnum, bool advised, const char *fmt, va_list ap)
{
	if (err) {
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		err->code = errnum;
		err->advised = advised;
	}
	return -errnum;
}

int sif_err_set(struct sif_err *err, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vset(err, errnum, false, fmt, ap);
	va_end(ap);
	return r;
}

int sif_err_advise(struct sif_err *err, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vset(err, errnum, true, fmt, ap);
	va_end(ap);
	return r;
}

void sif_err_prefix(struct sif_err *err, const char *fmt, ...)
{
	char old[SIF_ERR_MSG_MAX];
	size_t n;
	int k;
	va_list ap;

	if (!err)
		return;
	memcpy(old, err->msg, sizeof(old));
	va_start(ap, fmt);
	k = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	n = k < 0 ? 0 : (size_t)k;
	if (n < sizeof(err->msg) - 1) {
		size_t room = sizeof(err->msg) - n - 1;
		size_t len = strnlen(old, room);
		memcpy(err->msg + n, old, len);
		err->msg[n + len] = '\0';
	}
}
