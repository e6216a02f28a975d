#pragma once
// The communicator every collective test runs on: MPI_COMM_WORLD under mpirun, or with
// --nccl a NcclCommunicator over it.
#include "moegrad/dist/communicator.h"

namespace moegrad::dist {
Communicator& test_world();
// Where the tests' tensors live: cpu, or the rank's GPU under --nccl.
Device test_device();
// `t` moved to test_device().
Tensor on_test_device(const Tensor& t);
}  // namespace moegrad::dist
