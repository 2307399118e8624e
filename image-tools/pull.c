/* SPDX-License-Identifier: BSD-3-Clause */
/* The pull pipeline (pull.h): registry -> blob cache -> SIF cache. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "cache.h"
#include "outfile.h"
#include "pull.h"
#include "registry.h"
#include "source.h"

#define MAX_NESTING 4

static const char *const index_types[] = {
	"application/vnd.oci.image.index.v1+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
};
static const char *const manifest_types[] = {
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.docker.distribution.manifest.v2+json",
};

static bool in(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(s, list[i]))
			return true;
	return false;
}

/* -v: what happens when, in seconds since the pull started */
static struct timespec pull_t0;

static void phase(const struct sif_pull_opts *po, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void phase(const struct sif_pull_opts *po, const char *fmt, ...)
{
	struct timespec now;
	char msg[600];
	va_list ap;

	if (!po->verbose)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "sif: debug: %.3f s: %s\n", (double)(now.tv_sec - pull_t0.tv_sec) +
	        (double)(now.tv_nsec - pull_t0.tv_nsec) / 1e9, msg);
}

/* ---- parallel layer downloads ------------------------------------------------- */

/* Each distinct blob not cached yet is a job; worker threads fetch them
 * into the blob cache (cache_blob_get: under the blob's lock, into a
 * temporary file, verified, renamed into place).  Meanwhile the build
 * reads each layer from the file being written (wait_layer), top layer
 * first: it verifies the blob's digest and diff_id itself, and its image
 * is marked valid only once every download has succeeded. */
struct blob_job {
	const char *digest;
	int64_t size;
	uint64_t got;         /* bytes in fd so far */
	uint64_t handed;      /* how many of them the build was told it may read */
	int fd;               /* the file being written, then the cached one; -1 */
	bool started, done, fetched;
	bool restarted;       /* a retry rewrote the file: what was read is stale */
	int result;           /* when done: 0, or -errno */
};

struct fetcher {
	struct reg_client *client;
	const struct sif_cache *cache;
	struct blob_job *jobs;
	size_t njobs, next;
	pthread_mutex_t lock;
	pthread_cond_t cond;  /* a job's file, bytes or end */
	bool failed, stop, inited;
	const struct sif_pull_opts *po;
	struct sif_err err;
	pthread_t *th;
	size_t nthreads;
	/* progress */
	bool progress;
	uint64_t total;
	struct timespec last;
	size_t done;
};

struct fetch_arg {
	struct fetcher *f;
	struct blob_job *job;
};

static void show_progress(struct fetcher *f, bool force)
{
	struct timespec now;
	uint64_t got = 0;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!force && (now.tv_sec - f->last.tv_sec) * 1000 +
	              (now.tv_nsec - f->last.tv_nsec) / 1000000 < 100)
		return;
	f->last = now;
	for (size_t i = 0; i < f->njobs; i++)
		got += f->jobs[i].got;
	fprintf(stderr, "\rsif: fetching layers: %zu/%zu, %.1f/%.1f MiB   ", f->done, f->njobs,
	        (double)got / 1048576.0, (double)f->total / 1048576.0);
}

static void on_progress(void *arg, uint64_t bytes)
{
	struct fetch_arg *a = arg;

	pthread_mutex_lock(&a->f->lock);
	/* the transfer started over (a retry, the next mirror: the registry
	 * client reports 0 bytes first): what the build may have read of the
	 * file is being rewritten */
	if (bytes < a->job->got && a->job->handed > 0)
		a->job->restarted = true;
	a->job->got = bytes;
	if (a->f->progress)
		show_progress(a->f, false);
	pthread_cond_broadcast(&a->f->cond);
	pthread_mutex_unlock(&a->f->lock);
}

static int fetch_to_fd(void *arg, int fd, struct sif_err *err)
{
	struct fetch_arg *a = arg;

	if (a->job->fd < 0) {   /* the build reads the file while it is written */
		int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		if (dfd < 0)
			return sif_err_set(err, errno, "dup: %s", strerror(errno));
		pthread_mutex_lock(&a->f->lock);
		a->job->fd = dfd;
		pthread_cond_broadcast(&a->f->cond);
		pthread_mutex_unlock(&a->f->lock);
	}
	return reg_get_blob(a->f->client, a->job->digest, a->job->size, fd, on_progress, a, err);
}

static void *fetch_worker(void *arg)
{
	struct fetcher *f = arg;

	for (;;) {
		struct fetch_arg a = { .f = f };
		struct sif_err e = {0};
		char path[PATH_MAX];
		int r, fd = -1;

		pthread_mutex_lock(&f->lock);
		if (f->failed || f->stop || f->next >= f->njobs) {
			pthread_mutex_unlock(&f->lock);
			return NULL;
		}
		a.job = &f->jobs[f->next++];
		a.job->started = true;
		pthread_mutex_unlock(&f->lock);
		r = cache_blob_get(f->cache, a.job->digest, a.job->size, fetch_to_fd, &a, path,
		                   &a.job->fetched, &e);
		/* another pull fetched it meanwhile: the build reads the entry */
		if (r == 0 && !a.job->fetched && (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			r = sif_err_set(&e, errno, "%s: %s", path, strerror(errno));
		pthread_mutex_lock(&f->lock);
		if (fd >= 0) {
			if (a.job->fd >= 0)
				close(a.job->fd);
			a.job->fd = fd;
		}
		if (r < 0 && !f->failed) {
			f->failed = true;
			f->err = e;
		}
		if (f->po)
			phase(f->po, "blob %.19s: %s", a.job->digest, r < 0 ? e.msg :
			      a.job->fetched ? "fetched and verified" : "found in the cache (another pull)");
		a.job->result = r;
		a.job->done = true;
		f->done++;
		a.job->got = (uint64_t)(a.job->size > 0 ? a.job->size : 0);
		if (f->progress)
			show_progress(f, true);
		pthread_cond_broadcast(&f->cond);
		pthread_mutex_unlock(&f->lock);
	}
}

/* The layer's bytes for the build (img_layer.wait): block until NEED
 * bytes of the blob are in its file. */
static int64_t wait_layer(void *ctx, uint64_t need, int *fd)
{
	struct fetch_arg *a = ctx;
	struct fetcher *f = a->f;
	struct blob_job *j = a->job;
	int64_t r;

	pthread_mutex_lock(&f->lock);
	for (;;) {
		if (j->restarted) {
			r = -EAGAIN;
			break;
		}
		if (j->done && j->result < 0) {
			r = j->result;
			break;
		}
		if (j->fd >= 0 && (j->done || j->got >= need)) {
			*fd = j->fd;
			r = j->done ? (j->size >= 0 ? j->size : INT64_MAX) : (int64_t)j->got;
			j->handed = (uint64_t)r;
			break;
		}
		if (j->done || (!j->started && (f->failed || f->stop))) {
			r = -EIO;   /* never coming */
			break;
		}
		pthread_cond_wait(&f->cond, &f->lock);
	}
	pthread_mutex_unlock(&f->lock);
	return r;
}

/* Start fetching MAN's layers not cached yet, top layer first (the build
 * needs it first).  With no thread to be had, fetch them here. */
static int fetch_start(struct fetcher *f, struct reg_client *client,
                       const struct sif_cache *cache, const struct img_manifest *man,
                       const struct sif_pull_opts *po, bool quiet, struct sif_err *err)
{
	unsigned nthreads = po->jobs ? po->jobs : 4;

	memset(f, 0, sizeof(*f));
	f->client = client;
	f->cache = cache;
	f->progress = po->progress && !quiet;
	f->po = po;
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	f->inited = true;
	if (!(f->jobs = calloc(man->nlayers ? man->nlayers : 1, sizeof(*f->jobs))))
		return sif_err_set(err, ENOMEM, "out of memory");
	/* each distinct blob not cached yet, once */
	for (size_t i = man->nlayers; i-- > 0;) {
		char path[PATH_MAX];
		bool dup = false;
		for (size_t k = 0; k < f->njobs && !dup; k++)
			dup = !strcmp(f->jobs[k].digest, man->layers[i].digest);
		if (dup || cache_blob_find(cache, man->layers[i].digest, man->layers[i].size, path))
			continue;
		f->jobs[f->njobs].digest = man->layers[i].digest;
		f->jobs[f->njobs].size = man->layers[i].size;
		f->jobs[f->njobs].fd = -1;
		f->total += (uint64_t)man->layers[i].size;
		f->njobs++;
	}
	if (f->njobs == 0)
		return 0;
	if (nthreads > f->njobs)
		nthreads = (unsigned)f->njobs;
	clock_gettime(CLOCK_MONOTONIC, &f->last);
	if ((f->th = calloc(nthreads, sizeof(*f->th))))
		for (unsigned i = 0; i < nthreads; i++) {
			if (pthread_create(&f->th[i], NULL, fetch_worker, f) != 0)
				break;
			f->nthreads++;
		}
	if (f->nthreads == 0)
		fetch_worker(f);   /* no threads to be had: do it here, first */
	return 0;
}

/* The job of blob DIGEST, or NULL (it was cached before). */
static struct blob_job *fetch_job(struct fetcher *f, const char *digest)
{
	for (size_t i = 0; i < f->njobs; i++)
		if (!strcmp(f->jobs[i].digest, digest))
			return &f->jobs[i];
	return NULL;
}

/* Wait for every download; with STOP, start no more.  Returns 0, or the
 * first failure.  The jobs stay (fetch_free). */
static int fetch_join(struct fetcher *f, bool stop, struct sif_err *err)
{
	if (stop) {
		pthread_mutex_lock(&f->lock);
		f->stop = true;
		pthread_mutex_unlock(&f->lock);
	}
	for (size_t i = 0; i < f->nthreads; i++)
		pthread_join(f->th[i], NULL);
	f->nthreads = 0;
	if (f->progress && f->njobs)
		fputs("\n", stderr);
	f->progress = false;
	if (f->failed) {
		*err = f->err;
		return -(f->err.code ? f->err.code : EIO);
	}
	return 0;
}

static void fetch_free(struct fetcher *f)
{
	if (!f->inited)
		return;
	for (size_t i = 0; i < f->njobs; i++)
		if (f->jobs[i].fd >= 0)
			close(f->jobs[i].fd);
	pthread_mutex_destroy(&f->lock);
	pthread_cond_destroy(&f->cond);
	free(f->th);
	free(f->jobs);
	memset(f, 0, sizeof(*f));
}

static bool fetch_restarted(struct fetcher *f)
{
	for (size_t i = 0; i < f->njobs; i++)
		if (f->jobs[i].restarted)
			return true;
	return false;
}

/* Fetch MAN's layers not cached yet, and wait for them all. */
static int fetch_layers(struct reg_client *client, const struct sif_cache *cache,
                        const struct img_manifest *man, const struct sif_pull_opts *po,
                        struct sif_err *err)
{
	struct fetcher f;
	int r = fetch_start(&f, client, cache, man, po, false, err);

	if (r == 0)
		r = fetch_join(&f, false, err);
	fetch_free(&f);
	return r;
}

/* ---- the manifest chain ----------------------------------------------------------- */

/* A manifest or index by digest: from the cache, else from the registry
 * (verified there) and then cached. */
static int get_by_digest(struct reg_client *client, const struct sif_cache *cache,
                         const char *digest, int64_t size, char **buf, size_t *len,
                         struct sif_err *err)
{
	struct reg_manifest m;
	int r;

	if (cache_blob_read(cache, digest, IMG_MAX_JSON, buf, len) == 1)
		return 0;
	if ((r = reg_get_manifest(client, digest, &m, err)) < 0)
		return r;
	if (size >= 0 && (int64_t)m.len != size) {
		reg_manifest_free(&m);
		return sif_err_advise(err, SIF_EFORMAT, "%s: the registry sent %zu bytes, the "
		                      "descriptor says %lld: refused", digest, m.len, (long long)size);
	}
	cache_blob_put(cache, digest, m.buf, m.len, NULL);
	*buf = m.buf;
	*len = m.len;
	return 0;
}

/* Is BUF an index (1), a manifest (0), or neither (-errno)? */
static int classify(const char *mt, const char *buf, const char *what, struct sif_err *err)
{
	if (mt && in(mt, index_types, 2))
		return 1;
	if (mt && in(mt, manifest_types, 2))
		return 0;
	if (mt && (!strcmp(mt, "application/vnd.docker.distribution.manifest.v1+json") ||
	           !strcmp(mt, "application/vnd.docker.distribution.manifest.v1+prettyjws")))
		return sif_err_advise(err, SIF_EFORMAT, "%s: a Docker schema 1 manifest: not "
		                      "supported (push the image again with a current tool)", what);
	/* a registry that sends no useful Content-Type: look inside */
	return strstr(buf, "\"manifests\"") ? 1 : 0;
}

/* Build the cached image NAME from MAN's blobs: those of F's jobs (F not
 * NULL) as they download, the others from the cache.  F is joined here;
 * the image is marked valid only when every download succeeded. */
static int build_cached(const struct sif_cache *cache, const char *name, const char *refstr,
                        const char *top_digest, char *config, size_t config_len,
                        const char *config_digest, const struct img_manifest *man,
                        const struct img_config *cfg, const struct sif_build_opts *bo,
                        struct fetcher *f, const struct sif_pull_opts *po,
                        char out[PATH_MAX], struct sif_err *err)
{
	struct img_source src = { .kind = IMG_OCI_DIR, .created = cfg->created };
	struct sif_build_opts o = *bo;
	struct fetch_arg *wa = NULL;
	char lockp[PATH_MAX], sha[72];
	int lk, r = 0;

	cache_sif_lock_path(cache, name, lockp);
	if ((lk = cache_lock(lockp, err)) < 0) {
		if (f)
			fetch_join(f, true, &(struct sif_err){0});
		return lk;
	}
	if (cache_sif_find(cache, name, out)) {   /* another pull built it meanwhile */
		cache_unlock(lk);
		if (f)
			fetch_join(f, true, &(struct sif_err){0});
		return 0;
	}
	cache_sif_path(cache, name, out);
	src.config = config;
	src.config_len = config_len;
	memcpy(src.config_digest, config_digest, IMG_DIGEST_LEN + 1);
	memcpy(src.manifest_digest, top_digest, IMG_DIGEST_LEN + 1);
	src.nlayers = man->nlayers;
	if (!(src.layers = calloc(man->nlayers ? man->nlayers : 1, sizeof(*src.layers))) ||
	    !(wa = calloc(man->nlayers ? man->nlayers : 1, sizeof(*wa)))) {
		free(src.layers);
		cache_unlock(lk);
		if (f)
			fetch_join(f, true, &(struct sif_err){0});
		return sif_err_set(err, ENOMEM, "out of memory");
	}
	img_room_for_fds(man->nlayers);
again:
	for (size_t i = 0; i < man->nlayers; i++)
		src.layers[i].fd = -1;
	for (size_t i = 0; i < man->nlayers; i++) {
		struct img_layer *l = &src.layers[i];
		struct blob_job *j = f ? fetch_job(f, man->layers[i].digest) : NULL;
		char path[PATH_MAX];
		struct stat st;
		*l = man->layers[i];
		memcpy(l->diff_id, cfg->diff_ids[i], IMG_DIGEST_LEN + 1);
		l->fd = -1;
		l->off = 0;
		if (j) {   /* still downloading: read as it arrives */
			wa[i] = (struct fetch_arg){ .f = f, .job = j };
			l->wait = wait_layer;
			l->wait_ctx = &wa[i];
			l->len = (uint64_t)l->size;
			continue;
		}
		if (!cache_blob_find(cache, l->digest, l->size, path)) {
			r = sif_err_advise(err, EIO, "layer %zu (%.19s) vanished from the cache (a "
			                   "'sif cache clean' meanwhile?): pull again", i + 1, l->digest);
			break;
		}
		if ((l->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(l->fd, &st) < 0) {
			r = sif_err_set(err, errno, "%s: %s", path, strerror(errno));
			break;
		}
		l->len = (uint64_t)st.st_size;
	}
	o.replace = true;
	if (r == 0)
		r = sif_build_source(out, &src, &o, err);
	phase(po, "%s: %s", out, r < 0 ? err->msg : "built");
	for (size_t i = 0; i < man->nlayers; i++)
		if (src.layers[i].fd >= 0)
			close(src.layers[i].fd);
	if (f) {
		struct sif_err je = {0};
		/* every blob in the cache, verified there, before the image counts;
		 * a failed download is the error to tell */
		int jr = fetch_join(f, r < 0, &je);
		if (jr < 0) {
			*err = je;
			r = jr;
		} else if (r < 0 && fetch_restarted(f)) {
			/* a retried download rewrote what the build had read: build
			 * again, from the cache (the blobs are all there now) */
			if (po->verbose)
				fprintf(stderr, "sif: debug: a layer's download started over: building "
				        "from the cache (%s)\n", err->msg);
			memset(err, 0, sizeof(*err));
			unlink(out);
			f = NULL;
			r = 0;
			goto again;
		}
	}
	free(src.layers);
	free(wa);
	/* the marker records the image's digest, for "sif cache verify" */
	if (r == 0 && (r = cache_hash_file(out, sha, err)) == 0)
		r = cache_mark(out, sha, refstr, err);
	phase(po, "image hashed and marked valid");
	if (r < 0)
		unlink(out);
	cache_unlock(lk);
	return r;
}

/* Re-hash the user's cached blobs of MAN's layers; remove those that do
 * not match their digest.  Returns how many were removed. */
static int drop_corrupt_layers(const struct sif_cache *cache, const struct img_manifest *man)
{
	int n = 0;

	for (size_t i = 0; i < man->nlayers; i++) {
		char path[PATH_MAX], mk[PATH_MAX + 8], dg[72];
		cache_blob_path(cache, man->layers[i].digest, path);
		if (cache_hash_file(path, dg, NULL) < 0 || strcmp(dg, man->layers[i].digest) == 0)
			continue;
		snprintf(mk, sizeof(mk), "%s.ok", path);
		unlink(mk);
		unlink(path);
		n++;
		fprintf(stderr, "sif: warning: cached blob %s was damaged: fetching it again\n",
		        man->layers[i].digest);
	}
	return n;
}

int sif_pull(const char *refarg, const struct sif_pull_opts *po, const struct sif_build_opts *bo,
             char out[PATH_MAX], struct sif_err *err)
{
	struct reg_opts ro = { .insecure = po->insecure, .ca_file = po->ca_file,
	                       .verbose = po->verbose };
	struct reg_client *client = NULL;
	struct reg_manifest top = {0};
	struct img_manifest man = {0};
	struct img_config cfg = {0};
	struct img_index ix = {0};
	struct sif_cache cache;
	struct fetcher fetch = {0};
	struct reg_ref ref;
	char key[17], name[100], refstr[700], what[800], *buf = NULL, *mt = NULL, *config = NULL;
	char dg[IMG_DIGEST_LEN + 1];
	size_t len = 0, config_len = 0;
	bool fetched;
	int r, kind;

	clock_gettime(CLOCK_MONOTONIC, &pull_t0);
	if ((r = reg_parse_ref(refarg, &ref, err)) < 0)
		return r;
	reg_ref_format(&ref, refstr, sizeof(refstr));
	if ((r = cache_open(&cache, true, err)) < 0)
		return r;
	cache_options_key(bo->comp, bo->level, bo->arch, bo->have_time, bo->time, key);
	/* by digest: the cache answers without asking the registry */
	if (ref.digest[0]) {
		snprintf(name, sizeof(name), "%s-%s", ref.digest + 7, key);
		if (cache_sif_find(&cache, name, out))
			return 0;
	}
	if ((r = reg_client_open(&client, &ref, &ro, err)) < 0)
		return r;
	/* a tag pulled before: HEAD tells its digest now; a GET only when the
	 * cache lacks that manifest (the tag moved to something new) */
	if (!ref.digest[0] && cache_ref_get(&cache, refstr, dg) == 1) {
		char hmt[128];
		struct sif_err he = {0};
		int h = reg_head_manifest(client, ref.tag, dg, hmt, &he);
		if (h < 0 && (he.code == ECONNREFUSED || he.code == EHOSTUNREACH ||
		              he.code == EPROTO || he.code == ETIMEDOUT || he.code == EACCES)) {
			*err = he;   /* a GET would fail the same way */
			r = h;
			goto out;
		}
		if (h == 1) {
			snprintf(name, sizeof(name), "%s-%s", dg + 7, key);
			if (cache_sif_find(&cache, name, out)) {
				if (po->verbose)
					fprintf(stderr, "sif: debug: %s is %s (HEAD): cached as %s\n", refstr,
					        dg, out);
				memcpy(top.digest, dg, sizeof(dg));
				r = 0;
				goto out;
			}
			if (cache_blob_read(&cache, dg, REG_MAX_MANIFEST, &top.buf, &top.len) == 1) {
				memcpy(top.digest, dg, sizeof(dg));
				snprintf(top.media_type, sizeof(top.media_type), "%s", hmt);
			}
		} else if (po->verbose) {
			fprintf(stderr, "sif: debug: %s: HEAD: %s; asking with GET\n", refstr,
			        h < 0 ? he.msg : "no Docker-Content-Digest");
		}
	}
	if (!top.buf &&
	    (r = reg_get_manifest(client, ref.digest[0] ? ref.digest : ref.tag, &top, err)) < 0)
		goto out;
	snprintf(name, sizeof(name), "%s-%s", top.digest + 7, key);
	if (cache_sif_find(&cache, name, out)) {
		if (po->verbose)
			fprintf(stderr, "sif: debug: %s is %s: cached as %s\n", refstr, top.digest, out);
		r = 0;
		goto out;
	}
	cache_blob_put(&cache, top.digest, top.buf, top.len, NULL);

	/* down the indexes to the platform's manifest */
	buf = top.buf;
	len = top.len;
	top.buf = NULL;
	mt = strdup(top.media_type);
	memcpy(dg, top.digest, sizeof(dg));
	snprintf(what, sizeof(what), "%s", refstr);
	for (int depth = 0; ; depth++) {
		int i;
		if ((kind = classify(mt, buf, what, err)) < 0) {
			r = kind;
			goto out;
		}
		if (kind == 0)
			break;
		if (depth == MAX_NESTING) {
			r = sif_err_advise(err, SIF_EFORMAT, "%s: image indexes nested more than %d deep",
			                   refstr, MAX_NESTING);
			goto out;
		}
		if ((r = img_parse_index(buf, len, &ix, err)) < 0 ||
		    (r = i = img_index_select(&ix, NULL, bo->arch, true, err)) < 0) {
			sif_err_prefix(err, "%s: ", what);
			goto out;
		}
		if (ix.m[i].size > (int64_t)IMG_MAX_JSON) {
			r = sif_err_advise(err, EFBIG, "%s: the manifest for %s is %lld bytes, more than "
			                   "the limit of %u: refused (oversize manifest)", what, bo->arch,
			                   (long long)ix.m[i].size, IMG_MAX_JSON);
			goto out;
		}
		memcpy(dg, ix.m[i].digest, sizeof(dg));
		free(mt);
		mt = ix.m[i].media_type;
		ix.m[i].media_type = NULL;
		free(buf);
		buf = NULL;
		if ((r = get_by_digest(client, &cache, dg, ix.m[i].size, &buf, &len, err)) < 0)
			goto out;
		img_index_free(&ix);
		snprintf(what, sizeof(what), "%s@%s", refstr, dg);
	}
	if ((r = img_parse_manifest(buf, len, mt && in(mt, manifest_types, 2) ? mt : NULL, &man,
	                            err)) < 0) {
		sif_err_prefix(err, "%s: ", what);
		goto out;
	}
	if (man.config.size > (int64_t)IMG_MAX_JSON) {
		r = sif_err_advise(err, EFBIG, "%s: the image config is %lld bytes, more than the "
		                   "limit of %u: refused", what, (long long)man.config.size,
		                   IMG_MAX_JSON);
		goto out;
	}

	/* the config, then the layers */
	if (cache_blob_read(&cache, man.config.digest, IMG_MAX_JSON, &config, &config_len) != 1) {
		char path[PATH_MAX];
		struct blob_job job = { .digest = man.config.digest, .size = man.config.size, .fd = -1 };
		struct fetcher f = { .client = client, .lock = PTHREAD_MUTEX_INITIALIZER,
		                     .cond = PTHREAD_COND_INITIALIZER };
		struct fetch_arg a = { .f = &f, .job = &job };
		r = cache_blob_get(&cache, man.config.digest, man.config.size, fetch_to_fd, &a, path,
		                   &fetched, err);
		if (job.fd >= 0)
			close(job.fd);
		if (r < 0)
			goto out;
		if (cache_blob_read(&cache, man.config.digest, IMG_MAX_JSON, &config, &config_len) != 1) {
			r = sif_err_advise(err, EIO, "%s: the image config %.19s cannot be read back from "
			                   "the cache", what, man.config.digest);
			goto out;
		}
	}
	if ((r = img_parse_config(config, config_len, &cfg, err)) < 0) {
		sif_err_prefix(err, "%s: config: ", what);
		goto out;
	}
	if (cfg.ndiff_ids != man.nlayers) {
		r = sif_err_advise(err, SIF_EFORMAT, "%s: the config lists %zu diff_ids, but the "
		                   "manifest has %zu layers", what, cfg.ndiff_ids, man.nlayers);
		goto out;
	}
	phase(po, "manifest and config of %s: %zu layers; downloading and converting", what,
	      man.nlayers);
	/* the build starts on the top layer while the layers download */
	if ((r = fetch_start(&fetch, client, &cache, &man, po, true, err)) < 0)
		goto out;
	r = build_cached(&cache, name, refstr, top.digest, config, config_len, man.config.digest,
	                 &man, &cfg, bo, &fetch, po, out, err);
	/* a layer that does not verify may be a cached blob damaged since it was
	 * written (its size and mtime kept): re-hash, drop, fetch again, once */
	if (r == -SIF_EFORMAT && drop_corrupt_layers(&cache, &man) > 0) {
		memset(err, 0, sizeof(*err));
		if ((r = fetch_layers(client, &cache, &man, po, err)) == 0)
			r = build_cached(&cache, name, refstr, top.digest, config, config_len,
			                 man.config.digest, &man, &cfg, bo, NULL, po, out, err);
	}
out:
	fetch_free(&fetch);
	if (r == 0 && !ref.digest[0] && top.digest[0])
		cache_ref_put(&cache, refstr, top.digest);
	free(buf);
	free(mt);
	free(config);
	img_index_free(&ix);
	img_manifest_free(&man);
	img_config_free(&cfg);
	reg_manifest_free(&top);
	reg_client_close(client);
	return r;
}

/* ---- OUT.sif ---------------------------------------------------------------------- */

int sif_pull_copy(const char *src, const char *dst, bool replace, struct sif_err *err)
{
	struct sif_outfile o;
	struct stat st;
	int in_fd, r;

	if ((in_fd = open(src, O_RDONLY | O_CLOEXEC)) < 0 || fstat(in_fd, &st) < 0) {
		r = sif_err_set(err, errno, "%s: %s", src, strerror(errno));
		if (in_fd >= 0)
			close(in_fd);
		return r;
	}
	if ((r = sif_outfile_open(&o, dst, replace, err)) < 0) {
		close(in_fd);
		return r;
	}
	/* a reflink where the filesystem shares extents (btrfs, XFS), else a
	 * kernel-side copy, else read and write */
	if (ioctl(o.fd, FICLONE, in_fd) < 0) {
		off_t left = st.st_size;
		bool plain = false;
		while (left > 0 && !plain) {
			ssize_t n = copy_file_range(in_fd, NULL, o.fd, NULL, (size_t)left, 0);
			if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL ||
			              errno == EOPNOTSUPP) && left == st.st_size) {
				plain = true;
				break;
			}
			if (n <= 0) {
				r = sif_err_set(err, n < 0 ? errno : EIO, "copy to %s: %s", dst,
				                strerror(n < 0 ? errno : EIO));
				goto fail;
			}
			left -= n;
		}
		if (plain) {
			static char buf[1 << 20];
			ssize_t n;
			while ((n = read(in_fd, buf, sizeof(buf))) != 0) {
				if (n < 0 && errno == EINTR)
					continue;
				if (n < 0 || write(o.fd, buf, (size_t)n) != n) {
					r = sif_err_set(err, errno ? errno : EIO, "copy to %s: %s", dst,
					                strerror(errno ? errno : EIO));
					goto fail;
				}
			}
		}
	}
	close(in_fd);
	return sif_outfile_commit(&o, err);
fail:
	close(in_fd);
	sif_outfile_abort(&o);
	return r;
}
