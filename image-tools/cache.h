/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The image cache of "sif pull": content-addressed blobs and built SIFs,
 * safe to share between many processes on several nodes (NFS, Lustre).
 *
 *   $SIF_CACHEDIR (default $XDG_CACHE_HOME/sif, else ~/.cache/sif)
 *     blobs/sha256/HEX        a blob, verified when written (mode 0644)
 *     blobs/sha256/HEX.ok     its marker: size and mtime when verified
 *     blobs/sha256/HEX.lock   taken while one process fetches it
 *     sif/NAME.sif            an image built from the manifest (or index)
 *                             NAME = MANIFESTHEX-OPTIONSKEY
 *     sif/NAME.sif.ok, sif/NAME.lock
 *     refs/KEY                the manifest digest a tag last had ("DIGEST REF"),
 *                             KEY = the first 32 hex digits of sha256(REF):
 *                             a warm pull then asks with HEAD, not GET
 *     tmp/                    $SIF_TMPDIR by default: downloads in progress
 *
 * Entries appear by rename(2) of a complete, verified temporary file, so a
 * reader never sees a partial one.  A later read checks the size and the
 * marker (not the digest: "sif cache verify" re-hashes); an entry whose
 * size or mtime no longer match its marker is treated as absent and
 * fetched again.  Locks are POSIX byte-range locks (fcntl), which NFS
 * implements through lockd: they make concurrent pulls fetch each blob
 * once; correctness does not depend on them.  A lock counts only when,
 * once held, its path still names the locked file (a clean may have
 * removed it meanwhile); lock files are removed only while held.
 *
 * $SIF_CACHEDIR_SITE names a read-only cache of the same layout that is
 * consulted first.
 */
#ifndef SIF_CACHE_H
#define SIF_CACHE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"

/* room for the names under them within PATH_MAX */
#define SIF_CACHE_DIR_MAX (PATH_MAX - 512)

struct sif_cache {
	char dir[SIF_CACHE_DIR_MAX];     /* the user's cache */
	char site[SIF_CACHE_DIR_MAX];    /* a read-only site cache, or "" */
	char tmp[SIF_CACHE_DIR_MAX];     /* temporary files */
};

/* Resolve the directories; with CREATE make the user's (mode 0755). */
int cache_open(struct sif_cache *c, bool create, struct sif_err *err);

/* The key of the build options that change a built image's bytes. */
void cache_options_key(int comp, int level, const char *arch, bool have_time, int64_t time,
                       char out[17]);

/* Is PATH a valid entry: a regular file of SIZE bytes (-1: any) whose
 * marker PATH.ok matches its size and mtime? */
bool cache_entry_ok(const char *path, int64_t size);
/* Write PATH.ok for PATH as it is now; SHA (or NULL) and NOTE (or NULL)
 * are recorded with it. */
int cache_mark(const char *path, const char *sha, const char *note, struct sif_err *err);
/* Read the SHA and NOTE recorded in PATH.ok ("" when none). */
int cache_marker_read(const char *path, char sha[72], char *note, size_t notelen);

/* Take the lock file LOCKPATH (created if need be), waiting for another
 * holder; after 30 s say so on stderr; give up after $SIF_LOCK_TIMEOUT
 * seconds (default 3600).  Returns the descriptor holding the lock. */
int cache_lock(const char *lockpath, struct sif_err *err);
/* Without waiting: the descriptor, or -EAGAIN when another holds it. */
int cache_trylock(const char *lockpath);
void cache_unlock(int fd);

/* The path of blob DIGEST in the user's cache. */
void cache_blob_path(const struct sif_cache *c, const char *digest, char out[PATH_MAX]);
/* A valid copy of blob DIGEST (SIZE bytes, -1 any): 1 and its path in OUT
 * (the site cache's first), or 0. */
int cache_blob_find(const struct sif_cache *c, const char *digest, int64_t size,
                    char out[PATH_MAX]);
/* Make sure blob DIGEST is cached, calling FETCH(ARG, FD, ERR) to write it
 * to an empty temporary file when it is not (under the blob's lock, after
 * checking again).  FETCH verifies what it writes; the size is checked
 * here too.  OUT: the entry's path.  *FETCHED: whether FETCH ran. */
int cache_blob_get(const struct sif_cache *c, const char *digest, int64_t size,
                   int (*fetch)(void *arg, int fd, struct sif_err *err), void *arg,
                   char out[PATH_MAX], bool *fetched, struct sif_err *err);
/* Store BUF as blob DIGEST (verified here) unless there already. */
int cache_blob_put(const struct sif_cache *c, const char *digest, const void *buf, size_t len,
                   struct sif_err *err);
/* Read a small valid blob (at most MAX bytes), verifying its digest: 1 and
 * a malloc'd, NUL-terminated *BUF; 0 when it is not cached (or corrupt). */
int cache_blob_read(const struct sif_cache *c, const char *digest, size_t max, char **buf,
                    size_t *len);

/* Built images: the user's path of NAME ("HEX-KEY"), its lock file, and a
 * valid copy (site cache first). */
void cache_sif_path(const struct sif_cache *c, const char *name, char out[PATH_MAX]);
void cache_sif_lock_path(const struct sif_cache *c, const char *name, char out[PATH_MAX]);
int cache_sif_find(const struct sif_cache *c, const char *name, char out[PATH_MAX]);

/* The digest the reference REF ("HOST/REPO:TAG") had at the last pull
 * into DIGEST: 1, else 0.  Put records it (errors ignored: a hint only). */
int cache_ref_get(const struct sif_cache *c, const char *ref, char digest[72]);
void cache_ref_put(const struct sif_cache *c, const char *ref, const char *digest);

/* The sha256 of the file at PATH. */
int cache_hash_file(const char *path, char out[72], struct sif_err *err);

/* sif cache list / clean / verify. */
enum { CACHE_BLOBS = 1, CACHE_IMAGES = 2, CACHE_ALL = 3 };
int cache_list(const struct sif_cache *c, FILE *f, struct sif_err *err);
int cache_clean(const struct sif_cache *c, int what, FILE *f, struct sif_err *err);
/* Re-hash every entry; remove corrupt ones.  *BAD: how many. */
int cache_verify(const struct sif_cache *c, FILE *f, unsigned *bad, struct sif_err *err);

#endif
