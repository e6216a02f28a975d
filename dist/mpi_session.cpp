#include "moegrad/dist/mpi_session.h"

#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <exception>

#include "moegrad/core/error.h"

namespace moegrad::dist {

namespace {
[[noreturn]] void abort_on_terminate() {
  const char* what = "std::terminate";
  try {
    if (std::exception_ptr e = std::current_exception()) std::rethrow_exception(e);
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
  }
  abort_job(what, 1);
}
}  // namespace

std::shared_ptr<MpiSession> MpiSession::acquire() {
  // Held by every MpiCommunicator and here until exit: MPI_Finalize runs once, after
  // static destruction of this pointer, never while a communicator is alive.
  static std::shared_ptr<MpiSession> session(new MpiSession());
  return session;
}

MpiSession::MpiSession() {
  int started = 0;
  MPI_Initialized(&started);
  if (started) return;
  int provided = 0;
  MOEGRAD_CHECK(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) == MPI_SUCCESS,
                "MPI_Init_thread failed");
  owns_ = true;
  // A failing MPI call ends the job (the default on MPI_COMM_WORLD; made explicit because
  // sub-communicators inherit it and the library could be built otherwise).
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
  std::set_terminate(abort_on_terminate);
}

MpiSession::~MpiSession() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (owns_ && !finalized) MPI_Finalize();
}

void abort_job(const char* why, int code) {
  std::fprintf(stderr, "moegrad: aborting every rank: %s\n", why);
  std::fflush(stderr);
  int started = 0, finalized = 0;
  MPI_Initialized(&started);
  MPI_Finalized(&finalized);
  if (started && !finalized) MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

}  // namespace moegrad::dist
