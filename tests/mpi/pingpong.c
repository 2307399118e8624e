/* SPDX-License-Identifier: BSD-3-Clause */
/* Two-rank ping-pong: rank 0 sends SIZE bytes to rank 1, which sends them
 * back, ITERS times after WARMUP untimed rounds.  Rank 0 prints the half
 * round-trip time (one-way latency) and checks the data that came back.
 * Usage: pingpong [SIZE [ITERS [WARMUP]]] (defaults 8 10000 1000).
 * Line: "pingpong size S iters I latency_us L" (L: mean one-way time). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	int rank, size;
	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	long bytes = argc > 1 ? atol(argv[1]) : 8;
	long iters = argc > 2 ? atol(argv[2]) : 10000;
	long warmup = argc > 3 ? atol(argv[3]) : 1000;
	if (size != 2 || bytes < 1 || iters < 1 || warmup < 0) {
		if (rank == 0)
			fprintf(stderr, "pingpong: needs exactly 2 ranks (got %d), SIZE >= 1, ITERS >= 1\n", size);
		MPI_Abort(MPI_COMM_WORLD, 2);
	}
	unsigned char *buf = malloc((size_t)bytes);
	if (!buf)
		MPI_Abort(MPI_COMM_WORLD, 2);
	for (long i = 0; i < bytes; i++)
		buf[i] = (unsigned char)(i * 7 + 1);
	double t0 = 0;
	for (long i = 0; i < warmup + iters; i++) {
		if (i == warmup) {
			MPI_Barrier(MPI_COMM_WORLD);
			t0 = MPI_Wtime();
		}
		if (rank == 0) {
			MPI_Send(buf, (int)bytes, MPI_BYTE, 1, 0, MPI_COMM_WORLD);
			MPI_Recv(buf, (int)bytes, MPI_BYTE, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		} else {
			MPI_Recv(buf, (int)bytes, MPI_BYTE, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
			MPI_Send(buf, (int)bytes, MPI_BYTE, 0, 0, MPI_COMM_WORLD);
		}
	}
	double t = MPI_Wtime() - t0;
	int bad = 0;
	for (long i = 0; i < bytes; i++)
		bad |= buf[i] != (unsigned char)(i * 7 + 1);
	if (rank == 0) {
		if (bad) {
			fprintf(stderr, "pingpong: the data came back changed\n");
			MPI_Abort(MPI_COMM_WORLD, 3);
		}
		printf("pingpong size %ld iters %ld latency_us %.3f\n", bytes, iters, t / (2.0 * iters) * 1e6);
	}
	free(buf);
	MPI_Finalize();
	return 0;
}
