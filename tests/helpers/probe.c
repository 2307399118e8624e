/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sif-probe: small checks run inside containers by the integration tests,
 * linked statically so that it runs in any image (it is bound in).
 *   sif-probe tiocsti   push a character into the terminal on fd 0 with
 *                       TIOCSTI; prints "refused: ERRNO-NAME" or "accepted"
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>

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
	fprintf(stderr, "usage: sif-probe tiocsti\n");
	return 2;
}
