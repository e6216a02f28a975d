#pragma once
// The communicator a process should use: MPI_COMM_WORLD when it was started by mpirun and
// moegrad was built with MPI, the serial one otherwise.
#include <memory>

#include "moegrad/dist/communicator.h"

namespace moegrad::dist {

std::unique_ptr<Communicator> make_communicator();

// True when mpirun started this process (OpenMPI sets OMPI_COMM_WORLD_SIZE in each rank).
bool launched_by_mpirun();

// A rank of an mpirun job of several ranks that ends with `code` (non-zero) on its own
// ends every rank, with that code: the others may be waiting for it in a collective.
// Nothing outside such a job.
void end_job_if_failed(int code);

// Whether this build has MpiCommunicator (MOEGRAD_MPI).
bool built_with_mpi();

// Whether this build has NcclCommunicator (MOEGRAD_NCCL).
bool built_with_nccl();
// A NcclCommunicator on CUDA device `device`, bootstrapped over make_communicator()'s group.
// Throws when the build has no NCCL.
std::unique_ptr<Communicator> make_nccl_communicator(int device);

}  // namespace moegrad::dist
