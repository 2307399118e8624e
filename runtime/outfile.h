/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Output files that appear whole or not at all.  The data is written to an
 * anonymous file (O_TMPFILE) in the destination's directory and linked into
 * place only at commit, so even "kill -9" leaves nothing behind.  Where the
 * filesystem has no O_TMPFILE (NFS, Lustre), a hidden named temporary file
 * beside the destination is used and removed on abort or on SIGINT, SIGTERM,
 * SIGHUP.
 */
#ifndef SIF_OUTFILE_H
#define SIF_OUTFILE_H

#include <stdbool.h>

#include "err.h"

struct sif_outfile {
	int fd;           /* write here */
	char *path;       /* destination */
	char *tmppath;    /* named temporary file, or NULL while anonymous */
	bool replace;     /* may replace an existing destination */
	unsigned mode;    /* permissions of the result */
};

/* Open a new output for PATH.  Fails with EEXIST when PATH exists and
 * REPLACE is false. */
int sif_outfile_open(struct sif_outfile *o, const char *path, bool replace,
                     struct sif_err *err);
/* fsync the data and put it in place atomically. */
int sif_outfile_commit(struct sif_outfile *o, struct sif_err *err);
/* Drop the output; nothing remains.  Safe after commit (does nothing). */
void sif_outfile_abort(struct sif_outfile *o);

#endif
