/* SPDX-License-Identifier: BSD-3-Clause */
/* The last steps into a container (enter.h). */
#include "config.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "enter.h"

static int failed(char *msg, size_t len, const char *what)
{
	int e = errno;
	snprintf(msg, len, "%s: %s", what, strerror(e));
	return -e;
}

int sif_enter_pivot(const char *root, char *msg, size_t len)
{
	if (chdir(root) < 0)
		return failed(msg, len, "enter the container root");
	/* pivot_root(".", "."): the old root ends up on top, and is detached */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return failed(msg, len, "pivot_root into the container");
	if (umount2(".", MNT_DETACH) < 0)
		return failed(msg, len, "detach the host root");
	if (chdir("/") < 0)
		return failed(msg, len, "enter the container root");
	return 0;
}

int sif_enter_cwd(const char *cwd, bool cwd_from_pwd, char *msg, size_t len)
{
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
 * keeps capabilities there only.)  capset(2) itself, with every set empty:
 * libcap's cap_set_proc() did the same, and the library cost every
 * launch its loading. */
static int drop_capabilities(bool keep_bounding)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3];
	/* every capability the kernel knows, whatever this build's headers
	 * say: the first number it calls invalid is past the last one */
	if (!keep_bounding)
		for (int c = 0;; c++)
			if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0) {
				if (errno == EINVAL && c > 0)
					break;
				return -errno;
			}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -errno;
	if (keep_bounding)
		return 0;
	memset(none, 0, sizeof(none));
	if (syscall(SYS_capset, &h, none) < 0)
		return -errno;
	return 0;
}

/* TIOCSTI and TIOCLINUX would let the payload type into the caller's
 * terminal, outside the container: refused with EPERM.  A fixed BPF
 * program, the one libseccomp 2.5 generated for these two rules
 * (seccomp_init(SCMP_ACT_ALLOW), then ioctl with (arg1 & 0xffffffff) ==
 * TIOCSTI or TIOCLINUX: ERRNO(EPERM)), without compiling it at every
 * launch: a system call of another architecture kills the thread, as
 * libseccomp's default for a foreign architecture does, and on x86_64 so
 * does an x32 one (numbers from 0x40000000, -1 aside).  The ioctl command
 * is compared in its low 32 bits: the kernel reads it as an unsigned int.
 * tests/unit/test_seccomp.c runs both programs over the same inputs. */
#if defined(__x86_64__) && defined(__ILP32__)
#error "x32: no seccomp program for this ABI"
#elif defined(__x86_64__)
#define SIF_AUDIT_ARCH AUDIT_ARCH_X86_64
#define SIF_X32_CHECK 1
#elif defined(__i386__)
#define SIF_AUDIT_ARCH AUDIT_ARCH_I386
#elif defined(__aarch64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SIF_AUDIT_ARCH AUDIT_ARCH_AARCH64
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SIF_AUDIT_ARCH AUDIT_ARCH_PPC64LE
#elif defined(__powerpc64__)
#define SIF_AUDIT_ARCH AUDIT_ARCH_PPC64
#elif defined(__s390x__)
#define SIF_AUDIT_ARCH AUDIT_ARCH_S390X
#elif defined(__riscv) && __riscv_xlen == 64
#define SIF_AUDIT_ARCH AUDIT_ARCH_RISCV64
#else
#error "no seccomp program for this architecture: add its AUDIT_ARCH_ in starter/enter.c"
#endif
#ifndef SIF_X32_CHECK
#define SIF_X32_CHECK 0
#endif
/* the low 32 bits of args[1] */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SIF_ARG1_LO (offsetof(struct seccomp_data, args) + sizeof(__u64))
#else
#define SIF_ARG1_LO (offsetof(struct seccomp_data, args) + sizeof(__u64) + sizeof(__u32))
#endif

enum {
	I_LD_ARCH, I_ARCH,
	I_LD_NR,
#if SIF_X32_CHECK
	I_X32, I_X32_NEG,
#endif
	I_IOCTL, I_LD_ARG1, I_STI, I_LINUX,
	I_ALLOW, I_EPERM, I_KILL, I_COUNT
};
#define TO(from, to) ((to) - (from) - 1)   /* a jump's offset */

static const struct sock_filter tty_filter[I_COUNT] = {
	[I_LD_ARCH] = BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
	[I_ARCH] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SIF_AUDIT_ARCH, 0, TO(I_ARCH, I_KILL)),
	[I_LD_NR] = BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
#if SIF_X32_CHECK
	[I_X32] = BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, TO(I_X32, I_IOCTL)),
	[I_X32_NEG] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0xffffffff, 0, TO(I_X32_NEG, I_KILL)),
#endif
	[I_IOCTL] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 0, TO(I_IOCTL, I_ALLOW)),
	[I_LD_ARG1] = BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SIF_ARG1_LO),
	[I_STI] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TIOCSTI, TO(I_STI, I_EPERM), 0),
	[I_LINUX] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TIOCLINUX, TO(I_LINUX, I_EPERM), 0),
	[I_ALLOW] = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	[I_EPERM] = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
	[I_KILL] = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_THREAD),
};

const struct sock_fprog *sif_enter_tty_filter(void)
{
	static const struct sock_fprog prog = {.len = I_COUNT,
	                                       .filter = (struct sock_filter *)tty_filter};
	return &prog;
}

int sif_enter_deny_tty_injection(void)
{
	/* no_new_privs is set already (the kernel requires it unprivileged) */
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, sif_enter_tty_filter()) < 0)
		return -errno;
	return 0;
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
	if ((r = sif_enter_deny_tty_injection()) < 0) {
		snprintf(msg, len, "install the seccomp filter: %s", strerror(-r));
		return r;
	}
	return 0;
}
