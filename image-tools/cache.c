/* SPDX-License-Identifier: BSD-3-Clause */
/* The pull cache (cache.h): content-addressed, atomic, shared safely. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/stat.h>

#include "cache.h"
#include "io.h"
#include "digest.h"
#include "source.h"

#define MARKER_MAGIC "sif-cache-entry 1"

int cache_open(struct sif_cache *c, bool create, struct sif_err *err)
{
	const char *s = getenv("SIF_CACHEDIR_SITE"), *t = getenv("SIF_TMPDIR");
	static const char *const sub[] = { "blobs/sha256", "sif", "refs" };
	char p[PATH_MAX + 32];
	int r;

	memset(c, 0, sizeof(*c));
	r = sif_cache_dir(c->dir, sizeof(c->dir));
	if (r == -ENOENT)
		return sif_err_advise(err, ENOENT, "no cache directory: set SIF_CACHEDIR (or HOME)");
	if (r < 0)
		return sif_err_advise(err, ENAMETOOLONG, "SIF_CACHEDIR is too long");
	if (s && *s && (size_t)snprintf(c->site, sizeof(c->site), "%s", s) >= sizeof(c->site))
		c->site[0] = '\0';
	if (t && *t)
		r = snprintf(c->tmp, sizeof(c->tmp), "%s", t);
	else
		r = snprintf(c->tmp, sizeof(c->tmp), "%s/tmp", c->dir);
	if ((size_t)r >= sizeof(c->tmp))
		return sif_err_advise(err, ENAMETOOLONG, "SIF_TMPDIR is too long");
	if (!create)
		return 0;
	for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", c->dir, sub[i]);
		if ((r = sif_mkdirs(p, 0700)) < 0)   /* private: images may be from private registries */
			return sif_err_advise(err, -r, "cache %s: %s: set SIF_CACHEDIR to a directory you "
			                      "can write", p, strerror(-r));
	}
	if ((r = sif_mkdirs(c->tmp, 0700)) < 0)
		return sif_err_advise(err, -r, "temporary directory %s: %s: set SIF_TMPDIR to a "
		                      "directory you can write", c->tmp, strerror(-r));
	return 0;
}

void cache_options_key(int comp, int level, const char *arch, bool have_time, int64_t time,
                       char out[17])
{
	char buf[256], dg[72];

	snprintf(buf, sizeof(buf), "sif-pull 1\ncomp %d\nlevel %d\narch %s\ntime %s%lld\n", comp,
	         level, arch ? arch : "", have_time ? "" : "image ", have_time ? (long long)time : 0LL);
	sif_sha256_buf(buf, strlen(buf), dg);
	memcpy(out, dg + 7, 16);
	out[16] = '\0';
}

/* ---- markers ------------------------------------------------------------------ */

static void marker_path(const char *path, char out[PATH_MAX + 8])
{
	snprintf(out, PATH_MAX + 8, "%s.ok", path);
}

bool cache_entry_ok(const char *path, int64_t size)
{
	char mp[PATH_MAX + 8], buf[512];
	long long msize, sec, nsec;
	struct stat st;
	ssize_t n;
	int fd;

	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	if (size >= 0 && st.st_size != size)
		return false;
	marker_path(path, mp);
	if ((fd = open(mp, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	if (strncmp(buf, MARKER_MAGIC " ", sizeof(MARKER_MAGIC)) != 0 ||
	    sscanf(buf + sizeof(MARKER_MAGIC), "%lld %lld %lld", &msize, &sec, &nsec) != 3)
		return false;
	return msize == (long long)st.st_size && sec == (long long)st.st_mtim.tv_sec &&
	       nsec == (long long)st.st_mtim.tv_nsec;
}

int cache_marker_read(const char *path, char sha[72], char *note, size_t notelen)
{
	char mp[PATH_MAX + 8], buf[1024], s[80] = "", nt[800] = "";
	long long a, b, c;
	ssize_t n;
	int fd;

	sha[0] = '\0';
	if (note && notelen)
		note[0] = '\0';
	marker_path(path, mp);
	if ((fd = open(mp, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EINVAL;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (strncmp(buf, MARKER_MAGIC " ", sizeof(MARKER_MAGIC)) != 0 ||
	    sscanf(buf + sizeof(MARKER_MAGIC), "%lld %lld %lld %79s %799s", &a, &b, &c, s, nt) < 3)
		return -EINVAL;
	if (img_digest_valid(s))
		memcpy(sha, s, 72);
	if (note && notelen && strcmp(nt, "-") != 0)
		snprintf(note, notelen, "%s", nt);
	return 0;
}

/* Write a small file atomically: a temporary beside it, then rename. */
static int write_atomic(const char *path, const char *data, size_t len, mode_t mode)
{
	char tmp[PATH_MAX + 16];
	int fd, r = 0;

	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0)
		return -errno;
	if (write(fd, data, len) != (ssize_t)len || fchmod(fd, mode) < 0)
		r = errno ? -errno : -EIO;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

int cache_mark(const char *path, const char *sha, const char *note, struct sif_err *err)
{
	char mp[PATH_MAX + 8], buf[1200];
	struct stat st;
	int r;

	if (stat(path, &st) < 0)
		return sif_err_set(err, errno, "%s: %s", path, strerror(errno));
	snprintf(buf, sizeof(buf), MARKER_MAGIC " %lld %lld %lld %s %.800s\n",
	         (long long)st.st_size, (long long)st.st_mtim.tv_sec, (long long)st.st_mtim.tv_nsec,
	         sha && *sha ? sha : "-", note && *note ? note : "-");
	marker_path(path, mp);
	if ((r = write_atomic(mp, buf, strlen(buf), 0644)) < 0)
		return sif_err_set(err, -r, "%s: %s", mp, strerror(-r));
	return 0;
}

/* ---- locks ------------------------------------------------------------------- */

#ifdef F_OFD_SETLK
#define SETLK F_OFD_SETLK   /* per open file: threads of one process exclude each other too */
#else
#define SETLK F_SETLK
#endif

static int lock_fd(int fd)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };

	if (fcntl(fd, SETLK, &fl) == 0)
		return 0;
	if (errno == EINVAL && SETLK != F_SETLK && fcntl(fd, F_SETLK, &fl) == 0)
		return 0;
	return -errno;
}

/* Does LOCKPATH still name the file FD has open?  A lock taken on a file
 * that "sif cache clean" unlinked meanwhile (it held the lock, removed the
 * file, let go) guards nothing: a newcomer creates a new file at the path
 * and locks that.  So a lock counts only once, held, the path is seen to
 * name its file; and clean unlinks a lock file only while holding it. */
static int still_linked(int fd, const char *lockpath)
{
	struct stat a, b;

	if (fstat(fd, &a) < 0)
		return -errno;
	if (lstat(lockpath, &b) < 0)
		return errno == ENOENT ? 0 : -errno;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int cache_trylock(const char *lockpath)
{
	for (int tries = 0; tries < 100; tries++) {
		int fd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644), r;
		if (fd < 0)
			return -errno;
		if ((r = lock_fd(fd)) < 0) {
			close(fd);
			return r == -EACCES ? -EAGAIN : r;
		}
		if ((r = still_linked(fd, lockpath)) != 0) {
			if (r == 1)
				return fd;
			close(fd);
			return r;
		}
		close(fd);   /* unlinked under us: lock the file there now */
	}
	return -EAGAIN;
}

int cache_lock(const char *lockpath, struct sif_err *err)
{
	const char *t = getenv("SIF_LOCK_TIMEOUT");
	long timeout = t && *t ? strtol(t, NULL, 10) : 3600, waited_ms = 0, step = 10;
	bool said = false;
	int fd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644), r;

	if (fd < 0)
		return sif_err_set(err, errno, "lock %s: %s", lockpath, strerror(errno));
	for (;;) {
		struct timespec ts;
		if ((r = lock_fd(fd)) == 0) {
			if ((r = still_linked(fd, lockpath)) == 1)
				break;
			close(fd);
			if (r < 0)
				return sif_err_set(err, -r, "lock %s: %s", lockpath, strerror(-r));
			/* the file we waited on was removed: take the one there now */
			if ((fd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644)) < 0)
				return sif_err_set(err, errno, "lock %s: %s", lockpath, strerror(errno));
			continue;
		}
		if (r != -EAGAIN && r != -EACCES && r != -EINTR) {
			close(fd);
			return sif_err_advise(err, -r, "lock %s: %s (does this filesystem support "
			                      "POSIX locks? on NFS, is lockd running?)", lockpath,
			                      strerror(-r));
		}
		if (!said && waited_ms >= 30000) {
			fprintf(stderr, "sif: waiting for %s: another pull holds it (if none runs, the "
			        "lock is stale: check the NFS lock daemon)\n", lockpath);
			said = true;
		}
		if (timeout > 0 && waited_ms >= timeout * 1000) {
			close(fd);
			return sif_err_advise(err, ETIMEDOUT, "lock %s: still held by another process "
			                      "after %ld s: try again, or raise SIF_LOCK_TIMEOUT",
			                      lockpath, timeout);
		}
		ts.tv_sec = step / 1000;
		ts.tv_nsec = (step % 1000) * 1000000L;
		nanosleep(&ts, NULL);
		waited_ms += step;
		if (step < 200)
			step *= 2;
	}
	return fd;
}

void cache_unlock(int fd)
{
	if (fd >= 0)
		close(fd);   /* releases the lock */
}

/* ---- blobs --------------------------------------------------------------------- */

static void blob_path_in(const char *dir, const char *digest, char out[PATH_MAX])
{
	snprintf(out, PATH_MAX, "%s/blobs/sha256/%s", dir, digest + 7);
}

void cache_blob_path(const struct sif_cache *c, const char *digest, char out[PATH_MAX])
{
	blob_path_in(c->dir, digest, out);
}

int cache_blob_find(const struct sif_cache *c, const char *digest, int64_t size,
                    char out[PATH_MAX])
{
	if (!img_digest_valid(digest))
		return 0;
	if (c->site[0]) {
		blob_path_in(c->site, digest, out);
		if (cache_entry_ok(out, size))
			return 1;
	}
	blob_path_in(c->dir, digest, out);
	return cache_entry_ok(out, size) ? 1 : 0;
}

/* Copy FD (from its start) into a new temporary beside DEST, then rename:
 * the fallback when SIF_TMPDIR is on another filesystem. */
static int copy_into_place(int fd, const char *dest)
{
	char tmp[PATH_MAX + 16], buf[1 << 16];
	int out, r = 0;
	ssize_t n;

	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", dest);
	if ((out = mkostemp(tmp, O_CLOEXEC)) < 0)
		return -errno;
	if (lseek(fd, 0, SEEK_SET) < 0)
		r = -errno;
	while (r == 0 && (n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno != EINTR)
				r = -errno;
			continue;
		}
		if (write(out, buf, (size_t)n) != n)
			r = errno ? -errno : -EIO;
	}
	if (r == 0 && fchmod(out, 0644) < 0)
		r = -errno;
	if (close(out) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, dest) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

int cache_blob_get(const struct sif_cache *c, const char *digest, int64_t size,
                   int (*fetch)(void *arg, int fd, struct sif_err *err), void *arg,
                   char out[PATH_MAX], bool *fetched, struct sif_err *err)
{
	char lockp[PATH_MAX + 8], tmp[PATH_MAX + 64];
	struct stat st;
	int lk, fd, r;

	*fetched = false;
	if (!img_digest_valid(digest))
		return sif_err_advise(err, SIF_EFORMAT, "\"%.80s\" is not a sha256 digest", digest);
	if (cache_blob_find(c, digest, size, out))
		return 0;
	blob_path_in(c->dir, digest, out);
	snprintf(lockp, sizeof(lockp), "%s.lock", out);
	if ((lk = cache_lock(lockp, err)) < 0)
		return lk;
	/* another process may have fetched it while we waited */
	if (cache_entry_ok(out, size)) {
		cache_unlock(lk);
		return 0;
	}
	snprintf(tmp, sizeof(tmp), "%s/blob-%.16s-XXXXXX", c->tmp, digest + 7);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		r = sif_err_advise(err, errno, "%s: %s: set SIF_TMPDIR to a directory you can write",
		                   tmp, strerror(errno));
		cache_unlock(lk);
		return r;
	}
	*fetched = true;
	r = fetch(arg, fd, err);
	if (r == 0 && fstat(fd, &st) < 0)
		r = sif_err_set(err, errno, "%s: %s", tmp, strerror(errno));
	if (r == 0 && size >= 0 && st.st_size != size)
		r = sif_err_advise(err, EIO, "blob %.19s: %lld bytes received, %lld expected: try "
		                   "again", digest, (long long)st.st_size, (long long)size);
	if (r == 0 && fchmod(fd, 0644) < 0)
		r = sif_err_set(err, errno, "%s: %s", tmp, strerror(errno));
	if (r == 0 && rename(tmp, out) < 0) {
		if (errno == EXDEV) {
			int e = copy_into_place(fd, out);
			if (e < 0)
				r = sif_err_set(err, -e, "%s: %s", out, strerror(-e));
		} else {
			r = sif_err_set(err, errno, "%s: %s", out, strerror(errno));
		}
		unlink(tmp);
	}
	if (r < 0)
		unlink(tmp);
	close(fd);
	if (r == 0)
		r = cache_mark(out, NULL, NULL, err);
	cache_unlock(lk);
	return r;
}

int cache_blob_put(const struct sif_cache *c, const char *digest, const void *buf, size_t len,
                   struct sif_err *err)
{
	char path[PATH_MAX], dg[72];
	int r;

	if (cache_blob_find(c, digest, (int64_t)len, path))
		return 0;
	sif_sha256_buf(buf, len, dg);
	if (strcmp(dg, digest) != 0)
		return sif_err_advise(err, SIF_EFORMAT, "digest mismatch: %.80s has digest %s",
		                      digest, dg);
	blob_path_in(c->dir, digest, path);
	if ((r = write_atomic(path, buf, len, 0644)) < 0)
		return sif_err_set(err, -r, "%s: %s", path, strerror(-r));
	return cache_mark(path, NULL, NULL, err);
}

int cache_blob_read(const struct sif_cache *c, const char *digest, size_t max, char **bufp,
                    size_t *lenp)
{
	char path[PATH_MAX], dg[72], *buf;
	struct stat st;
	ssize_t n;
	int fd;

	*bufp = NULL;
	if (!cache_blob_find(c, digest, -1, path))
		return 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	if (fstat(fd, &st) < 0 || st.st_size < 0 || (uint64_t)st.st_size > max ||
	    !(buf = malloc((size_t)st.st_size + 1))) {
		close(fd);
		return 0;
	}
	n = read(fd, buf, (size_t)st.st_size);
	close(fd);
	if (n != st.st_size) {
		free(buf);
		return 0;
	}
	buf[n] = '\0';
	sif_sha256_buf(buf, (size_t)n, dg);
	if (strcmp(dg, digest) != 0) {
		free(buf);
		return 0;
	}
	*bufp = buf;
	*lenp = (size_t)n;
	return 1;
}

/* ---- tags ------------------------------------------------------------------------ */

static void ref_path(const struct sif_cache *c, const char *ref, char out[PATH_MAX])
{
	char dg[72];

	sif_sha256_buf(ref, strlen(ref), dg);
	snprintf(out, PATH_MAX, "%s/refs/%.32s", c->dir, dg + 7);
}

int cache_ref_get(const struct sif_cache *c, const char *ref, char digest[72])
{
	char path[PATH_MAX], buf[1024];
	size_t dl = IMG_DIGEST_LEN;
	ssize_t n;
	int fd;

	digest[0] = '\0';
	ref_path(c, ref, path);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* "DIGEST REF\n", for this very REF */
	if ((size_t)n < dl + 2 || buf[dl] != ' ' || strncmp(buf + dl + 1, ref, strlen(ref)) != 0 ||
	    strcmp(buf + dl + 1 + strlen(ref), "\n") != 0)
		return 0;
	buf[dl] = '\0';
	if (!img_digest_valid(buf))
		return 0;
	memcpy(digest, buf, dl + 1);
	return 1;
}

void cache_ref_put(const struct sif_cache *c, const char *ref, const char *digest)
{
	char path[PATH_MAX], buf[1100], old[72];

	if (!img_digest_valid(digest) || strlen(ref) > 900 ||
	    (cache_ref_get(c, ref, old) == 1 && !strcmp(old, digest)))
		return;
	ref_path(c, ref, path);
	snprintf(buf, sizeof(buf), "%s %s\n", digest, ref);
	write_atomic(path, buf, strlen(buf), 0644);
}

/* ---- images ----------------------------------------------------------------- */

void cache_sif_path(const struct sif_cache *c, const char *name, char out[PATH_MAX])
{
	snprintf(out, PATH_MAX, "%s/sif/%s.sif", c->dir, name);
}

void cache_sif_lock_path(const struct sif_cache *c, const char *name, char out[PATH_MAX])
{
	snprintf(out, PATH_MAX, "%s/sif/%s.lock", c->dir, name);
}

int cache_sif_find(const struct sif_cache *c, const char *name, char out[PATH_MAX])
{
	if (c->site[0]) {
		snprintf(out, PATH_MAX, "%s/sif/%s.sif", c->site, name);
		if (cache_entry_ok(out, -1))
			return 1;
	}
	cache_sif_path(c, name, out);
	return cache_entry_ok(out, -1) ? 1 : 0;
}

int cache_hash_file(const char *path, char out[72], struct sif_err *err)
{
	struct sif_sha256 h;
	static char buf[1 << 20];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return sif_err_set(err, errno, "%s: %s", path, strerror(errno));
	if (sif_sha256_init(&h) < 0) {
		close(fd);
		return sif_err_set(err, ENOMEM, "out of memory");
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			int e = errno;
			if (e == EINTR)
				continue;
			sif_sha256_free(&h);
			close(fd);
			return sif_err_set(err, e, "%s: %s", path, strerror(e));
		}
		sif_sha256_update(&h, buf, (size_t)n);
	}
	close(fd);
	sif_sha256_final(&h, out);
	return 0;
}

/* ---- list, clean, verify --------------------------------------------------------- */

static bool is_hex64(const char *s)
{
	size_t i;
	for (i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[i] == '\0';
}

static bool ends_with(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);
	return n >= m && strcmp(s + n - m, suf) == 0;
}

static double mib(long long b)
{
	return (double)b / 1048576.0;
}

/* Call FN for each entry (a blob, or an image) of the user's cache. */
typedef int (*entry_fn)(const struct sif_cache *c, bool blob, const char *path,
                        const char *name, const struct stat *st, void *arg);

static int walk(const struct sif_cache *c, int what, entry_fn fn, void *arg, struct sif_err *err)
{
	static const char *const subs[] = { "blobs/sha256", "sif" };

	for (int k = 0; k < 2; k++) {
		char dir[PATH_MAX + 16], path[PATH_MAX + 300];
		struct dirent *de;
		DIR *d;
		bool blob = k == 0;
		if (!(what & (blob ? CACHE_BLOBS : CACHE_IMAGES)))
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", c->dir, subs[k]);
		if (!(d = opendir(dir))) {
			if (errno == ENOENT)
				continue;
			return sif_err_set(err, errno, "%s: %s", dir, strerror(errno));
		}
		while ((de = readdir(d))) {
			struct stat st;
			int r;
			if (blob ? !is_hex64(de->d_name) : !ends_with(de->d_name, ".sif"))
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
				continue;
			if ((r = fn(c, blob, path, de->d_name, &st, arg)) < 0) {
				closedir(d);
				return r;
			}
		}
		closedir(d);
	}
	return 0;
}

struct tally {
	FILE *f;
	unsigned nblobs, nimages, bad, skipped;
	long long blob_bytes, image_bytes;
	struct sif_err *err;
};

static int list_one(const struct sif_cache *c, bool blob, const char *path, const char *name,
                    const struct stat *st, void *arg)
{
	struct tally *t = arg;
	bool ok = cache_entry_ok(path, -1);

	(void)c;
	if (blob) {
		t->nblobs++;
		t->blob_bytes += st->st_size;
		fprintf(t->f, "blob   %10.1f MiB  sha256:%s%s\n", mib(st->st_size), name,
		        ok ? "" : "  (unverified: fetched again when used)");
	} else {
		char sha[72], note[800];
		cache_marker_read(path, sha, note, sizeof(note));
		t->nimages++;
		t->image_bytes += st->st_size;
		fprintf(t->f, "image  %10.1f MiB  %s%s%s%s\n", mib(st->st_size), path,
		        note[0] ? "  " : "", note, ok ? "" : "  (unverified: rebuilt when used)");
	}
	return 0;
}

int cache_list(const struct sif_cache *c, FILE *f, struct sif_err *err)
{
	struct tally t = { .f = f };
	int r;

	fprintf(f, "cache %s%s%s\n", c->dir, c->site[0] ? ", site cache (read only) " : "", c->site);
	if ((r = walk(c, CACHE_ALL, list_one, &t, err)) < 0)
		return r;
	fprintf(f, "total: %u images, %.1f MiB; %u blobs, %.1f MiB\n", t.nimages,
	        mib(t.image_bytes), t.nblobs, mib(t.blob_bytes));
	return 0;
}

/* Remove an entry with its marker and lock file, if no one holds the lock. */
static bool remove_entry(bool blob, const char *path)
{
	char lp[PATH_MAX + 16], mp[PATH_MAX + 8];
	int lk;

	if (blob) {
		snprintf(lp, sizeof(lp), "%s.lock", path);
	} else {
		snprintf(lp, sizeof(lp), "%s", path);
		strcpy(lp + strlen(lp) - 4, ".lock");
	}
	lk = cache_trylock(lp);
	if (lk == -EAGAIN)
		return false;
	marker_path(path, mp);
	unlink(mp);
	unlink(path);
	if (lk >= 0) {
		unlink(lp);
		cache_unlock(lk);
	}
	return true;
}

static int clean_one(const struct sif_cache *c, bool blob, const char *path, const char *name,
                     const struct stat *st, void *arg)
{
	struct tally *t = arg;

	(void)c;
	(void)name;
	if (!remove_entry(blob, path)) {
		fprintf(t->f, "in use, kept: %s\n", path);
		t->skipped++;
		return 0;
	}
	if (blob) {
		t->nblobs++;
		t->blob_bytes += st->st_size;
	} else {
		t->nimages++;
		t->image_bytes += st->st_size;
	}
	return 0;
}

/* Leftovers: stale lock files, markers without an entry, temporary files
 * older than a day (a download in progress is younger). */
static void clean_leftovers(const struct sif_cache *c, int what)
{
	static const char *const subs[] = { "blobs/sha256", "sif" };
	time_t now = time(NULL);

	for (int k = 0; k < 3; k++) {
		char dir[PATH_MAX + 16], path[PATH_MAX + 300];
		struct dirent *de;
		DIR *d;
		if (k < 2 && !(what & (k == 0 ? CACHE_BLOBS : CACHE_IMAGES)))
			continue;
		if (k == 2)
			snprintf(dir, sizeof(dir), "%s", c->tmp);
		else
			snprintf(dir, sizeof(dir), "%s/%s", c->dir, subs[k]);
		if (!(d = opendir(dir)))
			continue;
		while ((de = readdir(d))) {
			struct stat st;
			if (de->d_name[0] == '.' && (!de->d_name[1] || !strcmp(de->d_name, "..")))
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
				continue;
			if (k == 2) {
				/* only our own stale downloads ("blob-" + 16 hex + "-XXXXXX"):
				 * SIF_TMPDIR may be a directory shared with anything */
				const char *n = de->d_name;
				if (strlen(n) == 28 && !strncmp(n, "blob-", 5) && n[21] == '-' &&
				    strspn(n + 5, "0123456789abcdef") == 16 && st.st_uid == getuid() &&
				    now - st.st_mtime > 86400)
					unlink(path);
			} else if (ends_with(de->d_name, ".ok")) {
				char entry[PATH_MAX + 300];
				snprintf(entry, sizeof(entry), "%.*s", (int)(strlen(path) - 3), path);
				if (access(entry, F_OK) < 0)
					unlink(path);
			} else if (ends_with(de->d_name, ".lock")) {
				int lk = cache_trylock(path);
				if (lk >= 0) {
					unlink(path);
					cache_unlock(lk);
				}
			} else if (!is_hex64(de->d_name) && !ends_with(de->d_name, ".sif") &&
			           now - st.st_mtime > 86400) {
				unlink(path);   /* a temporary file of a killed writer */
			}
		}
		closedir(d);
	}
}

/* The regular files of the subdirectory SUB: the tag records (and a killed
 * writer's temporary files among them), the launcher's prefetch profiles. */
static void clean_files(const struct sif_cache *c, const char *sub)
{
	char dir[PATH_MAX + 16], path[PATH_MAX + 300];
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/%s", c->dir, sub);
	if (!(d = opendir(dir)))
		return;
	while ((de = readdir(d))) {
		struct stat st;
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (lstat(path, &st) == 0 && S_ISREG(st.st_mode))
			unlink(path);
	}
	closedir(d);
}

int cache_clean(const struct sif_cache *c, int what, FILE *f, struct sif_err *err)
{
	struct tally t = { .f = f };
	int r;

	if ((r = walk(c, what, clean_one, &t, err)) < 0)
		return r;
	clean_leftovers(c, what);
	if (what == CACHE_ALL) {
		clean_files(c, "refs");
		clean_files(c, "prefetch");
	}
	fprintf(f, "removed %u images (%.1f MiB) and %u blobs (%.1f MiB) from %s%s\n", t.nimages,
	        mib(t.image_bytes), t.nblobs, mib(t.blob_bytes), c->dir,
	        t.skipped ? "; some entries are in use by a running pull" : "");
	return 0;
}

static int verify_one(const struct sif_cache *c, bool blob, const char *path, const char *name,
                      const struct stat *st, void *arg)
{
	struct tally *t = arg;
	char dg[72], want[72], note[800] = "";
	struct sif_err e = {0};

	(void)c;
	(void)st;
	if (blob)
		snprintf(want, sizeof(want), "sha256:%s", name);
	else if (cache_marker_read(path, want, note, sizeof(note)) < 0 || !want[0])
		want[0] = '\0';
	if (cache_hash_file(path, dg, &e) < 0) {
		fprintf(t->f, "cannot read %s: %s\n", path, e.msg);
		t->skipped++;
		return 0;
	}
	if (want[0] && strcmp(dg, want) == 0) {
		/* verified now: a marker that had gone stale is renewed */
		if (!cache_entry_ok(path, -1))
			cache_mark(path, blob ? NULL : dg, note, NULL);
		blob ? t->nblobs++ : t->nimages++;
		return 0;
	}
	t->bad++;
	if (remove_entry(blob, path))
		fprintf(t->f, "corrupt, removed: %s%s\n", path,
		        want[0] ? "" : " (no record of its digest)");
	else
		fprintf(t->f, "corrupt, in use (remove it later): %s\n", path);
	return 0;
}

int cache_verify(const struct sif_cache *c, FILE *f, unsigned *bad, struct sif_err *err)
{
	struct tally t = { .f = f };
	int r;

	if ((r = walk(c, CACHE_ALL, verify_one, &t, err)) < 0)
		return r;
	*bad = t.bad;
	fprintf(f, "verified %u blobs and %u images in %s: %u corrupt%s\n", t.nblobs, t.nimages,
	        c->dir, t.bad, t.bad ? ", removed" : "");
	return 0;
}
