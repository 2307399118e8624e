/* SPDX-License-Identifier: BSD-3-Clause */
/* A PMI-2 wire-up through Slurm's libpmi2 (srun --mpi=pmi2): each task
 * puts a value under its rank in the job's key-value space, waits at the
 * fence, and reads its neighbour's.  slurmstepd talks PMI-2 over the
 * descriptor PMI_FD names, which the task inherits: inside a container this
 * works only when that descriptor reaches the payload.  Debian 12's Open MPI
 * has no PMI-2 client, so this stands in for an MPI program there.
 * Line: "pmi2 rank R of N got 'from rank S pid P'". */
#include <pmi2.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(void)
{
	int spawned, size, rank, appnum, len;
	char jobid[256], key[64], value[PMI2_MAX_VALLEN], got[PMI2_MAX_VALLEN];

	if (PMI2_Init(&spawned, &size, &rank, &appnum) != PMI2_SUCCESS) {
		fprintf(stderr, "pmi2: PMI2_Init failed (PMI_FD=%s)\n", getenv("PMI_FD") ? getenv("PMI_FD") : "unset");
		return 1;
	}
	if (PMI2_Job_GetId(jobid, sizeof(jobid)) != PMI2_SUCCESS) {
		fprintf(stderr, "pmi2: PMI2_Job_GetId failed\n");
		return 1;
	}
	snprintf(key, sizeof(key), "sif-test-%d", rank);
	snprintf(value, sizeof(value), "from rank %d pid %ld", rank, (long)getpid());
	if (PMI2_KVS_Put(key, value) != PMI2_SUCCESS || PMI2_KVS_Fence() != PMI2_SUCCESS) {
		fprintf(stderr, "pmi2: put or fence failed\n");
		return 1;
	}
	int peer = (rank + 1) % size;
	snprintf(key, sizeof(key), "sif-test-%d", peer);
	if (PMI2_KVS_Get(jobid, peer, key, got, sizeof(got), &len) != PMI2_SUCCESS) {
		fprintf(stderr, "pmi2: get %s failed\n", key);
		return 1;
	}
	printf("pmi2 rank %d of %d got '%s'\n", rank, size, got);
	fflush(stdout);
	PMI2_Finalize();
	return 0;
}
