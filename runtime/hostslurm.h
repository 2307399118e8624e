/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * --slurm: the host's Slurm client commands inside a container.
 *
 * The host's slurm.conf (and the files next to it), its munge socket and its
 * PluginDir are bound at their own paths; the client programs, the host's
 * dynamic loader and the libraries they and the plugins need (elfdeps.c)
 * are bound under SIF_SLURM_PREFIX, a private prefix; the commands on PATH
 * there (bin/srun, ...) are sif-hostexec, a static program that runs
 * libexec/NAME with the prefix's loader and libraries only.  The image's
 * own files are never changed, and its C library is never used by them.
 */
#ifndef SIF_HOSTSLURM_H
#define SIF_HOSTSLURM_H

#include <stdbool.h>

#include "err.h"
#include "launch.h"

#define SIF_SLURM_PREFIX "/.sif/slurm"

/* Plan --slurm: its PATH, SLURM_CONF and the key of its binds (what they
 * are made of: the commands, slurm.conf, the plugins, the loader's cache),
 * cheaply; the binds themselves wait for sif_slurm_binds.  HOSTEXEC is
 * the installed sif-hostexec (a static string); WHY names what asked
 * ("--slurm", or the site's sif.conf) in messages (static).  -ENOENT when
 * the host has no Slurm client commands or no Slurm configuration (the
 * message says which); another negative errno for anything else wrong. */
int sif_slurm_plan(struct sif_launch *l, const char *hostexec, const char *why,
                   struct sif_err *err);

/* Add the binds of a planned --slurm (nothing if none is pending): the
 * host's configuration, munge socket and plugin directory at their own
 * paths, and the private prefix with the commands, the host's loader and
 * the library closure (elfdeps.c; ~2 ms).  Only a launch that sets a root
 * up needs them: one that joins finds them in the holder's root. */
int sif_slurm_binds(struct sif_launch *l, struct sif_err *err);

/* The user's choice (1: --slurm, 0: --no-slurm, -1: neither) against the
 * site's default ("slurm = yes" in SITE_CONF): plans --slurm when chosen.
 * Chosen by the site only, a host without Slurm leaves it out (-v says
 * so), as a missing "bind path" is. */
int sif_slurm_choose(struct sif_launch *l, int choice, bool site_default, const char *site_conf,
                     struct sif_err *err);

#endif
