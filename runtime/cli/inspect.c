/* SPDX-License-Identifier: BSD-3-Clause */
/* sif inspect: what an image holds. */
#include "config.h"

#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli.h"
#include "sif.h"

static const char usage[] =
	"Usage: sif inspect --objects [--json] IMAGE\n"
	"\n"
	"Show what a SIF image holds.\n"
	"\n"
	"Options:\n"
	"  -o, --objects  the global header and one line per data object: ID, group,\n"
	"                 link, position in the file and type (for partitions the\n"
	"                 filesystem, partition type and architecture; '*System' marks\n"
	"                 the primary partition), as Apptainer's 'siftool header' and\n"
	"                 'siftool list' print them\n"
	"  -j, --json     the same as one JSON document\n"
	"  -h, --help     show this help\n"
	"\n"
	"Exit status: 0, or 255 when the image cannot be read or is not a valid SIF\n"
	"file. See sif-inspect(1).\n";

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
		return cli_failf("inspect: say what to show: --objects (an image's labels, environment "
		                 "and runscript are shown once 'sif build' writes them)");

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
	.summary = "show what a SIF image holds (--objects: header and data objects)",
	.usage = usage,
	.run = run,
};
