#pragma once
// NcclCommunicator: tensors on one CUDA device exchanged by NCCL, device to device, never
// staged through the host. Its own library, moegrad_nccl, built when moegrad is built with
// nvcc (MOEGRAD_CUDA) and NCCL is found beside the toolkit (MOEGRAD_NCCL).
//
// Bootstrap, as llm.c does: rank 0 of a host communicator (MPI under mpirun, the serial one
// for a single rank) makes the ncclUniqueId, broadcasts it over that communicator, and every
// rank joins the NCCL group with its own rank. The host communicator stays for barrier and
// split.
//
// Status: compiled and linked on the build machine, which has no GPU; it has not yet run
// on a device (the collective tests in tests/dist/ take a device tensor path only there).
#include <memory>

#include "moegrad/dist/communicator.h"

namespace moegrad::dist {

class NcclCommunicator final : public Communicator {
 public:
  // Collective over `host`: every rank of it calls this with its own device index.
  NcclCommunicator(std::unique_ptr<Communicator> host, int device);
  ~NcclCommunicator() override;
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const override { return host_->rank(); }
  int size() const override { return host_->size(); }
  void all_reduce_(const Tensor& t) override;
  Tensor all_to_all_v(const Tensor& x, std::span<const int64_t> send_counts,
                      std::span<const int64_t> recv_counts) override;
  Tensor all_gather_v(const Tensor& x, std::span<const int64_t> counts) override;
  void broadcast_(const Tensor& t, int root) override;
  void barrier() override;
  std::unique_ptr<Communicator> split(int color, int key) override;

 private:
  struct Handles;  // ncclComm_t and the stream its operations run on
  void check_on_device(const char* op, const Tensor& t) const;
  std::unique_ptr<Communicator> host_;
  int device_;
  std::unique_ptr<Handles> nccl_;
};

// A NcclCommunicator on CUDA device `device`, bootstrapped over make_communicator()'s group.
std::unique_ptr<Communicator> make_nccl_communicator(int device);

}  // namespace moegrad::dist
