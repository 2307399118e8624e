/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The Singularity Image Format, version 01, as Apptainer's and Sylabs' Go
 * libraries write it (docs: ../shared/docs/sif-format.md).  All integers
 * on disk are little-endian and the structures are packed; this code never
 * overlays C structs on file bytes, it decodes field by field.
 *
 * A file is read with sif_open(): everything the header and the descriptor
 * table claim is checked against the file before anything is trusted, so a
 * corrupt or hostile file is refused with a message instead of making us
 * read outside it.
 */
#ifndef SIF_SIF_H
#define SIF_SIF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

#define SIF_HEADER_SIZE     128
#define SIF_LAUNCH_LEN      32
#define SIF_MAGIC           "SIF_MAGIC"   /* 10 bytes on disk, NUL included */
#define SIF_VERSION         "01"
#define SIF_DESCR_SIZE      585
#define SIF_DESCR_OFFSET    4096
#define SIF_DEFAULT_DESCRS  48
#define SIF_MAX_DESCRS      65536         /* refuse absurd tables */
#define SIF_NAME_LEN        128
#define SIF_EXTRA_LEN       384
#define SIF_PART_ALIGN      4096
#define SIF_GROUP_MASK      0xF0000000u   /* set on group IDs */
#define SIF_GO_ZERO_TIME    (-62135596800LL) /* Go's time.Time{}.Unix() */

enum sif_datatype {
	SIF_DATA_DEFFILE      = 0x4001,
	SIF_DATA_ENVVAR       = 0x4002,
	SIF_DATA_LABELS       = 0x4003,
	SIF_DATA_PARTITION    = 0x4004,
	SIF_DATA_SIGNATURE    = 0x4005,
	SIF_DATA_GENERICJSON  = 0x4006,
	SIF_DATA_GENERIC      = 0x4007,
	SIF_DATA_CRYPTOMSG    = 0x4008,
	SIF_DATA_SBOM         = 0x4009,
	SIF_DATA_OCI_ROOTIDX  = 0x400A,
	SIF_DATA_OCI_BLOB     = 0x400B,
};

enum sif_fstype {
	SIF_FS_SQUASH = 1, SIF_FS_EXT3 = 2, SIF_FS_IMMOBJECTS = 3,
	SIF_FS_RAW = 4, SIF_FS_ENCRYPTED_SQUASH = 5,
};

enum sif_parttype {
	SIF_PART_SYSTEM = 1, SIF_PART_PRIMSYS = 2, SIF_PART_DATA = 3,
	SIF_PART_OVERLAY = 4,
};

enum sif_hashtype {
	SIF_HASH_SHA256 = 1, SIF_HASH_SHA384 = 2, SIF_HASH_SHA512 = 3,
	SIF_HASH_BLAKE2S = 4, SIF_HASH_BLAKE2B = 5,
};

struct sif_header {
	char launch[SIF_LAUNCH_LEN];  /* raw bytes, NUL padded */
	char magic[10];
	char version[3];
	char arch[3];                 /* two ASCII digits and a NUL */
	uint8_t uuid[16];
	int64_t created, modified;
	int64_t dfree, dtotal;
	int64_t descoff, descsize;
	int64_t dataoff, datasize;
};

struct sif_descriptor {
	int32_t datatype;
	bool used;
	uint32_t id;
	uint32_t groupid;             /* SIF_GROUP_MASK | group number (0: none) */
	uint32_t link;                /* 0, an object ID, or a group ID with the mask */
	int64_t offset, size, sizewithpad;
	int64_t created, modified, uid, gid;
	char name[SIF_NAME_LEN + 1];  /* NUL-terminated copy: may fill all 128 on disk */
	uint8_t extra[SIF_EXTRA_LEN];
};

struct sif_image {
	int fd;
	bool writable;
	uint64_t filesize;
	struct sif_header hdr;
	struct sif_descriptor *descr;  /* hdr.dtotal slots, used or not */
	size_t ndescr;
};

/* Decoded type-specific extras. */
struct sif_partition_info {
	int32_t fstype, parttype;
	char arch[3];
};
struct sif_signature_info {
	int32_t hashtype;
	uint8_t fingerprint[20];
	size_t fingerprint_len;        /* 0 when the signer left it empty (DSSE) */
};

/* Encode/decode one header or descriptor (pure, no I/O). */
void sif_header_decode(const uint8_t buf[SIF_HEADER_SIZE], struct sif_header *h);
void sif_header_encode(const struct sif_header *h, uint8_t buf[SIF_HEADER_SIZE]);
void sif_descr_decode(const uint8_t buf[SIF_DESCR_SIZE], struct sif_descriptor *d);
void sif_descr_encode(const struct sif_descriptor *d, uint8_t buf[SIF_DESCR_SIZE]);

/* Open PATH (flags: O_RDONLY or O_RDWR) and validate it.  The descriptor is
 * opened O_CLOEXEC.  On failure the image is left closed. */
int sif_open(struct sif_image *img, const char *path, int flags, struct sif_err *err);
/* Validate an already open regular file; takes ownership of fd on success. */
int sif_load(struct sif_image *img, int fd, bool writable, struct sif_err *err);
void sif_close(struct sif_image *img);

struct sif_create_opts {
	const char *launch;            /* NULL: "#!/usr/bin/env run-singularity\n" */
	const uint8_t *uuid;           /* 16 bytes; NULL: all zero (reproducible) */
	int64_t time;                  /* created/modified of the header */
	const char *arch;              /* header arch code ("02"); NULL: "00" */
	size_t ndescr;                 /* 0: SIF_DEFAULT_DESCRS */
};
/* Create a new, empty SIF in an open, empty, writable file descriptor. */
int sif_create_fd(struct sif_image *img, int fd, const struct sif_create_opts *opts,
                  struct sif_err *err);

struct sif_object_input {
	int32_t datatype;
	uint32_t group;                /* group number (1, 2, ...), 0 for none */
	uint32_t link;                 /* raw link: object ID or SIF_GROUP_MASK|group */
	const char *name;              /* up to 128 bytes, NULL for none */
	int64_t time;                  /* created/modified of the descriptor */
	size_t align;                  /* 0: 4096 for partitions, 1 otherwise */
	const uint8_t *extra;          /* SIF_EXTRA_LEN bytes or NULL */
	/* data: from memory (data, size) or from a file (src_fd at src_off, size) */
	const void *data;
	int src_fd;
	off_t src_off;
	int64_t size;
	/* or: the data was already written in place, at src_off, which must be
	 * sif_next_offset() of the same alignment (a filesystem written
	 * straight into the image) */
	bool in_place;
};

/* Where sif_add_object would put the next object with ALIGN (0: 4096). */
int64_t sif_next_offset(const struct sif_image *img, size_t align);
/* Append an object; returns its ID (> 0) or a negative errno. */
int sif_add_object(struct sif_image *img, const struct sif_object_input *in,
                   struct sif_err *err);

#define SIF_DELETE_ZERO    0x1  /* overwrite the object's data with zeros */
#define SIF_DELETE_COMPACT 0x2  /* shrink the file when the object was last */
int sif_delete_object(struct sif_image *img, uint32_t id, unsigned flags,
                      int64_t time, struct sif_err *err);

/* Helpers to build the extra bytes. */
void sif_partition_extra(uint8_t extra[SIF_EXTRA_LEN], int32_t fstype,
                         int32_t parttype, const char *arch);
void sif_signature_extra(uint8_t extra[SIF_EXTRA_LEN], int32_t hashtype,
                         const uint8_t *fingerprint, size_t len);

/* Lookups. */
const struct sif_descriptor *sif_get_object(const struct sif_image *img, uint32_t id);
const struct sif_descriptor *sif_primary_partition(const struct sif_image *img);
void sif_partition_info(const struct sif_descriptor *d, struct sif_partition_info *p);
void sif_signature_info(const struct sif_descriptor *d, struct sif_signature_info *s);
/* The NUL-terminated string at the start of an extra (OCI blob digests). */
void sif_extra_string(const struct sif_descriptor *d, char *out, size_t outlen);
/* Read LEN bytes of an object's data at OFF within the object. */
int sif_read_object(const struct sif_image *img, const struct sif_descriptor *d,
                    void *buf, size_t len, uint64_t off, struct sif_err *err);

static inline uint32_t sif_group_number(uint32_t groupid) { return groupid & ~SIF_GROUP_MASK; }
static inline bool sif_link_is_group(uint32_t link) { return (link & SIF_GROUP_MASK) != 0; }

/* Names as Apptainer's siftool prints them. */
const char *sif_datatype_name(int32_t datatype);
const char *sif_fstype_name(int32_t fstype);
const char *sif_parttype_name(int32_t parttype);
const char *sif_hash_name(int32_t hashtype);
const char *sif_arch_name(const char code[3]);      /* "02" -> "amd64" */
const char *sif_arch_code(const char *goarch);      /* "amd64" -> "02", NULL if unknown */
const char *sif_host_arch(void);                    /* GOARCH name of this build */
const char *sif_cryptomsg_format_name(int32_t f);
const char *sif_cryptomsg_type_name(int32_t t);
const char *sif_sbom_format_name(int32_t f);

#endif
