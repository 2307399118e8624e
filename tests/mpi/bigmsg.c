/* SPDX-License-Identifier: BSD-3-Clause */
/* A large-message exchange between two ranks: each sends SIZE bytes (default
 * 64 MiB) of a rank-specific pattern to the other at once and checks what
 * it receives, ROUNDS times.  On one node Open MPI's vader BTL moves
 * messages this large by single copy: with
 * "--mca btl_vader_single_copy_mechanism cma" that is
 * process_vm_readv(2), which the kernel allows only when the ranks may
 * ptrace each other (the same user namespace).  Rank 0 prints
 * "bigmsg size S rounds R ok MiB_per_s B" or fails. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static unsigned char pattern(int rank, long i) { return (unsigned char)(i * 31 + rank * 101 + (i >> 12)); }

int main(int argc, char **argv)
{
	int rank, size;
	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	long bytes = argc > 1 ? atol(argv[1]) : 64L << 20;
	long rounds = argc > 2 ? atol(argv[2]) : 4;
	if (size != 2 || bytes < 1 || bytes > (1L << 30) || rounds < 1) {
		if (rank == 0)
			fprintf(stderr, "bigmsg: needs exactly 2 ranks (got %d), 1 <= SIZE <= 1 GiB\n", size);
		MPI_Abort(MPI_COMM_WORLD, 2);
	}
	unsigned char *out = malloc((size_t)bytes), *in = malloc((size_t)bytes);
	if (!out || !in)
		MPI_Abort(MPI_COMM_WORLD, 2);
	for (long i = 0; i < bytes; i++)
		out[i] = pattern(rank, i);
	int peer = 1 - rank;
	long bad = 0;
	MPI_Barrier(MPI_COMM_WORLD);
	double t0 = MPI_Wtime();
	for (long r = 0; r < rounds; r++) {
		for (long i = 0; i < bytes; i += 4096)
			in[i] = 0;
		MPI_Sendrecv(out, (int)bytes, MPI_BYTE, peer, 0, in, (int)bytes, MPI_BYTE, peer, 0,
		             MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		for (long i = 0; i < bytes; i++)
			bad += in[i] != pattern(peer, i);
	}
	double t = MPI_Wtime() - t0;
	long all = 0;
	MPI_Reduce(&bad, &all, 1, MPI_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
	if (rank == 0) {
		if (all) {
			fprintf(stderr, "bigmsg: %ld bytes arrived wrong\n", all);
			MPI_Abort(MPI_COMM_WORLD, 3);
		}
		printf("bigmsg size %ld rounds %ld ok MiB_per_s %.0f\n", bytes, rounds,
		       (double)bytes * (double)rounds / t / (1 << 20));
	}
	free(out);
	free(in);
	MPI_Finalize();
	return 0;
}
