/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sif-probe: small checks run inside containers by the integration tests,
 * linked statically so that it runs in any image (it is bound in).
 *   sif-probe tiocsti   push a character into the terminal on fd 0 with
 *                       TIOCSTI; prints "refused: ERRNO-NAME" or "accepted"
 *   sif-probe squat NAME
 *                       a payload squatting another root's share name (the
 *                       abstract unix socket NAME): read the welcome its
 *                       holder sends, wait until that holder is gone, take
 *                       the name, print "squatting", and answer the next
 *                       launch with the same welcome but this container's
 *                       own user and mount namespaces; exits when that
 *                       launch hangs up (or after 30 s)
 *   sif-probe count-usr1 SECONDS
 *                       print "ready", count the SIGUSR1s delivered in
 *                       SECONDS (each one as it comes: none merge while
 *                       the handler waits), then print "count N"
 *   sif-probe resident FILE MS
 *                       read the first 4 KiB of FILE (one READ at offset 0),
 *                       then for up to MS milliseconds count its pages in
 *                       the page cache (mincore), reading nothing more;
 *                       print "resident N of M" (M the file's pages) once
 *                       all are, or at the end
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

static volatile sig_atomic_t usr1s;

static void on_usr1(int sig)
{
	(void)sig;
	usr1s++;
}

static int count_usr1(int seconds)
{
	struct sigaction sa = {.sa_handler = on_usr1};
	struct timespec end, now;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += seconds;
	puts("ready");
	fflush(stdout);
	do {
		struct timespec d = {0, 20 * 1000 * 1000};
		nanosleep(&d, NULL);
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec < end.tv_sec || (now.tv_sec == end.tv_sec && now.tv_nsec < end.tv_nsec));
	printf("count %d\n", (int)usr1s);
	return 0;
}

static int resident(const char *path, int ms)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char buf[4096];
	long page = sysconf(_SC_PAGESIZE);
	size_t pages, n = 0;
	unsigned char *vec;
	void *map;

	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size == 0 || pread(fd, buf, sizeof(buf), 0) < 0) {
		perror("sif-probe: resident");
		return 1;
	}
	pages = ((size_t)st.st_size + (size_t)page - 1) / (size_t)page;
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	vec = malloc(pages);
	if (map == MAP_FAILED || !vec) {
		perror("sif-probe: resident: mmap");
		return 1;
	}
	for (int waited = 0; waited <= ms; waited += 10) {
		struct timespec d = {0, 10 * 1000 * 1000};
		if (mincore(map, (size_t)st.st_size, vec) < 0) {
			perror("sif-probe: resident: mincore");
			return 1;
		}
		n = 0;
		for (size_t i = 0; i < pages; i++)
			n += vec[i] & 1;
		if (n == pages)
			break;
		nanosleep(&d, NULL);
	}
	printf("resident %zu of %zu\n", n, pages);
	return 0;
}

static socklen_t abstract(struct sockaddr_un *a, const char *name)
{
	size_t n = strlen(name);
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (n > sizeof(a->sun_path) - 1)
		n = sizeof(a->sun_path) - 1;
	memcpy(a->sun_path + 1, name, n);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

static int squat(const char *name)
{
	struct sockaddr_un a;
	socklen_t len = abstract(&a, name);
	char msg[8192];
	ssize_t n;
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	/* the holder's welcome: the root's shape and cwd (its descriptors
	 * are closed at exit) */
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, len) < 0 ||
	    (n = recv(fd, msg, sizeof(msg), 0)) <= 32) {
		perror("sif-probe: squat: the holder's welcome");
		return 1;
	}
	close(fd);
	/* the name, once the holder has let it go */
	int lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	for (int i = 0; lfd >= 0 && bind(lfd, (struct sockaddr *)&a, len) < 0; i++) {
		if (errno != EADDRINUSE || i > 600) {
			perror("sif-probe: squat: bind");
			return 1;
		}
		usleep(50000);
	}
	if (lfd < 0 || listen(lfd, 8) < 0) {
		perror("sif-probe: squat: listen");
		return 1;
	}
	puts("squatting");
	fflush(stdout);
	struct pollfd pf = {.fd = lfd, .events = POLLIN};
	if (poll(&pf, 1, 30000) <= 0)
		return 1;
	int c = accept(lfd, NULL, NULL);
	int ns[2] = {open("/proc/self/ns/user", O_RDONLY), open("/proc/self/ns/mnt", O_RDONLY)};
	char cbuf[CMSG_SPACE(sizeof(ns))];
	struct iovec iov = {.iov_base = msg, .iov_len = (size_t)n};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
	                   .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
	if (c < 0 || ns[0] < 0 || ns[1] < 0) {
		perror("sif-probe: squat: accept");
		return 1;
	}
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(ns));
	memcpy(CMSG_DATA(cm), ns, sizeof(ns));
	if (sendmsg(c, &m, MSG_NOSIGNAL) < 0) {
		perror("sif-probe: squat: sendmsg");
		return 1;
	}
	pf.fd = c;
	poll(&pf, 1, 30000);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "tiocsti") == 0) {
		char c = '#';
		if (ioctl(0, TIOCSTI, &c) == 0) {
			puts("accepted");
			return 1;
		}
		printf("refused: %s\n", errno == EPERM ? "EPERM" : errno == EIO ? "EIO" :
		       errno == ENOTTY ? "ENOTTY" : strerror(errno));
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "squat") == 0)
		return squat(argv[2]);
	if (argc == 3 && strcmp(argv[1], "count-usr1") == 0)
		return count_usr1(atoi(argv[2]));
	if (argc == 4 && strcmp(argv[1], "resident") == 0)
		return resident(argv[2], atoi(argv[3]));
	fprintf(stderr, "usage: sif-probe tiocsti | squat NAME | count-usr1 SECONDS | "
	        "resident FILE MS\n");
	return 2;
}
