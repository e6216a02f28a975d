#pragma once
// The process's one MPI_Init and MPI_Finalize. MPI allows each only once per process, so
// this is the one piece of process-wide state in dist/: the first MpiCommunicator starts
// MPI, MPI_Finalize runs at exit. While MPI runs, an exception nobody catches calls
// MPI_Abort instead of std::abort, so a rank that fails ends the whole job rather than
// leaving the others waiting in a collective forever.
#include <memory>

namespace moegrad::dist {

class MpiSession {
 public:
  // Starts MPI unless it is already running (MPI_Init_thread, MPI_THREAD_FUNNELED:
  // only the thread that called it talks to MPI).
  static std::shared_ptr<MpiSession> acquire();
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

 private:
  MpiSession();
  bool owns_ = false;  // false when someone else called MPI_Init: they finalize
};

// MPI_Abort(MPI_COMM_WORLD, code) after printing `why` to stderr: every rank ends.
[[noreturn]] void abort_job(const char* why, int code);

}  // namespace moegrad::dist
