/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The shared-library closure of host programs, found the way the host's
 * dynamic loader would find it (DT_RPATH, DT_RUNPATH with $ORIGIN,
 * /etc/ld.so.cache, the default directories), by reading the ELF files:
 * nothing is run.  Used by --slurm to give host programs their own
 * libraries inside a container (hostslurm.c).
 */
#ifndef SIF_ELFDEPS_H
#define SIF_ELFDEPS_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

struct sif_elflib {
	char *name;                 /* as a DT_NEEDED names it: "libc.so.6" */
	char *path;                 /* the host file, links resolved */
};

struct sif_elfdeps {
	char *interp;               /* the programs' loader (PT_INTERP), links resolved */
	struct sif_elflib *libs;
	size_t nlibs;
	char **seen;                /* the files read already */
	size_t nseen;
	char *cache;                /* /etc/ld.so.cache, read once */
	size_t cachelen;
};

/* Is PATH a dynamically linked ELF program for this machine (it has a
 * PT_INTERP)?  Scripts, static programs and other machines' files are not. */
bool sif_elf_is_dynamic_program(const char *path);

/* Add PATH (a program or a shared object) and everything it needs to D.
 * A program's PT_INTERP becomes D->interp.  A library that cannot be found
 * is an error naming it and the file that needs it. */
int sif_elfdeps_add(struct sif_elfdeps *d, const char *path, struct sif_err *err);
void sif_elfdeps_free(struct sif_elfdeps *d);

#endif
