// The system MPI (Open MPI from Debian: libopenmpi-dev). Swift never calls it directly: MPI_COMM_WORLD,
// MPI_FLOAT, MPI_SUM and friends are macros over implementation globals, so CGLMMPI wraps what is needed
// in plain functions. This module only supplies the header search path and the link line (pkg-config ompi-c).
#include <mpi.h>
