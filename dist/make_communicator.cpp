#include "moegrad/dist/make_communicator.h"

#include <cstdio>
#include <cstdlib>

#include "moegrad/dist/serial_communicator.h"
#if MOEGRAD_WITH_MPI
#include "moegrad/dist/mpi_communicator.h"
#include "moegrad/dist/mpi_session.h"
#endif

namespace moegrad::dist {

namespace {
// The job's size, which OpenMPI's mpirun sets in each rank's environment.
const char* mpirun_world_size() { return std::getenv("OMPI_COMM_WORLD_SIZE"); }
}  // namespace

bool launched_by_mpirun() { return mpirun_world_size() != nullptr; }

void end_job_if_failed(int code) {
  if (code != 0 && launched_by_mpirun() && std::atoi(mpirun_world_size()) > 1)
    abort_every_rank("this rank failed (its message is above)", code);
}

void abort_every_rank(const char* why, int code) {
#if MOEGRAD_WITH_MPI
  abort_job(why, code);
#else
  std::fprintf(stderr, "moegrad: stopping: %s\n", why);
  std::fflush(stderr);
  std::_Exit(code);
#endif
}

bool built_with_mpi() { return MOEGRAD_WITH_MPI != 0; }

std::unique_ptr<Communicator> make_communicator() {
#if MOEGRAD_WITH_MPI
  if (launched_by_mpirun()) return std::make_unique<MpiCommunicator>();
#else
  // Without MPI every rank would silently train alone on the whole batch.
  MOEGRAD_CHECK(!launched_by_mpirun(),
                "started by mpirun, but this moegrad was built without MPI (install libopenmpi-dev and rebuild)");
#endif
  return std::make_unique<SerialCommunicator>();
}

}  // namespace moegrad::dist
