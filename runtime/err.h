/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The one error idiom of sif: a library function returns 0 (or a
 * non-negative result) on success and a negative errno on failure, and
 * fills a struct sif_err with a message that says what failed and why.
 * Only the top of a process (the CLI) prints it, as one line
 * "sif: error: MESSAGE", and exits 255.
 */
#ifndef SIF_ERR_H
#define SIF_ERR_H

#include <stdbool.h>
#include <stddef.h>

#define SIF_ERR_MSG_MAX 1024

struct sif_err {
	int code;                   /* positive errno of the failure, 0 if none */
	char msg[SIF_ERR_MSG_MAX];  /* "what: why" without the "sif: error: " prefix */
	bool advised;               /* the message already says what to do */
};

/* Record a failure; returns -errnum so callers can write
 * "return sif_err_set(err, EINVAL, "...");".  err may be NULL. */
int sif_err_set(struct sif_err *err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The same, for a message that already says what to do about it (the CLI
 * then adds no generic hint). */
int sif_err_advise(struct sif_err *err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prepend context ("image.sif: ") to a message already recorded. */
void sif_err_prefix(struct sif_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Errno values with a fixed meaning across sif. */
#define SIF_EFORMAT EBADMSG   /* input is corrupt or not what it claims to be */

#endif
