#pragma once
// MpiCommunicator: host (cpu) tensors exchanged by OpenMPI. Built when CMake finds MPI
// (MOEGRAD_MPI); make_communicator() returns one when the process was started by mpirun.
#include <memory>

#include "moegrad/dist/communicator.h"

namespace moegrad::dist {

class MpiSession;

class MpiCommunicator final : public Communicator {
 public:
  // MPI_COMM_WORLD, starting MPI if it is not running.
  MpiCommunicator();
  ~MpiCommunicator() override;
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void all_reduce_(const Tensor& t) override;
  Tensor all_to_all_v(const Tensor& x, std::span<const int64_t> send_counts,
                      std::span<const int64_t> recv_counts) override;
  Tensor all_gather_v(const Tensor& x, std::span<const int64_t> counts) override;
  void broadcast_(const Tensor& t, int root) override;
  void barrier() override;
  std::unique_ptr<Communicator> split(int color, int key) override;

  // The MPI_Comm handle as an integer (MPI_Comm_c2f), for NCCL's bootstrap, without
  // making every includer of this header include mpi.h.
  int fortran_handle() const;

 private:
  struct Handle;  // holds the MPI_Comm
  MpiCommunicator(std::shared_ptr<MpiSession> session, std::unique_ptr<Handle> comm);
  std::shared_ptr<MpiSession> session_;  // declared first: destroyed after the handle
  std::unique_ptr<Handle> comm_;
  int rank_ = 0;
  int size_ = 1;
};

}  // namespace moegrad::dist
