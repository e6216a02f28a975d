#include "moegrad/dist/mpi_communicator.h"

#include <mpi.h>

#include <climits>
#include <vector>

#include "moegrad/core/creation.h"
#include "moegrad/dist/mpi_session.h"

namespace moegrad::dist {

struct MpiCommunicator::Handle {
  MPI_Comm comm = MPI_COMM_NULL;
};

namespace {

MPI_Datatype mpi_type(DType t) {
  switch (t) {
    case DType::f32: return MPI_FLOAT;
    case DType::f64: return MPI_DOUBLE;
    case DType::i64: return MPI_INT64_T;
    default: break;
  }
  throw Error(str_cat("MPI: no MPI type for ", t));
}

void check_host(const char* op, const Tensor& t) {
  MOEGRAD_CHECK(t.device() == Device::cpu(), op, ": the MPI communicator exchanges cpu tensors, got one on ",
                t.device());
}

// OpenMPI 4's counts and displacements are int: refuse, rather than wrap, a larger exchange.
int as_mpi_count(const char* op, int64_t elements) {
  MOEGRAD_CHECK(elements <= INT_MAX, op, ": ", elements, " elements exceed MPI's int count (", INT_MAX, ")");
  return static_cast<int>(elements);
}

// Per-rank element counts and offsets from per-rank row counts.
struct Layout {
  std::vector<int> counts, displs;
};
Layout layout(const char* op, std::span<const int64_t> rows, int64_t row_elements) {
  Layout l;
  int64_t offset = 0;
  for (int64_t r : rows) {
    l.counts.push_back(as_mpi_count(op, r * row_elements));
    l.displs.push_back(as_mpi_count(op, offset));
    offset += r * row_elements;
  }
  as_mpi_count(op, offset);
  return l;
}

}  // namespace

MpiCommunicator::MpiCommunicator() : session_(MpiSession::acquire()), comm_(std::make_unique<Handle>()) {
  comm_->comm = MPI_COMM_WORLD;
  MPI_Comm_rank(comm_->comm, &rank_);
  MPI_Comm_size(comm_->comm, &size_);
}

MpiCommunicator::MpiCommunicator(std::shared_ptr<MpiSession> session, std::unique_ptr<Handle> comm)
    : session_(std::move(session)), comm_(std::move(comm)) {
  MPI_Comm_rank(comm_->comm, &rank_);
  MPI_Comm_size(comm_->comm, &size_);
}

MpiCommunicator::~MpiCommunicator() {
  if (comm_->comm != MPI_COMM_WORLD) MPI_Comm_free(&comm_->comm);
}

void MpiCommunicator::all_reduce_(const Tensor& t) {
  check_exchangeable("all_reduce_", t);
  check_host("all_reduce_", t);
  MPI_Allreduce(MPI_IN_PLACE, t.raw_data(), as_mpi_count("all_reduce_", t.numel()), mpi_type(t.dtype()),
                MPI_SUM, comm_->comm);
}

Tensor MpiCommunicator::all_to_all_v(const Tensor& x, std::span<const int64_t> send_counts,
                                     std::span<const int64_t> recv_counts) {
  check_all_to_all_v(x, send_counts, recv_counts, size_);
  check_host("all_to_all_v", x);
  Tensor out = empty(rows_shape(x, recv_counts), x.dtype(), x.backend());
  const Layout send = layout("all_to_all_v", send_counts, row_numel(x));
  const Layout recv = layout("all_to_all_v", recv_counts, row_numel(x));
  MPI_Alltoallv(x.raw_data(), send.counts.data(), send.displs.data(), mpi_type(x.dtype()), out.raw_data(),
                recv.counts.data(), recv.displs.data(), mpi_type(x.dtype()), comm_->comm);
  return out;
}

Tensor MpiCommunicator::all_gather_v(const Tensor& x, std::span<const int64_t> counts) {
  check_all_gather_v(x, counts, rank_, size_);
  check_host("all_gather_v", x);
  Tensor out = empty(rows_shape(x, counts), x.dtype(), x.backend());
  const Layout recv = layout("all_gather_v", counts, row_numel(x));
  MPI_Allgatherv(x.raw_data(), recv.counts[static_cast<size_t>(rank_)], mpi_type(x.dtype()), out.raw_data(),
                 recv.counts.data(), recv.displs.data(), mpi_type(x.dtype()), comm_->comm);
  return out;
}

void MpiCommunicator::broadcast_(const Tensor& t, int root) {
  check_exchangeable("broadcast_", t);
  check_host("broadcast_", t);
  MOEGRAD_CHECK(root >= 0 && root < size_, "broadcast_: root ", root, " is not a rank of a group of ", size_);
  MPI_Bcast(t.raw_data(), as_mpi_count("broadcast_", t.numel()), mpi_type(t.dtype()), root, comm_->comm);
}

void MpiCommunicator::barrier() { MPI_Barrier(comm_->comm); }

std::unique_ptr<Communicator> MpiCommunicator::split(int color, int key) {
  MOEGRAD_CHECK(color >= 0, "split: color must be >= 0, got ", color);
  auto sub = std::make_unique<Handle>();
  MPI_Comm_split(comm_->comm, color, key, &sub->comm);
  return std::unique_ptr<Communicator>(new MpiCommunicator(session_, std::move(sub)));
}

int MpiCommunicator::fortran_handle() const { return static_cast<int>(MPI_Comm_c2f(comm_->comm)); }

}  // namespace moegrad::dist
