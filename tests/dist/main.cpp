// moegrad_dist_tests' main: the collectives run as one job of several ranks under mpirun
// (tests/dist/run_ranks.sh). A failed assertion on any rank ends the whole job at once
// (MPI_Abort through abort_job): the other ranks would otherwise wait forever in the next
// collective, and the test would end only at ctest's timeout.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <string>

#include "moegrad/dist/make_communicator.h"
#include "moegrad/dist/mpi_session.h"
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
      moegrad::dist::abort_job(why.c_str(), 1);
    }
    return true;
  }
};
CATCH_REGISTER_LISTENER(AbortOnFailure)

std::unique_ptr<moegrad::dist::Communicator>& world_slot() {
  static std::unique_ptr<moegrad::dist::Communicator> world;
  return world;
}

}  // namespace

namespace moegrad::dist {
Communicator& test_world() { return *world_slot(); }
}  // namespace moegrad::dist

int main(int argc, char** argv) {
  world_slot() = moegrad::dist::make_communicator();
  const int failed = Catch::Session().run(argc, argv);
  // Every rank leaves together; a rank whose run failed without an assertion (a bad
  // command line) must not leave the others behind either.
  if (failed != 0) moegrad::dist::abort_job("the test run failed", 1);
  world_slot()->barrier();
  world_slot().reset();
  return 0;
}
