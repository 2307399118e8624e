/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The payload's seccomp program (starter/enter.c) is a fixed BPF program,
 * no longer compiled by libseccomp at every launch.  Here it must decide
 * every input as libseccomp's program for the same rules does: both are
 * run by a small classic-BPF interpreter over system calls, architectures
 * and ioctl commands.  Then the real one is installed in a child, where
 * TIOCSTI and TIOCLINUX fail with EPERM, other ioctls work, and (x86_64)
 * an x32 system call kills it.
 */
#include "config.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "enter.h"
#include "tap.h"

/* Classic BPF as seccomp uses it: A, X, the loads of seccomp_data, ALU,
 * jumps and returns.  Returns the action, or 0xdeadbeef for a program
 * this interpreter does not know. */
static uint32_t run(const struct sock_filter *p, size_t n, const struct seccomp_data *d)
{
	uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = {0};
	const unsigned char *data = (const unsigned char *)d;

	for (size_t pc = 0; pc < n; pc++) {
		const struct sock_filter *i = &p[pc];
		uint32_t src = BPF_SRC(i->code) == BPF_X ? x : i->k;
		switch (BPF_CLASS(i->code)) {
		case BPF_LD:
			if (i->code == (BPF_LD | BPF_W | BPF_ABS) && i->k + 4 <= sizeof(*d))
				memcpy(&a, data + i->k, 4);
			else if (i->code == (BPF_LD | BPF_IMM))
				a = i->k;
			else if (i->code == (BPF_LD | BPF_MEM) && i->k < BPF_MEMWORDS)
				a = mem[i->k];
			else
				return 0xdeadbeef;
			break;
		case BPF_LDX:
			if (i->code == (BPF_LDX | BPF_IMM))
				x = i->k;
			else if (i->code == (BPF_LDX | BPF_MEM) && i->k < BPF_MEMWORDS)
				x = mem[i->k];
			else
				return 0xdeadbeef;
			break;
		case BPF_ST:
			if (i->k >= BPF_MEMWORDS)
				return 0xdeadbeef;
			mem[i->k] = a;
			break;
		case BPF_STX:
			if (i->k >= BPF_MEMWORDS)
				return 0xdeadbeef;
			mem[i->k] = x;
			break;
		case BPF_ALU:
			switch (BPF_OP(i->code)) {
			case BPF_ADD: a += src; break;
			case BPF_SUB: a -= src; break;
			case BPF_AND: a &= src; break;
			case BPF_OR: a |= src; break;
			case BPF_XOR: a ^= src; break;
			case BPF_LSH: a = src < 32 ? a << src : 0; break;
			case BPF_RSH: a = src < 32 ? a >> src : 0; break;
			case BPF_NEG: a = -a; break;
			default: return 0xdeadbeef;
			}
			break;
		case BPF_JMP: {
			bool t;
			switch (BPF_OP(i->code)) {
			case BPF_JA: pc += i->k; continue;
			case BPF_JEQ: t = a == src; break;
			case BPF_JGT: t = a > src; break;
			case BPF_JGE: t = a >= src; break;
			case BPF_JSET: t = (a & src) != 0; break;
			default: return 0xdeadbeef;
			}
			pc += t ? i->jt : i->jf;
			break;
		}
		case BPF_RET:
			return BPF_RVAL(i->code) == BPF_A ? a : i->k;
		case BPF_MISC:
			if (i->code == (BPF_MISC | BPF_TAX))
				x = a;
			else if (i->code == (BPF_MISC | BPF_TXA))
				a = x;
			else
				return 0xdeadbeef;
			break;
		default:
			return 0xdeadbeef;
		}
	}
	return 0xdeadbeef;   /* fell off the end */
}

/* libseccomp's program for the rules enter.c describes */
static int libseccomp_program(struct sock_filter **p, size_t *n)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int fds[2] = {-1, -1}, r = -1;
	char buf[65536];
	ssize_t got;

	if (!ctx || pipe(fds) < 0)
		goto out;
	if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
	                     SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCSTI)) < 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
	                     SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCLINUX)) < 0 ||
	    seccomp_export_bpf(ctx, fds[1]) < 0)
		goto out;
	close(fds[1]);
	fds[1] = -1;
	got = read(fds[0], buf, sizeof(buf));
	if (got <= 0 || got % (ssize_t)sizeof(struct sock_filter))
		goto out;
	*n = (size_t)got / sizeof(struct sock_filter);
	*p = malloc((size_t)got);
	if (!*p)
		goto out;
	memcpy(*p, buf, (size_t)got);
	r = 0;
out:
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	if (ctx)
		seccomp_release(ctx);
	return r;
}

int main(void)
{
	const struct sock_fprog *mine = sif_enter_tty_filter();
	struct sock_filter *ref = NULL;
	size_t nref = 0;
	uint32_t native = 0;

	/* the native architecture, as libseccomp names it in its program */
	if (!tap_ok(libseccomp_program(&ref, &nref) == 0, "libseccomp exports its program"))
		return tap_done();
	if (ref[0].code == (BPF_LD | BPF_W | BPF_ABS) && ref[1].code == (BPF_JMP | BPF_JEQ | BPF_K))
		native = ref[1].k;
	tap_ok(native != 0, "libseccomp's program checks the architecture (0x%x)", native);

	const uint32_t arches[] = {native, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, AUDIT_ARCH_AARCH64,
	                           AUDIT_ARCH_ARM, 0};
	const uint32_t nrs[] = {__NR_ioctl, __NR_ioctl + 1, 0, 1, 0x3fffffff, 0x40000000,
	                        0x40000000 + __NR_ioctl, 0x7fffffff, 0x80000000, 0xfffffffe,
	                        0xffffffff};
	const uint64_t cmds[] = {TIOCSTI, TIOCLINUX, (1ULL << 32) | TIOCSTI,
	                         0xffffffff00000000ULL | TIOCLINUX, TIOCSTI + 1, FIONREAD, TCGETS, 0,
	                         0xffffffffffffffffULL, TIOCSTI << 8};
	size_t cases = 0, differ = 0, unknown = 0, denied = 0, natives = 0;
	for (size_t ai = 0; ai < sizeof(arches) / sizeof(arches[0]); ai++)
		natives += arches[ai] == native;
	for (size_t ai = 0; ai < sizeof(arches) / sizeof(arches[0]); ai++)
		for (size_t ni = 0; ni < sizeof(nrs) / sizeof(nrs[0]); ni++)
			for (size_t ci = 0; ci < sizeof(cmds) / sizeof(cmds[0]); ci++) {
				struct seccomp_data d = {.nr = (int)nrs[ni], .arch = arches[ai]};
				d.args[1] = cmds[ci];
				d.args[0] = 3;
				uint32_t a = run(mine->filter, mine->len, &d), b = run(ref, nref, &d);
				cases++;
				unknown += a == 0xdeadbeef || b == 0xdeadbeef;
				denied += a == (SECCOMP_RET_ERRNO | EPERM);
				if (a != b && differ++ < 5)
					printf("# arch 0x%x nr 0x%x arg1 0x%llx: sif 0x%x, libseccomp 0x%x\n",
					       d.arch, (unsigned)d.nr, (unsigned long long)cmds[ci], a, b);
			}
	tap_ok(unknown == 0, "both programs run to a decision in every case");
	tap_ok(differ == 0, "sif's program decides %zu cases as libseccomp's does (%zu differ)",
	       cases, differ);
	tap_ok(denied == 4 * natives, "EPERM for the native ioctl TIOCSTI and TIOCLINUX only, "
	       "high bits ignored (%zu cases)", denied);
	free(ref);

	/* installed in a child */
	int pfd[2];
	if (!tap_ok(pipe(pfd) == 0, "pipe"))
		return tap_done();
	pid_t pid = fork();
	if (pid == 0) {
		char c = 'x';
		int n = 0;
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || sif_enter_deny_tty_injection() < 0)
			_exit(10);
		/* a pipe is no terminal: without the filter, ENOTTY */
		if (ioctl(pfd[0], TIOCSTI, &c) != -1 || errno != EPERM)
			_exit(11);
		if (syscall(SYS_ioctl, pfd[0], (1UL << 32) | TIOCSTI, &c) != -1 || errno != EPERM)
			_exit(12);
		if (ioctl(pfd[0], TIOCLINUX, &c) != -1 || errno != EPERM)
			_exit(13);
		if (ioctl(pfd[0], FIONREAD, &n) != 0)
			_exit(14);
#if defined(__x86_64__)
		syscall(0x40000000 + __NR_getpid);   /* x32: killed */
		_exit(15);
#endif
		_exit(0);
	}
	int st = 0;
	waitpid(pid, &st, 0);
#if defined(__x86_64__)
	tap_ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS,
	       "installed: TIOCSTI/TIOCLINUX refused (EPERM), FIONREAD works, an x32 call kills "
	       "(status 0x%x)", (unsigned)st);
#else
	tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	       "installed: TIOCSTI/TIOCLINUX refused (EPERM), FIONREAD works (status 0x%x)",
	       (unsigned)st);
#endif
	return tap_done();
}
