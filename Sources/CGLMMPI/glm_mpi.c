// glm_mpi.c — see glm_mpi.h. Communicators live in a small table; handle 0 is MPI_COMM_WORLD.
#include "glm_mpi.h"
#include <mpi.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COMMS 64
static MPI_Comm comms[MAX_COMMS];
static int comm_count = 0;

int glm_mpi_launched(void) {
    const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", NULL};
    for (int i = 0; vars[i]; i++) if (getenv(vars[i])) return 1;
    return 0;
}

int glm_mpi_init(void) {
    int provided = 0, rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    if (rc != MPI_SUCCESS) return rc;
    comms[0] = MPI_COMM_WORLD;
    comm_count = 1;
    // A failing call (e.g. a peer died) returns its code to Swift, which reports it and aborts the job,
    // instead of MPI printing its own message and exiting from inside a collective.
    return MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
}

int glm_mpi_finalize(void) { return MPI_Finalize(); }
int glm_mpi_world(void) { return 0; }

static MPI_Comm comm_of(int h) { return (h >= 0 && h < comm_count) ? comms[h] : MPI_COMM_NULL; }

int glm_mpi_rank(int comm, int *rank) { return MPI_Comm_rank(comm_of(comm), rank); }
int glm_mpi_size(int comm, int *size) { return MPI_Comm_size(comm_of(comm), size); }

int glm_mpi_split(int comm, int color, int key, int *out) {
    if (comm_count >= MAX_COMMS) return MPI_ERR_OTHER;
    MPI_Comm c;
    int rc = MPI_Comm_split(comm_of(comm), color, key, &c);
    if (rc != MPI_SUCCESS) return rc;
    MPI_Comm_set_errhandler(c, MPI_ERRORS_RETURN);
    comms[comm_count] = c;
    *out = comm_count++;
    return MPI_SUCCESS;
}

int glm_mpi_barrier(int comm) { return MPI_Barrier(comm_of(comm)); }

static MPI_Datatype type_of(int t, size_t *size) {
    switch (t) {
    case GLM_MPI_FLOAT: *size = 4; return MPI_FLOAT;
    case GLM_MPI_DOUBLE: *size = 8; return MPI_DOUBLE;
    case GLM_MPI_INT32: *size = 4; return MPI_INT32_T;
    case GLM_MPI_INT64: *size = 8; return MPI_INT64_T;
    default: *size = 1; return MPI_BYTE;
    }
}

static MPI_Op op_of(int op) { return op == GLM_MPI_MAX ? MPI_MAX : op == GLM_MPI_MIN ? MPI_MIN : MPI_SUM; }

// MPI counts are ints: buffers larger than this go in pieces.
static const size_t CHUNK = (size_t)1 << 30;

int glm_mpi_bcast(int comm, void *buffer, size_t count, int type, int root) {
    size_t es;
    MPI_Datatype dt = type_of(type, &es);
    for (size_t i = 0; i < count; i += CHUNK) {
        size_t n = count - i < CHUNK ? count - i : CHUNK;
        int rc = MPI_Bcast((char *)buffer + i * es, (int)n, dt, root, comm_of(comm));
        if (rc != MPI_SUCCESS) return rc;
    }
    return MPI_SUCCESS;
}

int glm_mpi_allreduce(int comm, void *buffer, size_t count, int type, int op) {
    size_t es;
    MPI_Datatype dt = type_of(type, &es);
    for (size_t i = 0; i < count; i += CHUNK) {
        size_t n = count - i < CHUNK ? count - i : CHUNK;
        int rc = MPI_Allreduce(MPI_IN_PLACE, (char *)buffer + i * es, (int)n, dt, op_of(op), comm_of(comm));
        if (rc != MPI_SUCCESS) return rc;
    }
    return MPI_SUCCESS;
}

// Requests of non-blocking collectives: a slot table (handles are indices), reused once completed.
#define MAX_REQUESTS 4096
static MPI_Request requests[MAX_REQUESTS];
static int request_used[MAX_REQUESTS];

int glm_mpi_iallreduce(int comm, void *buffer, size_t count, int type, int op, int *request) {
    if (count > (size_t)INT32_MAX) return MPI_ERR_COUNT;
    int slot = 0;
    while (slot < MAX_REQUESTS && request_used[slot]) slot++;
    if (slot == MAX_REQUESTS) return MPI_ERR_OTHER;
    size_t es;
    MPI_Datatype dt = type_of(type, &es);
    int rc = MPI_Iallreduce(MPI_IN_PLACE, buffer, (int)count, dt, op_of(op), comm_of(comm), &requests[slot]);
    if (rc != MPI_SUCCESS) return rc;
    request_used[slot] = 1;
    *request = slot;
    return MPI_SUCCESS;
}

int glm_mpi_test(int request, int *done) {
    if (request < 0 || request >= MAX_REQUESTS || !request_used[request]) return MPI_ERR_REQUEST;
    int rc = MPI_Test(&requests[request], done, MPI_STATUS_IGNORE);
    if (rc == MPI_SUCCESS && *done) request_used[request] = 0;
    return rc;
}

int glm_mpi_wait(int request) {
    if (request < 0 || request >= MAX_REQUESTS || !request_used[request]) return MPI_ERR_REQUEST;
    int rc = MPI_Wait(&requests[request], MPI_STATUS_IGNORE);
    request_used[request] = 0;
    return rc;
}

int glm_mpi_allgatherv(int comm, void *buffer, const int *counts, const int *displs, int type) {
    size_t es;
    MPI_Datatype dt = type_of(type, &es);
    return MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buffer, counts, displs, dt, comm_of(comm));
}

void glm_mpi_abort(int comm, int code) { MPI_Abort(comm_of(comm), code); }
double glm_mpi_wtime(void) { return MPI_Wtime(); }

void glm_mpi_error_string(int code, char *out, size_t capacity) {
    if (capacity == 0) return;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) len = 0;
    text[len < MPI_MAX_ERROR_STRING ? len : MPI_MAX_ERROR_STRING - 1] = 0;
    strncpy(out, len ? text : "unknown MPI error", capacity - 1);
    out[capacity - 1] = 0;
}
