#pragma once
// The communicator every collective test runs on: MPI_COMM_WORLD under mpirun.
#include "moegrad/dist/communicator.h"

namespace moegrad::dist {
Communicator& test_world();
}  // namespace moegrad::dist
