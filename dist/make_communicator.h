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
// Ends every rank of the job (MPI_Abort) with `code` after printing `why`; without MPI, this
// process.
[[noreturn]] void abort_every_rank(const char* why, int code);

// Whether this build has MpiCommunicator (MOEGRAD_MPI).
bool built_with_mpi();

}  // namespace moegrad::dist
