#include "moegrad/dist/nccl_communicator.h"

#include <cuda_runtime.h>
#include <nccl.h>

#include <cstring>
#include <vector>

#include "moegrad/core/creation.h"
#include "moegrad/dist/make_communicator.h"

namespace moegrad::dist {

struct NcclCommunicator::Handles {
  ncclComm_t comm = nullptr;
  cudaStream_t stream = nullptr;
};

namespace {

void check_cuda(cudaError_t e, const char* what) {
  MOEGRAD_CHECK(e == cudaSuccess, "NCCL communicator: ", what, ": ", cudaGetErrorString(e));
}
void check_nccl(ncclResult_t r, const char* what) {
  MOEGRAD_CHECK(r == ncclSuccess, "NCCL communicator: ", what, ": ", ncclGetErrorString(r));
}

ncclDataType_t nccl_type(DType t) {
  switch (t) {
    case DType::f32: return ncclFloat32;
    case DType::f64: return ncclFloat64;
    case DType::i64: return ncclInt64;
    default: break;
  }
  throw Error(str_cat("NCCL: no NCCL type for ", t));
}

char* bytes(const Tensor& t) { return static_cast<char*>(t.raw_data()); }

// The backend's kernels run on a stream private to core/cuda: a device-wide synchronise
// before each exchange is what orders the exchange after the kernels that wrote its input,
// without dist/ reaching into core's CUDA internals. The stream synchronise after it makes
// results ready before the caller's next kernel, as the MPI communicator's are.
void before(int device) {
  check_cuda(cudaSetDevice(device), "cudaSetDevice");
  check_cuda(cudaDeviceSynchronize(), "synchronise before an exchange");
}

}  // namespace

NcclCommunicator::NcclCommunicator(std::unique_ptr<Communicator> host, int device)
    : host_(std::move(host)), device_(device), nccl_(std::make_unique<Handles>()) {
  MOEGRAD_CHECK(host_ != nullptr, "NcclCommunicator: no host communicator to bootstrap over");
  // ncclUniqueId is 128 opaque bytes; they travel as int64 words over the host communicator.
  static_assert(sizeof(ncclUniqueId) % sizeof(int64_t) == 0);
  Tensor id_words = zeros({static_cast<int64_t>(sizeof(ncclUniqueId) / sizeof(int64_t))}, DType::i64);
  ncclUniqueId id;
  if (host_->rank() == 0) {
    check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
    std::memcpy(id_words.raw_data(), &id, sizeof id);
  }
  host_->broadcast_(id_words, /*root=*/0);
  std::memcpy(&id, id_words.raw_data(), sizeof id);
  check_cuda(cudaSetDevice(device_), "cudaSetDevice");
  check_cuda(cudaStreamCreateWithFlags(&nccl_->stream, cudaStreamNonBlocking), "cudaStreamCreate");
  check_nccl(ncclCommInitRank(&nccl_->comm, host_->size(), id, host_->rank()), "ncclCommInitRank");
}

NcclCommunicator::~NcclCommunicator() {
  if (nccl_->comm) ncclCommDestroy(nccl_->comm);
  if (nccl_->stream) cudaStreamDestroy(nccl_->stream);
}

void NcclCommunicator::check_on_device(const char* op, const Tensor& t) const {
  check_exchangeable(op, t);
  MOEGRAD_CHECK(t.device() == Device::cuda(device_), op, ": this NCCL communicator exchanges tensors on ",
                Device::cuda(device_), ", got one on ", t.device());
}

void NcclCommunicator::all_reduce_(const Tensor& t) {
  check_on_device("all_reduce_", t);
  before(device_);
  check_nccl(ncclAllReduce(t.raw_data(), t.raw_data(), static_cast<size_t>(t.numel()), nccl_type(t.dtype()),
                           ncclSum, nccl_->comm, nccl_->stream),
             "ncclAllReduce");
  check_cuda(cudaStreamSynchronize(nccl_->stream), "all_reduce_");
}

Tensor NcclCommunicator::all_to_all_v(const Tensor& x, std::span<const int64_t> send_counts,
                                      std::span<const int64_t> recv_counts) {
  check_all_to_all_v(x, send_counts, recv_counts, size());
  check_on_device("all_to_all_v", x);
  Tensor out = empty(rows_shape(x, recv_counts), x.dtype(), x.backend());
  const size_t row_bytes = static_cast<size_t>(row_numel(x)) * dtype_size(x.dtype());
  const size_t row_elements = static_cast<size_t>(row_numel(x));
  before(device_);
  // NCCL has no all-to-all-v: one send and one receive per peer, grouped so they progress
  // together; peers with nothing to exchange are left out of the group.
  check_nccl(ncclGroupStart(), "ncclGroupStart");
  size_t send_offset = 0, recv_offset = 0;
  for (int peer = 0; peer < size(); ++peer) {
    const auto send_rows = static_cast<size_t>(send_counts[static_cast<size_t>(peer)]);
    const auto recv_rows = static_cast<size_t>(recv_counts[static_cast<size_t>(peer)]);
    if (send_rows > 0) {
      check_nccl(ncclSend(bytes(x) + send_offset * row_bytes, send_rows * row_elements, nccl_type(x.dtype()), peer,
                          nccl_->comm, nccl_->stream),
                 "ncclSend");
    }
    if (recv_rows > 0) {
      check_nccl(ncclRecv(bytes(out) + recv_offset * row_bytes, recv_rows * row_elements, nccl_type(x.dtype()),
                          peer, nccl_->comm, nccl_->stream),
                 "ncclRecv");
    }
    send_offset += send_rows;
    recv_offset += recv_rows;
  }
  check_nccl(ncclGroupEnd(), "ncclGroupEnd");
  check_cuda(cudaStreamSynchronize(nccl_->stream), "all_to_all_v");
  return out;
}

Tensor NcclCommunicator::all_gather_v(const Tensor& x, std::span<const int64_t> counts) {
  check_all_gather_v(x, counts, rank(), size());
  check_on_device("all_gather_v", x);
  Tensor out = empty(rows_shape(x, counts), x.dtype(), x.backend());
  const size_t row_bytes = static_cast<size_t>(row_numel(x)) * dtype_size(x.dtype());
  const size_t row_elements = static_cast<size_t>(row_numel(x));
  before(device_);
  // One broadcast per rank with rows to give, into that rank's place in the result; every
  // rank skips the same empty ones, since counts are the same everywhere.
  check_nccl(ncclGroupStart(), "ncclGroupStart");
  size_t offset = 0;
  for (int root = 0; root < size(); ++root) {
    const auto rows = static_cast<size_t>(counts[static_cast<size_t>(root)]);
    if (rows > 0) {
      check_nccl(ncclBroadcast(x.raw_data(), bytes(out) + offset * row_bytes, rows * row_elements,
                               nccl_type(x.dtype()), root, nccl_->comm, nccl_->stream),
                 "ncclBroadcast");
    }
    offset += rows;
  }
  check_nccl(ncclGroupEnd(), "ncclGroupEnd");
  check_cuda(cudaStreamSynchronize(nccl_->stream), "all_gather_v");
  return out;
}

void NcclCommunicator::broadcast_(const Tensor& t, int root) {
  check_on_device("broadcast_", t);
  MOEGRAD_CHECK(root >= 0 && root < size(), "broadcast_: root ", root, " is not a rank of a group of ", size());
  before(device_);
  check_nccl(ncclBroadcast(t.raw_data(), t.raw_data(), static_cast<size_t>(t.numel()), nccl_type(t.dtype()), root,
                           nccl_->comm, nccl_->stream),
             "ncclBroadcast");
  check_cuda(cudaStreamSynchronize(nccl_->stream), "broadcast_");
}

void NcclCommunicator::barrier() {
  before(device_);
  host_->barrier();
}

std::unique_ptr<Communicator> NcclCommunicator::split(int color, int key) {
  return std::make_unique<NcclCommunicator>(host_->split(color, key), device_);
}

std::unique_ptr<Communicator> make_nccl_communicator(int device) {
  return std::make_unique<NcclCommunicator>(make_communicator(), device);
}

}  // namespace moegrad::dist
