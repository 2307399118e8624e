/* SPDX-License-Identifier: BSD-3-Clause */
/* sif inspect: what an image holds. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "launch.h"
#include "resolve.h"
#include "sif.h"
#include "fusemod.h"
#include "sqread.h"

static const char usage[] =
	"Usage: sif inspect [--json] IMAGE\n"
	"       sif inspect --objects [--json] IMAGE\n"
	"\n"
	"Show what an image holds: its labels (/.singularity.d/labels.json, as\n"
	"\"key: value\" lines), its environment scripts (env/10-docker2singularity.sh,\n"
	"env/90-environment.sh and their like, as they are), its runscript, and for\n"
	"a SIF file its architecture and the working directory of its OCI config.\n"
	"IMAGE is a SIF file, a squashfs file or a directory; nothing is mounted or\n"
	"run. Characters from the image that could drive a terminal are shown as '?'.\n"
	"\n"
	"Options:\n"
	"  -o, --objects  instead, the SIF global header and one line per data object:\n"
	"                 ID, group, link, position in the file and type (for\n"
	"                 partitions the filesystem, partition type and architecture;\n"
	"                 '*System' marks the primary partition), as Apptainer's\n"
	"                 'siftool header' and 'siftool list' print them\n"
	"  -j, --json     the same as one JSON document\n"
	"  -h, --help     show this help\n"
	"\n"
	"Files larger than 1 MiB are not shown. Exit status: 0 (also for an image\n"
	"without /.singularity.d), or 255 when the image cannot be read or is not a\n"
	"valid SIF, squashfs or directory image. See sif-inspect(1).\n";

/* Bytes from an image are shown, never interpreted: replace anything that
 * is not printable ASCII so a hostile name cannot drive the terminal. */
static void sanitize(const char *in, size_t len, char *out, size_t outlen)
{
	size_t j = 0;

	for (size_t i = 0; i < len && in[i] && j + 1 < outlen; i++) {
		unsigned char c = (unsigned char)in[i];
		out[j++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	out[j] = '\0';
}

static void launch_script(const struct sif_header *h, char *out, size_t outlen)
{
	size_t n = strnlen(h->launch, SIF_LAUNCH_LEN);
	while (n > 0 && (h->launch[n - 1] == '\n' || h->launch[n - 1] == ' '))
		n--;
	sanitize(h->launch, n, out, outlen);
}

static bool uuid_is_zero(const uint8_t u[16])
{
	for (int i = 0; i < 16; i++)
		if (u[i])
			return false;
	return true;
}

static void format_uuid(const uint8_t u[16], char out[37])
{
	snprintf(out, 37,
	         "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	         u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
	         u[13], u[14], u[15]);
}

/* As Go prints time.Time.UTC(): "2006-01-02 15:04:05 +0000 UTC". */
static void format_time(int64_t t, char *out, size_t outlen)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || strftime(out, outlen, "%Y-%m-%d %H:%M:%S +0000 UTC", &tm) == 0)
		snprintf(out, outlen, "%" PRId64, t);
}

/* As siftool prints sizes: "0 B", "27 KiB", "10 MiB". */
static void format_size(int64_t size, char *out, size_t outlen)
{
	static const char units[] = "KMGTPE";
	int64_t div = 1024;
	int exp = 0;

	if (size < 1024) {
		snprintf(out, outlen, "%" PRId64 " B", size);
		return;
	}
	for (int64_t n = size / 1024; n >= 1024 && exp < 5; n /= 1024) {
		div *= 1024;
		exp++;
	}
	snprintf(out, outlen, "%.0f %ciB", (double)size / (double)div, units[exp]);
}

static void object_type(const struct sif_descriptor *d, char *out, size_t outlen)
{
	const char *t = sif_datatype_name(d->datatype);

	switch (d->datatype) {
	case SIF_DATA_PARTITION: {
		struct sif_partition_info p;
		sif_partition_info(d, &p);
		snprintf(out, outlen, "%s (%s/%s/%s)", t, sif_fstype_name(p.fstype),
		         sif_parttype_name(p.parttype), sif_arch_name(p.arch));
		break;
	}
	case SIF_DATA_SIGNATURE: {
		struct sif_signature_info s;
		sif_signature_info(d, &s);
		snprintf(out, outlen, "%s (%s)", t, sif_hash_name(s.hashtype));
		break;
	}
	case SIF_DATA_CRYPTOMSG: {
		struct sif_partition_info p; /* same two leading int32s */
		sif_partition_info(d, &p);
		snprintf(out, outlen, "%s (%s/%s)", t, sif_cryptomsg_format_name(p.fstype),
		         sif_cryptomsg_type_name(p.parttype));
		break;
	}
	case SIF_DATA_SBOM: {
		struct sif_partition_info p;
		sif_partition_info(d, &p);
		snprintf(out, outlen, "%s (%s)", t, sif_sbom_format_name(p.fstype));
		break;
	}
	default:
		snprintf(out, outlen, "%s", t);
	}
}

static void print_text(const struct sif_image *img)
{
	const struct sif_header *h = &img->hdr;
	char lines[12][2][128];
	size_t n = 0, width = 0;
	char buf[128];

#define ROW(label, ...) do { \
		snprintf(lines[n][0], sizeof(lines[n][0]), "%s", label); \
		snprintf(lines[n][1], sizeof(lines[n][1]), __VA_ARGS__); \
		n++; \
	} while (0)

	launch_script(h, buf, sizeof(buf));
	if (buf[0])
		ROW("Launch Script:", "%s", buf);
	ROW("Version:", "%s", SIF_VERSION);
	if (strcmp(sif_arch_name(h->arch), "unknown") != 0)
		ROW("Primary Architecture:", "%s", sif_arch_name(h->arch));
	if (!uuid_is_zero(h->uuid)) {
		char u[37];
		format_uuid(h->uuid, u);
		ROW("ID:", "%s", u);
	}
	if (h->created != SIF_GO_ZERO_TIME) {
		format_time(h->created, buf, sizeof(buf));
		ROW("Created At:", "%s", buf);
	}
	if (h->modified != SIF_GO_ZERO_TIME) {
		format_time(h->modified, buf, sizeof(buf));
		ROW("Modified At:", "%s", buf);
	}
	ROW("Descriptors Free:", "%" PRId64, h->dfree);
	ROW("Descriptors Total:", "%" PRId64, h->dtotal);
	ROW("Descriptors Offset:", "%" PRId64, h->descoff);
	format_size(h->descsize, buf, sizeof(buf));
	ROW("Descriptors Size:", "%s", buf);
	ROW("Data Offset:", "%" PRId64, h->dataoff);
	format_size(h->datasize, buf, sizeof(buf));
	ROW("Data Size:", "%s", buf);
#undef ROW

	for (size_t i = 0; i < n; i++)
		if (strlen(lines[i][0]) > width)
			width = strlen(lines[i][0]);
	for (size_t i = 0; i < n; i++)
		printf("%-*s %s\n", (int)width, lines[i][0], lines[i][1]);

	printf("\n"
	       "------------------------------------------------------------------------------\n"
	       "ID   |GROUP   |LINK    |SIF POSITION (start-end)  |TYPE\n"
	       "------------------------------------------------------------------------------\n");
	for (size_t i = 0; i < img->ndescr; i++) {
		const struct sif_descriptor *d = &img->descr[i];
		char group[16], link[16], pos[48], type[160];
		if (!d->used)
			continue;
		if (sif_group_number(d->groupid))
			snprintf(group, sizeof(group), "%u", sif_group_number(d->groupid));
		else
			snprintf(group, sizeof(group), "NONE");
		if (d->link == 0)
			snprintf(link, sizeof(link), "NONE");
		else if (sif_link_is_group(d->link))
			snprintf(link, sizeof(link), "%-3u (G)", sif_group_number(d->link));
		else
			snprintf(link, sizeof(link), "%u", d->link);
		snprintf(pos, sizeof(pos), "%" PRId64 "-%" PRId64, d->offset, d->offset + d->size);
		object_type(d, type, sizeof(type));
		printf("%-4u |%-7s |%-7s |%-25s |%s\n", d->id, group, link, pos, type);
	}
}

/* A JSON string of bytes from the image: as is when valid UTF-8, else sanitized. */
static json_t *json_bytes(const char *s, size_t len)
{
	json_t *j = json_stringn(s, strnlen(s, len));
	if (!j) {
		char buf[512];
		sanitize(s, len, buf, sizeof(buf));
		j = json_string(buf);
	}
	return j;
}

static json_t *json_object_of(const struct sif_descriptor *d)
{
	char type[160];
	json_t *o = json_object();

	object_type(d, type, sizeof(type));
	json_object_set_new(o, "id", json_integer(d->id));
	json_object_set_new(o, "group", sif_group_number(d->groupid)
	                    ? json_integer(sif_group_number(d->groupid)) : json_null());
	if (d->link == 0)
		json_object_set_new(o, "link", json_null());
	else
		json_object_set_new(o, "link", json_pack("{s:s,s:I}",
		                    "kind", sif_link_is_group(d->link) ? "group" : "object",
		                    "id", (json_int_t)sif_group_number(d->link)));
	json_object_set_new(o, "start", json_integer(d->offset));
	json_object_set_new(o, "end", json_integer(d->offset + d->size));
	json_object_set_new(o, "size", json_integer(d->size));
	json_object_set_new(o, "size_with_padding", json_integer(d->sizewithpad));
	json_object_set_new(o, "datatype", json_integer(d->datatype));
	json_object_set_new(o, "type", json_string(sif_datatype_name(d->datatype)));
	json_object_set_new(o, "description", json_string(type));
	json_object_set_new(o, "name", json_bytes(d->name, SIF_NAME_LEN));
	json_object_set_new(o, "created", json_integer(d->created));
	json_object_set_new(o, "modified", json_integer(d->modified));

	if (d->datatype == SIF_DATA_PARTITION) {
		struct sif_partition_info p;
		sif_partition_info(d, &p);
		json_object_set_new(o, "partition", json_pack("{s:s,s:i,s:s,s:i,s:b,s:s}",
		                    "fstype", sif_fstype_name(p.fstype), "fstype_code", p.fstype,
		                    "parttype", sif_parttype_name(p.parttype), "parttype_code", p.parttype,
		                    "primary", p.parttype == SIF_PART_PRIMSYS,
		                    "arch", sif_arch_name(p.arch)));
	} else if (d->datatype == SIF_DATA_SIGNATURE) {
		struct sif_signature_info s;
		char fp[41] = "";
		sif_signature_info(d, &s);
		for (size_t i = 0; i < s.fingerprint_len; i++)
			snprintf(fp + 2 * i, 3, "%02X", s.fingerprint[i]);
		json_object_set_new(o, "signature", json_pack("{s:s,s:s}",
		                    "hash", sif_hash_name(s.hashtype), "fingerprint", fp));
	} else if (d->datatype == SIF_DATA_OCI_BLOB || d->datatype == SIF_DATA_OCI_ROOTIDX) {
		char digest[SIF_EXTRA_LEN + 1];
		sif_extra_string(d, digest, sizeof(digest));
		json_object_set_new(o, "digest", json_bytes(digest, sizeof(digest)));
	}
	return o;
}

static int print_json(const struct sif_image *img, const char *path)
{
	const struct sif_header *h = &img->hdr;
	char uuid[37], launch[64];
	json_t *root, *objs;
	int r;

	format_uuid(h->uuid, uuid);
	launch_script(h, launch, sizeof(launch));
	objs = json_array();
	for (size_t i = 0; i < img->ndescr; i++)
		if (img->descr[i].used)
			json_array_append_new(objs, json_object_of(&img->descr[i]));
	root = json_pack("{s:s,s:{s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I},s:o}",
	                 "path", path,
	                 "header",
	                 "launch_script", launch,
	                 "version", SIF_VERSION,
	                 "arch", sif_arch_name(h->arch),
	                 "arch_code", sif_arch_name(h->arch)[0] == 'u' ? "00" : h->arch,
	                 "id", uuid,
	                 "created", (json_int_t)h->created,
	                 "modified", (json_int_t)h->modified,
	                 "descriptors_free", (json_int_t)h->dfree,
	                 "descriptors_total", (json_int_t)h->dtotal,
	                 "descriptors_offset", (json_int_t)h->descoff,
	                 "descriptors_size", (json_int_t)h->descsize,
	                 "data_offset", (json_int_t)h->dataoff,
	                 "data_size", (json_int_t)h->datasize,
	                 "objects", objs);
	if (!root)
		return cli_failf("inspect: cannot build the JSON document (out of memory?)");
	r = json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (r < 0)
		return cli_failf("inspect: cannot write to standard output");
	putchar('\n');
	return 0;
}

/* ---- what the image holds: /.singularity.d ------------------------------- */

#define META_MAX (1 << 20)   /* larger files are not shown */

/* The environment scripts shown, as Apptainer's inspect shows them. */
static const char *const env_files[] = {
	"10-docker.sh", "10-docker2singularity.sh", "90-environment.sh", "91-environment.sh",
};
#define NENV (sizeof(env_files) / sizeof(env_files[0]))

struct meta {
	const char *format;           /* "sif", "squashfs", "directory" */
	const char *arch;             /* Go name, or NULL */
	char *workdir;                /* WorkingDir of oci-config.json, or NULL */
	bool has_sd;                  /* /.singularity.d is a directory */
	char *labels_text;            /* labels.json as read, or NULL */
	size_t labels_len;
	json_t *labels;               /* its labels, keys sorted; NULL if not an object */
	char *env[NENV];
	size_t env_len[NENV];
	char *runscript;
	size_t runscript_len;
	/* why a file there is not shown (NULL: shown, or not there) */
	const char *labels_why, *env_why[NENV], *runscript_why;
	char **warnings;              /* problems with single files */
	size_t nwarnings;
};

static void meta_free(struct meta *m)
{
	free(m->workdir);
	free(m->labels_text);
	json_decref(m->labels);
	for (size_t i = 0; i < NENV; i++)
		free(m->env[i]);
	free(m->runscript);
	for (size_t i = 0; i < m->nwarnings; i++)
		free(m->warnings[i]);
	free(m->warnings);
}

__attribute__((format(printf, 2, 3)))
static int meta_warn(struct meta *m, const char *fmt, ...)
{
	char **nw = realloc(m->warnings, (m->nwarnings + 1) * sizeof(*nw));
	va_list ap;
	int r;

	if (!nw)
		return -ENOMEM;
	m->warnings = nw;
	va_start(ap, fmt);
	r = vasprintf(&m->warnings[m->nwarnings], fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	m->nwarnings++;
	return 0;
}

/* Where the image's files are read from. */
struct reader {
	const struct sif_image_ref *ref;
	struct sif_sq *sq;            /* SIF and squashfs images */
};

/* PATH of the image, at most META_MAX bytes: 0 or -errno. */
static int reader_read(struct reader *rd, const char *path, char **data, size_t *len)
{
	struct sif_err e;
	int r;

	if (rd->sq)
		return sif_sq_read(rd->sq, path, META_MAX, data, len);
	/* a directory: resolved inside it, never through a link out of it */
	r = sif_read_in_root(rd->ref->fd, path, META_MAX + 1, data, len, &e);
	if (r == 0 && *len > META_MAX) {
		free(*data);
		*data = NULL;
		return -EFBIG;
	}
	return r < 0 ? -e.code : 0;
}

/* Is PATH of the image a directory (links followed inside it)? 1, 0 or -errno. */
static int reader_is_dir(struct reader *rd, const char *path)
{
	struct sif_err e;
	struct stat st;
	uint32_t mode;
	int fd, r;

	if (rd->sq) {
		r = sif_sq_mode(rd->sq, path, true, &mode);
		return r < 0 ? r : S_ISDIR(mode);
	}
	fd = sif_resolve(rd->ref->fd, path, SIF_RESOLVE_EXISTING, true, NULL, 0, &e);
	if (fd < 0)
		return -e.code;
	r = fstat(fd, &st) < 0 ? -errno : S_ISDIR(st.st_mode);
	close(fd);
	return r;
}

/* Read PATH for META: 0 with *DATA (NULL when absent), or a fatal -errno
 * (ERR filled); other problems become warnings, and *WHY says in short why
 * the file is not shown. */
static int read_one(struct reader *rd, struct meta *m, const char *path, char **data, size_t *len,
                    const char **why, struct sif_err *err)
{
	int r = reader_read(rd, path, data, len);

	*why = NULL;
	switch (r) {
	case 0:
		return 0;
	case -ENOENT:
		*data = NULL;
		return 0;
	case -EBADMSG:
		return sif_err_advise(err, EBADMSG, "image %s: its squashfs filesystem is damaged "
		                      "(reading %s): copy the image again or rebuild it",
		                      rd->ref->path, path);
	case -ENOMEM:
		return sif_err_set(err, ENOMEM, "out of memory");
	case -EFBIG:
		*why = "larger than 1 MiB";
		r = meta_warn(m, "%s is larger than 1 MiB: not shown", path);
		break;
	case -EISDIR:
		*why = "a directory";
		r = meta_warn(m, "%s is a directory, not a file: not shown", path);
		break;
	case -EINVAL:
		*why = "not a regular file";
		r = meta_warn(m, "%s is not a regular file: not shown", path);
		break;
	default:
		*why = strerror(-r);
		r = meta_warn(m, "%s: %s: not shown", path, strerror(-r));
	}
	*data = NULL;
	return r < 0 ? sif_err_set(err, ENOMEM, "out of memory") : 0;
}

static int cmp_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* labels.json: a JSON object (keys sorted), null (no labels), or anything
 * else, which is shown as text with a warning. */
static int parse_labels(struct meta *m)
{
	json_error_t je;
	json_t *j = json_loadb(m->labels_text, m->labels_len, 0, &je);
	const char **keys;
	const char *k;
	json_t *v;
	size_t n = 0;

	if (!j)
		return meta_warn(m, "/.singularity.d/labels.json is not valid JSON (line %d: %s): "
		            "shown as text", je.line, je.text);
	if (json_is_null(j)) {   /* what Apptainer writes for an image without labels */
		json_decref(j);
		m->labels = json_object();
		return m->labels ? 0 : -ENOMEM;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		return meta_warn(m, "/.singularity.d/labels.json is not a JSON object: shown as text");
	}
	keys = malloc((json_object_size(j) + 1) * sizeof(*keys));
	m->labels = json_object();
	if (!keys || !m->labels) {
		free(keys);
		json_decref(j);
		return -ENOMEM;
	}
	json_object_foreach(j, k, v)
		keys[n++] = k;
	qsort(keys, n, sizeof(*keys), cmp_keys);
	for (size_t i = 0; i < n; i++)
		json_object_set(m->labels, keys[i], json_object_get(j, keys[i]));
	free(keys);
	json_decref(j);
	return 0;
}

static int read_meta(const struct sif_image_ref *ref, struct meta *m, struct sif_err *err)
{
	struct reader rd = {.ref = ref};
	char path[128];
	int r;

	memset(m, 0, sizeof(*m));
	m->format = ref->kind == SIF_IMAGE_SIF ? "sif"
	          : ref->kind == SIF_IMAGE_SQUASHFS ? "squashfs" : "directory";
	m->arch = ref->arch[0] ? ref->arch : NULL;
	m->workdir = sif_image_workdir(ref);
	if (ref->kind != SIF_IMAGE_DIR) {
		char why[PATH_MAX + 160];
		if ((r = sif_fuse_module_load(why, sizeof(why))) < 0)
			return sif_err_advise(err, -r, "%s", why);
		r = sif_sq_open(&rd.sq, ref->fd, ref->offset);
		if (r == -ENOTSUP)
			return sif_err_set(err, ENOTSUP, "image %s: its squashfs (version or "
			                   "compression) cannot be read by libsquashfuse", ref->path);
		if (r == -ENOMEM)
			return sif_err_set(err, ENOMEM, "out of memory");
		if (r < 0)
			return sif_err_advise(err, -r, "image %s: its squashfs filesystem cannot be read: "
			                      "copy the image again or rebuild it", ref->path);
	}
	r = reader_is_dir(&rd, "/.singularity.d");
	if (r == -EBADMSG) {
		r = sif_err_advise(err, EBADMSG, "image %s: its squashfs filesystem is damaged "
		                   "(reading /.singularity.d): copy the image again or rebuild it",
		                   ref->path);
		goto out;
	}
	if (r == -ENOMEM) {
		r = sif_err_set(err, ENOMEM, "out of memory");
		goto out;
	}
	m->has_sd = r == 1;
	r = 0;
	if (!m->has_sd)
		goto out;

	r = read_one(&rd, m, "/.singularity.d/labels.json", &m->labels_text, &m->labels_len,
	             &m->labels_why, err);
	if (r == 0 && m->labels_text && parse_labels(m) < 0)
		r = sif_err_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; r == 0 && i < NENV; i++) {
		snprintf(path, sizeof(path), "/.singularity.d/env/%s", env_files[i]);
		r = read_one(&rd, m, path, &m->env[i], &m->env_len[i], &m->env_why[i], err);
	}
	if (r == 0)
		r = read_one(&rd, m, "/.singularity.d/runscript", &m->runscript, &m->runscript_len,
		             &m->runscript_why, err);
out:
	sif_sq_close(rd.sq);
	return r;
}

/* Text from the image, for a terminal: printable ASCII, tabs, newlines when
 * MULTILINE, and well-formed UTF-8 as they are; every other byte, C1
 * controls and the invisible characters that reorder or hide text
 * (bidirectional overrides, zero-width, BOM) as '?'. */
static void put_sanitized(FILE *f, const char *s, size_t len, bool multiline)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;

	while (p < end) {
		unsigned c = *p;
		size_t n = c < 0x80 ? 1 : (c >= 0xc2 && c <= 0xdf) ? 2 : (c >= 0xe0 && c <= 0xef) ? 3
		         : (c >= 0xf0 && c <= 0xf4) ? 4 : 0;
		uint32_t cp = n == 2 ? c & 0x1f : n == 3 ? c & 0x0f : c & 0x07;
		bool ok = n > 0 && (size_t)(end - p) >= n;

		if (n == 1) {
			fputc((c >= 0x20 && c < 0x7f) || c == '\t' || (c == '\n' && multiline)
			      ? (int)c : '?', f);
			p++;
			continue;
		}
		for (size_t i = 1; ok && i < n; i++) {
			ok = (p[i] & 0xc0) == 0x80;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		ok = ok && !(n == 3 && cp < 0x800) && !(n == 4 && (cp < 0x10000 || cp > 0x10ffff)) &&
		     !(cp >= 0xd800 && cp <= 0xdfff);
		if (!ok) {
			fputc('?', f);
			p++;
			continue;
		}
		if ((cp >= 0x80 && cp <= 0x9f) || (cp >= 0x200b && cp <= 0x200f) ||
		    (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2060 && cp <= 0x206f) ||
		    cp == 0xfeff || (cp >= 0xfff9 && cp <= 0xfffb))
			fputc('?', f);
		else
			fwrite(p, 1, n, f);
		p += n;
	}
}

static void put_line(FILE *f, const char *s)
{
	put_sanitized(f, s, strlen(s), false);
}

/* A file's text, ending in a newline. */
static void put_file(FILE *f, const char *s, size_t len)
{
	put_sanitized(f, s, len, true);
	if (len == 0 || s[len - 1] != '\n')
		fputc('\n', f);
}

static void print_meta_text(const struct sif_image_ref *ref, const struct meta *m)
{
	bool any_env = false;

	if (m->arch)
		printf("Architecture: %s\n", m->arch);
	if (m->workdir) {
		fputs("Working directory: ", stdout);
		put_line(stdout, m->workdir);
		fputc('\n', stdout);
	}
	if (!m->has_sd) {
		if (m->arch || m->workdir)
			putchar('\n');
		fputs("No /.singularity.d in ", stdout);
		put_line(stdout, ref->path);
		fputs(": it has no labels, environment scripts or runscript (it was not made by "
		      "sif build or Apptainer)\n", stdout);
		return;
	}
	if (m->arch || m->workdir)
		putchar('\n');

	puts("=== Labels (/.singularity.d/labels.json) ===");
	if (m->labels) {
		const char *k;
		json_t *v;
		if (json_object_size(m->labels) == 0)
			puts("(none)");
		json_object_foreach(m->labels, k, v) {
			put_line(stdout, k);
			fputs(": ", stdout);
			if (json_is_string(v)) {
				put_sanitized(stdout, json_string_value(v), json_string_length(v), false);
			} else {
				char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
				if (t)
					put_line(stdout, t);
				free(t);
			}
			fputc('\n', stdout);
		}
	} else if (m->labels_text) {
		put_file(stdout, m->labels_text, m->labels_len);
	} else if (m->labels_why) {
		printf("(not shown: %s)\n", m->labels_why);
	} else {
		puts("(none)");
	}

	for (size_t i = 0; i < NENV; i++) {
		if (!m->env[i] && !m->env_why[i])
			continue;
		printf("\n=== Environment (/.singularity.d/env/%s) ===\n", env_files[i]);
		if (m->env[i])
			put_file(stdout, m->env[i], m->env_len[i]);
		else
			printf("(not shown: %s)\n", m->env_why[i]);
		any_env = true;
	}
	if (!any_env)
		puts("\n=== Environment ===\n(none)");

	puts("\n=== Runscript (/.singularity.d/runscript) ===");
	if (m->runscript)
		put_file(stdout, m->runscript, m->runscript_len);
	else if (m->runscript_why)
		printf("(not shown: %s)\n", m->runscript_why);
	else
		puts("(none: 'sif run' refuses this image)");
}

/* A JSON string of a file's bytes: as they are when valid UTF-8 (the
 * document is written in ASCII, so nothing reaches a terminal raw), else
 * with the bytes that are not printable ASCII as '?'. */
static json_t *json_text(const char *s, size_t len)
{
	json_t *j = json_stringn(s, len);
	char *buf;

	if (j)
		return j;
	buf = malloc(len + 1);
	if (!buf)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		buf[i] = (c >= 0x20 && c < 0x7f) || c == '\n' || c == '\t' ? (char)c : '?';
	}
	j = json_stringn(buf, len);
	free(buf);
	return j;
}

static json_t *json_or_null(const char *s, size_t len)
{
	return s ? json_text(s, len) : json_null();
}

static int print_meta_json(const struct sif_image_ref *ref, const struct meta *m)
{
	json_t *root, *env = json_object(), *warnings = json_array();
	int r;

	for (size_t i = 0; env && i < NENV; i++)
		if (m->env[i])
			json_object_set_new(env, env_files[i], json_text(m->env[i], m->env_len[i]));
	for (size_t i = 0; warnings && i < m->nwarnings; i++)
		json_array_append_new(warnings, json_text(m->warnings[i], strlen(m->warnings[i])));
	root = json_pack("{s:o,s:s,s:o,s:o,s:b,s:O?,s:o,s:o,s:o}",
	                 "path", json_text(ref->path, strlen(ref->path)),
	                 "format", m->format,
	                 "architecture", m->arch ? json_string(m->arch) : json_null(),
	                 "workdir", json_or_null(m->workdir, m->workdir ? strlen(m->workdir) : 0),
	                 "singularity_d", m->has_sd,
	                 "labels", m->labels,
	                 "environment", env,
	                 "runscript", json_or_null(m->runscript, m->runscript_len),
	                 "warnings", warnings);
	if (root && !m->labels && m->labels_text)
		json_object_set_new(root, "labels_text", json_text(m->labels_text, m->labels_len));
	if (!root)
		return cli_failf("inspect: cannot build the JSON document (out of memory?)");
	r = json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
	json_decref(root);
	if (r < 0)
		return cli_failf("inspect: cannot write to standard output");
	putchar('\n');
	return fflush(stdout) == 0 ? 0 : cli_failf("inspect: cannot write to standard output");
}

static int inspect_meta(const char *path, bool json)
{
	struct sif_image_ref ref;
	struct sif_err err = {0};
	struct meta m;
	int r;

	if (sif_image_open(&ref, path, &err) < 0) {
		struct sif_image img;
		struct sif_err e2;
		/* safe after any failure, and frees what some failures leave */
		sif_image_close(&ref);
		/* a valid SIF file without a squashfs system partition */
		if (err.code == SIF_EFORMAT && sif_open(&img, path, O_RDONLY, &e2) == 0) {
			char msg[sizeof(err.msg)];
			bool none = !sif_primary_partition(&img);
			sif_close(&img);
			snprintf(msg, sizeof(msg), "%s", err.msg);
			if (none)
				sif_err_advise(&err, SIF_EFORMAT, "image %s: no primary system partition, "
				               "so no container filesystem to inspect; 'sif inspect --objects "
				               "%s' shows what it holds", path, path);
			else
				sif_err_advise(&err, SIF_EFORMAT, "%s; 'sif inspect --objects %s' shows what "
				               "it holds", msg, path);
		}
		return cli_fail(&err);
	}
	r = read_meta(&ref, &m, &err);
	if (r < 0) {
		meta_free(&m);
		sif_image_close(&ref);
		return cli_fail(&err);
	}
	for (size_t i = 0; i < m.nwarnings; i++) {
		fputs("sif: warning: ", stderr);
		put_line(stderr, path);
		fputs(": ", stderr);
		put_line(stderr, m.warnings[i]);
		fputc('\n', stderr);
	}
	if (json) {
		r = print_meta_json(&ref, &m);
	} else {
		print_meta_text(&ref, &m);
		r = fflush(stdout) == 0 ? 0 : cli_failf("inspect: cannot write to standard output");
	}
	meta_free(&m);
	sif_image_close(&ref);
	return r;
}

static int run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"objects", no_argument, NULL, 'o'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	bool objects = false, json = false;
	struct sif_image img;
	struct sif_err err = {0};
	int c, r;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+ojh", opts, NULL)) != -1) {
		switch (c) {
		case 'o': objects = true; break;
		case 'j': json = true; break;
		case 'h': cli_usage(stdout, &sif_cmd_inspect); return 0;
		default:
			return cli_failf("inspect: unknown option '%s': run 'sif help inspect'",
			                 argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return cli_failf("inspect: %s: run 'sif help inspect'",
		                 optind >= argc ? "name one IMAGE" : "name only one IMAGE");
	if (!objects)
		return inspect_meta(argv[optind], json);

	r = sif_open(&img, argv[optind], O_RDONLY, &err);
	if (r < 0)
		return cli_fail(&err);
	if (json) {
		r = print_json(&img, argv[optind]);
	} else {
		print_text(&img);
		r = fflush(stdout) == 0 ? 0 : cli_failf("inspect: cannot write to standard output");
	}
	sif_close(&img);
	return r;
}

const struct sif_command sif_cmd_inspect = {
	.name = "inspect",
	.summary = "show an image's labels, environment and runscript (--objects: SIF objects)",
	.usage = usage,
	.run = run,
};
