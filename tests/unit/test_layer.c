/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the layer applier (image-tools/layer.c): OCI layer
 * semantics applied top down, digests, and hostile layers.  Layers are made
 * here with libarchive's writer; the squashfs goes to a temporary file. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "digest.h"
#include "layer.h"
#include "sqfs_out.h"
#include "tap.h"
#include "tree.h"

/* One tar entry: type 'f' file (data), 'd' directory, 'l' symlink (data
 * is the target), 'h' hard link (data is the target), 'c' char device. */
struct ent {
	char type;
	const char *name;
	const char *data;
	unsigned mode;
};

/* Write ENTS as a tar (gzip if GZ) into a memfd; fill L. */
static void make_layer(const struct ent *ents, bool gz, struct img_layer *l)
{
	static unsigned char raw[1 << 20];
	unsigned char *buf = malloc(4 << 20);
	size_t rawlen = 0, len = 0;

	for (int pass = 0; pass < (gz ? 2 : 1); pass++) {
		struct archive *a = archive_write_new();
		archive_write_set_format_pax_restricted(a);
		if (pass == 1)
			archive_write_add_filter_gzip(a);
		archive_write_set_bytes_in_last_block(a, 1);
		archive_write_open_memory(a, pass ? buf : raw, pass ? (4u << 20) : sizeof(raw),
		                          pass ? &len : &rawlen);
		for (const struct ent *e = ents; e->name; e++) {
			struct archive_entry *ae = archive_entry_new();
			archive_entry_set_pathname(ae, e->name);
			archive_entry_set_uid(ae, 0);
			archive_entry_set_gid(ae, 0);
			archive_entry_set_mtime(ae, 1000000, 0);
			switch (e->type) {
			case 'f':
				archive_entry_set_filetype(ae, AE_IFREG);
				archive_entry_set_perm(ae, e->mode ? e->mode : 0644);
				archive_entry_set_size(ae, (la_int64_t)strlen(e->data));
				break;
			case 'd':
				archive_entry_set_filetype(ae, AE_IFDIR);
				archive_entry_set_perm(ae, e->mode ? e->mode : 0755);
				break;
			case 'l':
				archive_entry_set_filetype(ae, AE_IFLNK);
				archive_entry_set_perm(ae, 0777);
				archive_entry_set_symlink(ae, e->data);
				break;
			case 'h':
				archive_entry_set_filetype(ae, AE_IFREG);
				archive_entry_set_perm(ae, 0644);
				archive_entry_set_hardlink(ae, e->data);
				break;
			case 'c':
				archive_entry_set_filetype(ae, AE_IFCHR);
				archive_entry_set_perm(ae, 0666);
				archive_entry_set_rdevmajor(ae, 1);
				archive_entry_set_rdevminor(ae, 3);
				break;
			}
			archive_write_header(a, ae);
			if (e->type == 'f')
				archive_write_data(a, e->data, strlen(e->data));
			archive_entry_free(ae);
		}
		archive_write_close(a);
		archive_write_free(a);
	}
	if (!gz) {
		memcpy(buf, raw, rawlen);
		len = rawlen;
	}
	int fd = memfd_create("layer", MFD_CLOEXEC);
	if (write(fd, buf, len) != (ssize_t)len)
		abort();
	memset(l, 0, sizeof(*l));
	l->fd = fd;
	l->off = 0;
	l->len = len;
	l->size = (int64_t)len;
	sif_sha256_buf(buf, len, l->digest);
	sif_sha256_buf(raw, rawlen, l->diff_id);
	free(buf);
}

static struct tree_node *find(struct tree *t, const char *path)
{
	char buf[512], *save = NULL, *c;
	struct tree_node *n = t->root;

	snprintf(buf, sizeof(buf), "%s", path);
	for (c = strtok_r(buf, "/", &save); c && n; c = strtok_r(NULL, "/", &save))
		n = tree_child(n, c);
	return n && n->inode ? n : NULL;
}

struct image {
	struct tree t;
	struct sqfs_out *out;
	int fd;
	struct img_layer l[4];
	size_t n;
	struct sif_err err;
};

/* Apply the layers (bottom first in LAYERS, NULL-terminated) top down;
 * returns the first failure or 0. */
static int build(struct image *im, const struct ent *const *layers, bool gz)
{
	char tmpl[] = "/tmp/test_layer.XXXXXX";
	int r = 0;

	memset(im, 0, sizeof(*im));
	im->fd = mkstemp(tmpl);
	unlink(tmpl);
	tree_init(&im->t, &im->err);
	sqfs_out_open(&im->out, im->fd, 0, &(struct sqfs_out_opts){.comp = SQFS_OUT_GZIP, .jobs = 1},
	              &im->err);
	for (im->n = 0; layers[im->n]; im->n++)
		make_layer(layers[im->n], gz, &im->l[im->n]);
	for (size_t i = im->n; i-- > 0 && r == 0;)
		r = layer_apply(&im->t, im->out, &im->l[i], (int32_t)i, NULL, NULL, NULL, &im->err);
	if (r == 0)
		r = layer_finish(&im->t, im->out, im->l, im->n, &im->err);
	if (r == 0) {
		uint64_t size;
		r = sqfs_out_finish(im->out, &im->t, &size, &im->err);
	}
	return r;
}

static void done(struct image *im)
{
	if (!im->out)
		layer_finish(&im->t, NULL, im->l, 0, &im->err);
	sqfs_out_free(im->out);
	tree_free(&im->t);
	for (size_t i = 0; i < im->n; i++)
		close(im->l[i].fd);
	close(im->fd);
}

static void test_whiteouts(bool gz)
{
	static const struct ent l0[] = {
		{'d', "a/", NULL, 0}, {'f', "a/f", "x", 0}, {'l', "a/s", "f", 0},
		{'d', "d/", NULL, 0}, {'f', "d/x", "1", 0}, {'f', "d/y", "2", 0},
		{'f', "gone", "3", 0}, {'d', "tree/", NULL, 0}, {'f', "tree/leaf", "4", 0},
		{0, NULL, NULL, 0}};
	static const struct ent l1[] = {
		{'d', "a/", NULL, 0}, {'f', "a/.wh.f", "", 0}, {'f', "a/g", "y", 0},
		{'d', "d/", NULL, 0700}, {'f', "d/.wh..wh..opq", "", 0}, {'f', "d/z", "3", 0},
		{'f', ".wh.gone", "", 0}, {'f', ".wh.tree", "", 0},
		{'f', "./.wh.never-existed", "", 0}, {'f', "nodir/.wh.x", "", 0},
		{0, NULL, NULL, 0}};
	const struct ent *const layers[] = {l0, l1, NULL};
	struct image im;
	int r = build(&im, layers, gz);

	tap_ok(r == 0, "%s: whiteout layers apply (%s)", gz ? "gzip" : "tar", im.err.msg);
	tap_ok(!find(&im.t, "a/f") && find(&im.t, "a/g") && find(&im.t, "a/s"),
	       "%s: .wh.NAME deletes a lower file, others stay", gz ? "gzip" : "tar");
	tap_ok(find(&im.t, "d/z") && !find(&im.t, "d/x") && !find(&im.t, "d/y"),
	       "opaque directory hides lower children, keeps its own");
	tap_ok(find(&im.t, "d") && (find(&im.t, "d")->inode->mode & 07777) == 0700,
	       "a later layer's directory metadata wins");
	tap_ok(!find(&im.t, "gone") && !find(&im.t, "tree") && !find(&im.t, "tree/leaf"),
	       "whiteouts delete a file and a whole directory");
	tap_ok(!find(&im.t, "never-existed") && !find(&im.t, "nodir"),
	       "whiteouts of missing paths create nothing");
	done(&im);
}

static void test_replace(void)
{
	static const struct ent l0[] = {
		{'f', "p", "file", 0}, {'d', "q/", NULL, 0}, {'f', "q/inner", "i", 0},
		{'d', "m/", NULL, 0750}, {'f', "m/keep", "k", 0}, {'f', "same", "old", 0},
		{0, NULL, NULL, 0}};
	static const struct ent l1[] = {
		{'d', "p/", NULL, 0}, {'f', "p/child", "c", 0}, {'f', "q", "now a file", 0},
		{'f', "m/new", "n", 0}, {'f', "same", "new!", 0}, {'f', "same", "newest", 0},
		{0, NULL, NULL, 0}};
	const struct ent *const layers[] = {l0, l1, NULL};
	struct image im;
	int r = build(&im, layers, false);

	tap_ok(r == 0, "replacement layers apply (%s)", im.err.msg);
	tap_ok(find(&im.t, "p") && S_ISDIR(find(&im.t, "p")->inode->mode) && find(&im.t, "p/child"),
	       "a file replaced by a directory");
	tap_ok(find(&im.t, "q") && S_ISREG(find(&im.t, "q")->inode->mode) &&
	       find(&im.t, "q")->nchildren == 0, "a directory replaced by a file");
	tap_ok(find(&im.t, "m/keep") && find(&im.t, "m/new") &&
	       (find(&im.t, "m")->inode->mode & 07777) == 0750,
	       "a directory only written beneath keeps its lower metadata");
	tap_ok(find(&im.t, "same") && find(&im.t, "same")->inode->size == 6,
	       "within a layer the last entry of a path wins");
	done(&im);
}

static void test_hardlinks(void)
{
	static const struct ent l0[] = {
		{'f', "f", "data", 0}, {'h', "h", "f", 0}, {'h', "h2", "./f", 0},
		{'f', "g", "gdata", 0}, {'h', "gl", "g", 0}, {'c', "null", NULL, 0},
		{0, NULL, NULL, 0}};
	static const struct ent l1[] = {
		{'f', "g", "replaced", 0}, {0, NULL, NULL, 0}};
	const struct ent *const layers[] = {l0, l1, NULL};
	struct image im;
	int r = build(&im, layers, true);
	struct tree_node *f, *h, *h2, *g, *gl;

	tap_ok(r == 0, "hard-link layers apply (%s)", im.err.msg);
	f = find(&im.t, "f");
	h = find(&im.t, "h");
	h2 = find(&im.t, "h2");
	tap_ok(f && h && h2 && f->inode == h->inode && h->inode == h2->inode && f->inode->nlink == 3,
	       "hard links share one inode");
	g = find(&im.t, "g");
	gl = find(&im.t, "gl");
	tap_ok(g && gl && g->inode != gl->inode && g->inode->size == 8 && gl->inode->size == 5 &&
	       gl->inode->data_done, "a link keeps the old data when a higher layer replaces its target");
	tap_ok(find(&im.t, "null") && S_ISCHR(find(&im.t, "null")->inode->mode) &&
	       find(&im.t, "null")->inode->rdev_major == 1, "device nodes kept");
	done(&im);
}

static void test_review_cases(void)
{
	/* a directory made a symlink, then a directory again: what was below
	 * stays deleted */
	static const struct ent r0[] = {{'d', "d/", NULL, 0}, {'f', "d/secret", "s", 0},
	                                 {0, NULL, NULL, 0}};
	static const struct ent r1[] = {{'l', "d", "/tmp", 0}, {0, NULL, NULL, 0}};
	static const struct ent r2[] = {{'d', "d/", NULL, 0}, {'f', "d/new", "n", 0},
	                                 {0, NULL, NULL, 0}};
	/* an opaque root hides every lower layer */
	static const struct ent o0[] = {{'f', "lower", "l", 0}, {'d', "etc/", NULL, 0},
	                                 {'f', "etc/lower", "l", 0}, {0, NULL, NULL, 0}};
	static const struct ent o1[] = {{'f', ".wh..wh..opq", "", 0}, {'f', "upper", "u", 0},
	                                 {0, NULL, NULL, 0}};
	struct image im;
	int r = build(&im, (const struct ent *const[]){r0, r1, r2, NULL}, false);

	tap_ok(r == 0 && find(&im.t, "d/new") && !find(&im.t, "d/secret"),
	       "dir -> symlink -> dir: the lowest layer's files stay deleted (%s)", im.err.msg);
	done(&im);
	r = build(&im, (const struct ent *const[]){o0, o1, NULL}, false);
	tap_ok(r == 0 && find(&im.t, "upper") && !find(&im.t, "lower") && !find(&im.t, "etc/lower"),
	       "an opaque root hides every lower layer (%s)", im.err.msg);
	done(&im);
}

static void expect_error(const char *what, const struct ent *const *layers, const char *needle)
{
	struct image im;
	int r = build(&im, layers, false);

	tap_ok(r < 0 && strstr(im.err.msg, needle), "refused: %s (%s)", what, im.err.msg);
	done(&im);
}

static void test_hostile(void)
{
	static const struct ent dotdot[] = {{'f', "a/../../x", "x", 0}, {0, NULL, NULL, 0}};
	static const struct ent abs[] = {{'f', "/etc/passwd", "x", 0}, {0, NULL, NULL, 0}};
	static const struct ent through[] = {
		{'l', "x", "/", 0}, {'f', "x/etc/evil", "x", 0}, {0, NULL, NULL, 0}};
	static const struct ent dot[] = {
		{'l', ".", "/tmp", 0}, {0, NULL, NULL, 0}};
	static const struct ent c0[] = {{'d', "a/", NULL, 0}, {0, NULL, NULL, 0}};
	static const struct ent c1[] = {{'l', "a", "/tmp", 0}, {0, NULL, NULL, 0}};
	static const struct ent c2[] = {{'f', "a/evil", "x", 0}, {0, NULL, NULL, 0}};
	static const struct ent wh[] = {{'f', "a/.wh...", "", 0}, {0, NULL, NULL, 0}};
	static const struct ent wh2[] = {{'f', "../.wh.x", "", 0}, {0, NULL, NULL, 0}};
	static const struct ent hl[] = {{'h', "h", "missing", 0}, {0, NULL, NULL, 0}};
	static const struct ent hl2[] = {{'f', "f", "x", 0}, {'h', "h", "../f", 0},
	                                 {0, NULL, NULL, 0}};

	expect_error("\"..\" in a name", (const struct ent *const[]){dotdot, NULL}, "\"..\"");
	expect_error("an absolute name", (const struct ent *const[]){abs, NULL}, "absolute");
	expect_error("a write through a symlink of the same layer",
	             (const struct ent *const[]){through, NULL}, "written through");
	expect_error("a symlink named \".\"", (const struct ent *const[]){dot, NULL}, "root");
	expect_error("a directory replaced by a symlink, then written through (CVE-2021-29136)",
	             (const struct ent *const[]){c0, c1, c2, NULL}, "writes beneath");
	expect_error("a whiteout of \"..\"", (const struct ent *const[]){wh, NULL}, "names no file");
	expect_error("a whiteout outside the root", (const struct ent *const[]){wh2, NULL}, "\"..\"");
	expect_error("a hard link to a missing file", (const struct ent *const[]){hl, NULL},
	             "not an earlier file");
	expect_error("a hard link outside the root", (const struct ent *const[]){hl2, NULL}, "\"..\"");
}

static void test_digests(void)
{
	static const struct ent l0[] = {{'f', "f", "content", 0}, {0, NULL, NULL, 0}};
	struct image im;
	struct img_layer l;
	struct tree t;
	struct sqfs_out *out = NULL;
	int fd = memfd_create("out", MFD_CLOEXEC), r;

	memset(&im, 0, sizeof(im));
	tree_init(&t, &im.err);
	sqfs_out_open(&out, fd, 0, &(struct sqfs_out_opts){.comp = SQFS_OUT_GZIP, .jobs = 1}, &im.err);
	make_layer(l0, true, &l);
	l.digest[10] ^= 1;
	r = layer_apply(&t, out, &l, 0, NULL, NULL, NULL, &im.err);
	tap_ok(r < 0 && strstr(im.err.msg, "digest mismatch") && strstr(im.err.msg, "descriptor"),
	       "a blob digest mismatch is refused (%s)", im.err.msg);
	l.digest[10] ^= 1;
	l.diff_id[10] ^= 1;
	r = layer_apply(&t, out, &l, 0, NULL, NULL, NULL, &im.err);
	tap_ok(r < 0 && strstr(im.err.msg, "diff_id"), "a diff_id mismatch is refused (%s)",
	       im.err.msg);
	l.diff_id[10] ^= 1;
	l.len -= 10;   /* truncated gzip */
	l.digest[0] = l.diff_id[0] = '\0';
	r = layer_apply(&t, out, &l, 0, NULL, NULL, NULL, &im.err);
	tap_ok(r < 0, "a truncated gzip layer is refused (%s)", im.err.msg);
	{
		/* corrupt the deflate data in the middle */
		unsigned char b[64];
		l.len += 10;
		if (pread(l.fd, b, sizeof(b), 12) == (ssize_t)sizeof(b)) {
			for (size_t i = 0; i < sizeof(b); i++)
				b[i] ^= 0x5a;
			if (pwrite(l.fd, b, sizeof(b), 12) != (ssize_t)sizeof(b))
				abort();
		}
		r = layer_apply(&t, out, &l, 0, NULL, NULL, NULL, &im.err);
		tap_ok(r < 0, "a corrupt gzip layer is refused (%s)", im.err.msg);
	}
	layer_finish(&t, NULL, &l, 0, &im.err);
	sqfs_out_free(out);
	tree_free(&t);
	close(l.fd);
	close(fd);
}

/* ---- a blob that arrives while it is read (sif pull) ------------------------
 * The "download" moves on only when the reader waits: each wait appends
 * the next CHUNK bytes of the blob to the file, so the reader sees the
 * blob grow and must read only what is there. */
struct trickle {
	const unsigned char *src;
	size_t len, written, chunk;
	size_t fail_at;                  /* fail once this much is written (0: never) */
	int fd;
	unsigned waits;
};

static int64_t trickle_wait(void *ctx, uint64_t need, int *fd)
{
	struct trickle *t = ctx;

	t->waits++;
	while (t->written < need) {
		size_t n = t->len - t->written < t->chunk ? t->len - t->written : t->chunk;
		if (t->fail_at && t->written >= t->fail_at)
			return -EIO;
		if (pwrite(t->fd, t->src + t->written, n, (off_t)t->written) != (ssize_t)n)
			return -EIO;
		t->written += n;
	}
	*fd = t->fd;
	return (int64_t)t->written;
}

/* Apply N layers top down into a squashfs in OUTFD; 0 or the failure. */
static int apply_all(struct img_layer *l, size_t n, int outfd, struct sif_err *err)
{
	struct tree t;
	struct sqfs_out *out = NULL;
	uint64_t size;
	int r = tree_init(&t, err);

	if (r == 0)
		r = sqfs_out_open(&out, outfd, 0, &(struct sqfs_out_opts){.comp = SQFS_OUT_GZIP,
		                  .jobs = 2}, err);
	for (size_t i = n; r == 0 && i-- > 0;)
		r = layer_apply(&t, out, &l[i], (int32_t)i, NULL, NULL, NULL, err);
	if (r == 0)
		r = layer_finish(&t, out, l, n, err);
	else
		layer_finish(&t, NULL, l, 0, err);
	if (r == 0)
		r = sqfs_out_finish(out, &t, &size, err);
	sqfs_out_free(out);
	tree_free(&t);
	return r;
}

static bool same_file(int a, int b)
{
	struct stat sa, sb;
	bool same = fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_size == sb.st_size &&
	            sa.st_size > 0;
	char *x = same ? malloc((size_t)sa.st_size) : NULL, *y = same ? malloc((size_t)sa.st_size) : NULL;

	same = x && y && pread(a, x, (size_t)sa.st_size, 0) == sa.st_size &&
	       pread(b, y, (size_t)sa.st_size, 0) == sa.st_size && !memcmp(x, y, (size_t)sa.st_size);
	free(x);
	free(y);
	return same;
}

static void test_streamed(void)
{
	/* a hard link to a file a higher layer replaces: layer_finish reads
	 * the lower layer again */
	static char big[900 << 10];   /* ~700 KiB compressed: several reads of the blob */
	const struct ent l0[] = {
		{'d', "a/", NULL, 0}, {'f', "a/f", "lower file", 0}, {'h', "a/link", "a/f", 0},
		{'f', "big", big, 0}, {0, NULL, NULL, 0}};
	static const struct ent l1[] = {
		{'f', "a/f", "upper", 0}, {'f', "a/.wh.gone", "", 0}, {'d', "new/", NULL, 0},
		{'f', "new/x", "x", 0}, {0, NULL, NULL, 0}};
	const struct ent *const ents[] = {l0, l1};
	struct img_layer plain[2], streamed[2];
	struct trickle tr[2];
	unsigned char *blob[2];
	struct sif_err err = {0};
	int ref = memfd_create("ref", MFD_CLOEXEC), got = memfd_create("got", MFD_CLOEXEC), r;
	uint32_t x = 12345;

	for (size_t i = 0; i + 1 < sizeof(big); i++) {
		x = x * 1103515245u + 12345u;
		big[i] = (char)('!' + (x >> 16) % 90);
	}
	for (int i = 0; i < 2; i++) {
		make_layer(ents[i], true, &plain[i]);
		blob[i] = malloc(plain[i].len);
		if (pread(plain[i].fd, blob[i], plain[i].len, 0) != (ssize_t)plain[i].len)
			abort();
	}
	r = apply_all(plain, 2, ref, &err);
	tap_ok(r == 0, "streamed: the reference build from whole blobs (%s)", err.msg);

	for (int pass = 0; pass < 3; pass++) {
		/* 0: all arrives; 1: the bottom layer's download fails midway;
		 * 2: a byte of the top layer arrives damaged */
		if (ftruncate(got, 0) < 0)
			abort();
		for (int i = 0; i < 2; i++) {
			streamed[i] = plain[i];
			streamed[i].fd = -1;
			tr[i] = (struct trickle){ .src = blob[i], .len = plain[i].len, .chunk = 37,
			                          .fd = memfd_create("dl", MFD_CLOEXEC) };
			streamed[i].wait = trickle_wait;
			streamed[i].wait_ctx = &tr[i];
		}
		if (pass == 1)
			tr[0].fail_at = plain[0].len / 2;
		if (pass == 2) {
			blob[1][plain[1].len / 2] ^= 0x40;
		}
		memset(&err, 0, sizeof(err));
		r = apply_all(streamed, 2, got, &err);
		if (pass == 0) {
			tap_ok(r == 0 && tr[0].written == plain[0].len && tr[1].written == plain[1].len,
			       "streamed: layers read while they arrive (%s)", err.msg);
			tap_ok(tr[0].waits > 2 && tr[0].len > (512u << 10),
			       "streamed: the reader waited for the blob to grow, %zu bytes in %u waits",
			       tr[0].len, tr[0].waits);
			tap_ok(same_file(ref, got), "streamed: the image is the one built from whole blobs");
		} else if (pass == 1) {
			tap_ok(r < 0 && strstr(err.msg, "layer 1") && strstr(err.msg, "download failed"),
			       "streamed: a failed download fails the build (%s)", err.msg);
		} else {
			tap_ok(r < 0 && strstr(err.msg, "layer 2"),
			       "streamed: damaged bytes fail the build, whatever the download said (%s)",
			       err.msg);
			blob[1][plain[1].len / 2] ^= 0x40;
		}
		for (int i = 0; i < 2; i++)
			close(tr[i].fd);
	}
	for (int i = 0; i < 2; i++) {
		close(plain[i].fd);
		free(blob[i]);
	}
	close(ref);
	close(got);
}

int main(void)
{
	test_whiteouts(false);
	test_whiteouts(true);
	test_replace();
	test_hardlinks();
	test_review_cases();
	test_hostile();
	test_digests();
	test_streamed();
	return tap_done();
}
