/* SPDX-License-Identifier: BSD-3-Clause */
/* The last steps into a container (enter.h). */
#include "config.h"

#include <errno.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include <sys/capability.h>

#include "enter.h"

static int failed(char *msg, size_t len, const char *what)
{
	int e = errno;
	snprintf(msg, len, "%s: %s", what, strerror(e));
	return -e;
}

int sif_enter_pivot(const char *root, const char *cwd, bool cwd_from_pwd, char *msg, size_t len)
{
	if (chdir(root) < 0)
		return failed(msg, len, "enter the container root");
	/* pivot_root(".", "."): the old root ends up on top, and is detached */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return failed(msg, len, "pivot_root into the container");
	if (umount2(".", MNT_DETACH) < 0)
		return failed(msg, len, "detach the host root");
	if (chdir(cwd) < 0) {
		int e = errno;
		snprintf(msg, len, "%s %s: %s%s", cwd_from_pwd ? "--pwd" : "working directory", cwd,
		         strerror(e), cwd_from_pwd ? " (inside the container)" : "");
		return -e;
	}
	return 0;
}

/* No capability survives: bounding set emptied, then every set cleared.
 * (Under --fakeroot the payload is root of its own user namespace and
 * keeps capabilities there only.) */
static int drop_capabilities(bool keep_bounding)
{
	int last = CAP_LAST_CAP;
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	cap_t none;
	int r = 0;

	if (f) {
		if (fscanf(f, "%d", &last) != 1)
			last = CAP_LAST_CAP;
		fclose(f);
	}
	if (!keep_bounding)
		for (int c = 0; c <= last; c++)
			if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
				return -errno;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -errno;
	if (keep_bounding)
		return 0;
	none = cap_init();
	if (!none)
		return -ENOMEM;
	if (cap_set_proc(none) < 0)
		r = -errno;
	cap_free(none);
	return r;
}

/* TIOCSTI and TIOCLINUX would let the payload type into the caller's
 * terminal, outside the container: refused. */
static int deny_tty_injection(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int r;

	if (!ctx)
		return -ENOMEM;
	r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
	                     SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCSTI));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
		                     SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCLINUX));
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	return r;
}

int sif_enter_drop_privileges(bool keep_bounding, char *msg, size_t len)
{
	int r;

	if ((r = drop_capabilities(keep_bounding)) < 0) {
		snprintf(msg, len, "drop capabilities: %s", strerror(-r));
		return r;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return failed(msg, len, "set no_new_privs");
	if ((r = deny_tty_injection()) < 0) {
		snprintf(msg, len, "install the seccomp filter: %s", strerror(-r));
		return r;
	}
	return 0;
}
