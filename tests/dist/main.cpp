// moegrad_dist_tests' main: the collectives run as one job of several ranks under mpirun
// (tests/dist/run_ranks.sh). A failed assertion on any rank ends the whole job at once
// (MPI_Abort through abort_job): the other ranks would otherwise wait forever in the next
// collective, and the test would end only at ctest's timeout.
//
// With --nccl the same tests run on device tensors through a NcclCommunicator (rank r on
// GPU r mod the device count); without NCCL or a device every rank exits 77 (Not Run).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "moegrad/core/cuda/cuda_backend.h"
#include "moegrad/core/elementwise.h"

#include "moegrad/dist/make_communicator.h"
#if MOEGRAD_TEST_NCCL
#include "moegrad/dist/nccl_communicator.h"
#endif
#include "tests/dist/world.h"

namespace {

struct AbortOnFailure : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;
  bool assertionEnded(const Catch::AssertionStats& stats) override {
    const Catch::AssertionResult& r = stats.assertionResult;
    if (!r.isOk()) {
      const std::string why = moegrad::str_cat(r.getSourceInfo().file, ":", r.getSourceInfo().line, ": rank ",
                                               moegrad::dist::test_world().rank(), ": ", r.getExpressionInMacro(),
                                               " with expansion ", r.getExpandedExpression(), " ",
                                               r.hasMessage() ? r.getMessage() : std::string());
      moegrad::dist::abort_every_rank(why.c_str(), 1);
    }
    return true;
  }
};
CATCH_REGISTER_LISTENER(AbortOnFailure)

std::unique_ptr<moegrad::dist::Communicator>& world_slot() {
  static std::unique_ptr<moegrad::dist::Communicator> world;
  return world;
}

moegrad::Device& device_slot() {
  static moegrad::Device device = moegrad::Device::cpu();
  return device;
}

}  // namespace

namespace moegrad::dist {
Communicator& test_world() { return *world_slot(); }
Device test_device() { return device_slot(); }
Tensor on_test_device(const Tensor& t) { return core::to(t, device_slot()); }
}  // namespace moegrad::dist

int main(int argc, char** argv) {
  std::vector<char*> args(argv, argv + argc);
  const bool nccl = args.size() > 1 && std::strcmp(args[1], "--nccl") == 0;
  if (nccl) {
    args.erase(args.begin() + 1);
#if MOEGRAD_TEST_NCCL
    if (!moegrad::cuda_device_available()) {
      std::printf("NCCL collectives not run: %s\n", moegrad::cuda_unavailable_reason().c_str());
      return 77;
    }
    std::unique_ptr<moegrad::dist::Communicator> host = moegrad::dist::make_communicator();
    const int device = host->rank() % moegrad::cuda_device_count();
    host.reset();
    world_slot() = moegrad::dist::make_nccl_communicator(device);
    device_slot() = moegrad::Device::cuda(device);
    // What scripts/gpu-check.sh looks for: the tests ran on a device, not on the host.
    std::printf("moegrad_dist_tests: NCCL on CUDA device %d, rank %d of %d\n", device, world_slot()->rank(),
                world_slot()->size());
#else
    std::printf("NCCL collectives not run: built without NCCL (MOEGRAD_NCCL=OFF)\n");
    return 77;
#endif
  } else {
    world_slot() = moegrad::dist::make_communicator();
  }
  const int failed = Catch::Session().run(static_cast<int>(args.size()), args.data());
  // Every rank leaves together; a rank whose run failed without an assertion (a bad
  // command line) must not leave the others behind either.
  if (failed != 0) moegrad::dist::abort_every_rank("the test run failed", 1);
  world_slot()->barrier();
  world_slot().reset();
  return 0;
}
