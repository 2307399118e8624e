/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The last steps into a container, shared by the launcher's payload
 * (run.c) and the SPANK plugin's tasks (spank/sif_spank.c), which enter a
 * root the launcher assembled and pivoted into (the container's mount
 * namespace, session.c): change to the working directory inside, then
 * give up every privilege.  Each returns 0, or -errno after writing why
 * into MSG.
 */
#ifndef SIF_ENTER_H
#define SIF_ENTER_H

#include <stdbool.h>
#include <stddef.h>

/* The caller is in a mount namespace of its own (a copy of the launch's):
 * make ROOT its root and detach the host's. */
int sif_enter_pivot(const char *root, char *msg, size_t len);

/* Change to CWD, a path inside the container (CWD_FROM_PWD: the user gave
 * it with --pwd, which the message names). */
int sif_enter_cwd(const char *cwd, bool cwd_from_pwd, char *msg, size_t len);

/* Empty the bounding set (unless KEEP_BOUNDING: --fakeroot's own user
 * namespace) and every capability set, set no_new_privs, and refuse
 * TIOCSTI/TIOCLINUX (typing into the caller's terminal). */
int sif_enter_drop_privileges(bool keep_bounding, char *msg, size_t len);

/* The seccomp program that refuses TIOCSTI and TIOCLINUX (EPERM), and its
 * installation (no_new_privs must be set): 0 or -errno.  For the tests. */
struct sock_fprog;
const struct sock_fprog *sif_enter_tty_filter(void);
int sif_enter_deny_tty_injection(void);

#endif
