/* SPDX-License-Identifier: BSD-3-Clause */
/* MPI hello world: each rank prints its rank, the world size, its node and
 * its pid, and a wall-clock time (microseconds since the epoch) taken as
 * soon as main() runs: bench/mpi.sh reads it to see when a task started.
 * Line: "hello rank R of N on NODE pid P start_us T". */
#include <mpi.h>
#include <stdio.h>
#include <sys/time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct timeval tv;
	char node[MPI_MAX_PROCESSOR_NAME];
	int rank, size, len;

	gettimeofday(&tv, NULL);
	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	MPI_Get_processor_name(node, &len);
	printf("hello rank %d of %d on %s pid %ld start_us %lld\n", rank, size, node, (long)getpid(),
	       (long long)tv.tv_sec * 1000000 + tv.tv_usec);
	fflush(stdout);
	MPI_Barrier(MPI_COMM_WORLD);
	MPI_Finalize();
	return 0;
}
