/* SPDX-License-Identifier: BSD-3-Clause */
/* The container's /etc/passwd and /etc/group: the image's entries, with the
 * invoking user (and group) present so that id, ls -l and getpwuid work. */
#ifndef SIF_PASSWD_H
#define SIF_PASSWD_H

#include <sys/types.h>

/* IMAGE is the image's file (NULL or "" when it has none); returns a
 * malloc'd file, or NULL when out of memory. */
char *sif_passwd_generate(const char *image, const char *user, uid_t uid, gid_t gid,
                          const char *gecos, const char *home, const char *shell);
char *sif_group_generate(const char *image, const char *group, gid_t gid, const char *user);

#endif
