// glm_mpi.h — the MPI calls multi-process training needs, as plain C functions over small integer handles.
// WHY: Swift cannot import MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, … (macros over Open MPI's globals), and the
// MPI types differ between implementations; this header mentions no MPI type at all.
// Every function returns 0 on success or an MPI error code (text: glm_mpi_error_string).
#ifndef GLM_MPI_H
#define GLM_MPI_H
#include <stddef.h>

/// Element types of buffers.
enum { GLM_MPI_FLOAT = 0, GLM_MPI_DOUBLE = 1, GLM_MPI_INT32 = 2, GLM_MPI_INT64 = 3, GLM_MPI_BYTE = 4 };
/// Reductions.
enum { GLM_MPI_SUM = 0, GLM_MPI_MAX = 1, GLM_MPI_MIN = 2 };

/// 1 when this process was started by an MPI launcher (mpirun/orterun/srun set these variables), else 0.
/// Nothing MPI is touched: a plain `glm` run never initialises MPI.
int glm_mpi_launched(void);
/// MPI_Init_thread (funneled: only the thread that initialised calls MPI); errors return instead of aborting.
int glm_mpi_init(void);
int glm_mpi_finalize(void);
/// Handle of MPI_COMM_WORLD (always 0).
int glm_mpi_world(void);
int glm_mpi_rank(int comm, int *rank);
int glm_mpi_size(int comm, int *size);
/// MPI_Comm_split: processes with the same colour form one communicator, ordered by key.
int glm_mpi_split(int comm, int color, int key, int *out);
int glm_mpi_barrier(int comm);
int glm_mpi_bcast(int comm, void *buffer, size_t count, int type, int root);
/// In-place all-reduce of `count` elements.
int glm_mpi_allreduce(int comm, void *buffer, size_t count, int type, int op);
/// Starts an in-place all-reduce (MPI_Iallreduce, at most INT_MAX elements) and returns a request handle.
/// The buffer must not be touched until glm_mpi_test reports completion or glm_mpi_wait returns.
int glm_mpi_iallreduce(int comm, void *buffer, size_t count, int type, int op, int *request);
/// Sets *done to 1 (and frees the handle) when the request has completed; drives MPI's progress.
int glm_mpi_test(int request, int *done);
/// Waits for the request and frees its handle.
int glm_mpi_wait(int request);
/// In-place all-gather: rank i's `counts[i]` elements sit at `displs[i]` of `buffer` (elements, ints).
int glm_mpi_allgatherv(int comm, void *buffer, const int *counts, const int *displs, int type);
/// MPI_Abort: ends every process of the job with `code`.
void glm_mpi_abort(int comm, int code);
double glm_mpi_wtime(void);
/// Writes the text of an MPI error code into `out` (at most `capacity` bytes, NUL-terminated).
void glm_mpi_error_string(int code, char *out, size_t capacity);

#endif
