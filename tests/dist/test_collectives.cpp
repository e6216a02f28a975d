// Every collective's values on every rank of the world, in float32, float64 and int64.
// Written for any world size; ctest runs 2 ranks. Each value encodes where it came from
// (sender, receiver, row, column), so a row delivered to the wrong place or in the wrong
// order fails the comparison with the culprit visible in the expansion.
#include <catch2/catch.hpp>

#include <numeric>
#include <vector>

#include "moegrad/core/creation.h"
#include "moegrad/core/elementwise.h"
#include "moegrad/core/views.h"
#include "moegrad/dist/communicator.h"
#include "tests/dist/world.h"

using namespace moegrad;
using dist::test_world;

namespace {

const DType kDtypes[] = {DType::f32, DType::f64, DType::i64};
constexpr int64_t kCols = 3;

// The row `row` that rank `from` sends to rank `to`: every value exact in float32.
std::vector<double> row_values(int from, int to, int64_t row) {
  std::vector<double> v;
  for (int64_t c = 0; c < kCols; ++c) v.push_back(1000.0 * from + 100.0 * to + 10.0 * row + c);
  return v;
}

// Rows rank `from` sends to each rank j: counts[j] rows of row_values(from, j, .).
Tensor outgoing(int from, const std::vector<int64_t>& counts, DType dtype) {
  std::vector<double> v;
  int64_t rows = 0;
  for (size_t to = 0; to < counts.size(); ++to) {
    for (int64_t r = 0; r < counts[to]; ++r) {
      const std::vector<double> row = row_values(from, static_cast<int>(to), r);
      v.insert(v.end(), row.begin(), row.end());
    }
    rows += counts[to];
  }
  return dist::on_test_device(from_vector(v, {rows, kCols}, dtype));
}

// What rank `to` must hold after the exchange: rank i's rows for it, in rank order.
std::vector<double> incoming(int to, const std::vector<int64_t>& counts_from) {
  std::vector<double> v;
  for (size_t from = 0; from < counts_from.size(); ++from) {
    for (int64_t r = 0; r < counts_from[from]; ++r) {
      const std::vector<double> row = row_values(static_cast<int>(from), to, r);
      v.insert(v.end(), row.begin(), row.end());
    }
  }
  return v;
}

}  // namespace

TEST_CASE("all_reduce sums over ranks, in place and returning", "[dist]") {
  dist::Communicator& w = test_world();
  const int n = w.size();
  for (DType dtype : kDtypes) {
    INFO(dtype);
    // rank r holds i + 10 r at index i; the sum is n i + 10 n (n - 1) / 2
    std::vector<double> mine, expected;
    for (int i = 0; i < 6; ++i) {
      mine.push_back(i + 10.0 * w.rank());
      expected.push_back(n * i + 10.0 * n * (n - 1) / 2);
    }
    Tensor t = dist::on_test_device(from_vector(mine, {2, 3}, dtype));
    Tensor sum = w.all_reduce(t);
    CHECK(sum.dtype() == dtype);
    CHECK(sum.shape() == Shape{2, 3});
    CHECK(sum.to_vector<double>() == expected);
    CHECK(t.to_vector<double>() == mine);
    w.all_reduce_(t);
    CHECK(t.to_vector<double>() == expected);
  }
}

TEST_CASE("all_to_all sends block j to rank j", "[dist]") {
  dist::Communicator& w = test_world();
  const std::vector<int64_t> two_each(static_cast<size_t>(w.size()), 2);
  for (DType dtype : kDtypes) {
    INFO(dtype);
    Tensor out = w.all_to_all(outgoing(w.rank(), two_each, dtype));
    CHECK(out.dtype() == dtype);
    CHECK(out.shape() == Shape{2 * w.size(), kCols});
    CHECK(out.to_vector<double>() == incoming(w.rank(), two_each));
  }
}

TEST_CASE("all_to_all_v with uneven and zero counts", "[dist]") {
  dist::Communicator& w = test_world();
  const int n = w.size();
  // rank i sends (i + j) % 3 rows to rank j: rank 0 sends itself none, and at 2 ranks
  // rank 1 sends rank 1 two rows and rank 0 one
  auto count = [](int from, int to) { return static_cast<int64_t>((from + to) % 3); };
  std::vector<int64_t> send, recv;
  for (int j = 0; j < n; ++j) {
    send.push_back(count(w.rank(), j));
    recv.push_back(count(j, w.rank()));
  }
  for (DType dtype : kDtypes) {
    INFO(dtype);
    Tensor out = w.all_to_all_v(outgoing(w.rank(), send, dtype), send, recv);
    CHECK(out.dtype() == dtype);
    CHECK(out.shape() == Shape{std::accumulate(recv.begin(), recv.end(), int64_t{0}), kCols});
    CHECK(out.to_vector<double>() == incoming(w.rank(), recv));
  }
  SECTION("nothing at all to send or receive") {
    const std::vector<int64_t> none(static_cast<size_t>(n), 0);
    Tensor out = w.all_to_all_v(zeros({0, kCols}, DType::f64, dist::test_device()), none, none);
    CHECK(out.shape() == Shape{0, kCols});
  }
}

TEST_CASE("all_gather and all_gather_v concatenate in rank order", "[dist]") {
  dist::Communicator& w = test_world();
  const int n = w.size();
  for (DType dtype : kDtypes) {
    INFO(dtype);
    // each rank sends "itself" two rows: row_values(rank, rank, .)
    std::vector<int64_t> mine(static_cast<size_t>(n), 0);
    mine[static_cast<size_t>(w.rank())] = 2;
    Tensor gathered = w.all_gather(outgoing(w.rank(), mine, dtype));
    std::vector<double> expected;
    for (int i = 0; i < n; ++i) {
      for (int64_t r = 0; r < 2; ++r) {
        const std::vector<double> row = row_values(i, i, r);
        expected.insert(expected.end(), row.begin(), row.end());
      }
    }
    CHECK(gathered.shape() == Shape{2 * n, kCols});
    CHECK(gathered.to_vector<double>() == expected);

    // rank i contributes i % 2 rows: rank 0 none
    std::vector<int64_t> counts;
    for (int i = 0; i < n; ++i) counts.push_back(i % 2);
    std::vector<int64_t> own(static_cast<size_t>(n), 0);
    own[static_cast<size_t>(w.rank())] = counts[static_cast<size_t>(w.rank())];
    Tensor gathered_v = w.all_gather_v(outgoing(w.rank(), own, dtype), counts);
    std::vector<double> expected_v;
    for (int i = 0; i < n; ++i) {
      for (int64_t r = 0; r < counts[static_cast<size_t>(i)]; ++r) {
        const std::vector<double> row = row_values(i, i, r);
        expected_v.insert(expected_v.end(), row.begin(), row.end());
      }
    }
    CHECK(gathered_v.dtype() == dtype);
    CHECK(gathered_v.size(0) == n / 2);
    CHECK(gathered_v.to_vector<double>() == expected_v);
  }
}

TEST_CASE("broadcast_ gives every rank the root's values", "[dist]") {
  dist::Communicator& w = test_world();
  const int root = w.size() - 1;
  for (DType dtype : kDtypes) {
    INFO(dtype);
    Tensor t = dist::on_test_device(from_vector(row_values(w.rank(), 0, 0), {kCols}, dtype));
    w.broadcast_(t, root);
    CHECK(t.to_vector<double>() == row_values(root, 0, 0));
  }
  w.barrier();
}

TEST_CASE("split: groups by color, ranked by key", "[dist]") {
  dist::Communicator& w = test_world();
  const int n = w.size();
  SECTION("one group, keys reversing the order") {
    std::unique_ptr<dist::Communicator> reversed = w.split(/*color=*/0, /*key=*/-w.rank());
    CHECK(reversed->size() == n);
    CHECK(reversed->rank() == n - 1 - w.rank());
    // gathered in the sub-group's rank order: world ranks n-1 .. 0
    Tensor order = reversed->all_gather(dist::on_test_device(from_vector(std::vector<int64_t>{w.rank()}, {1}, DType::i64)));
    std::vector<int64_t> expected;
    for (int i = n - 1; i >= 0; --i) expected.push_back(i);
    CHECK(order.to_vector<int64_t>() == expected);
  }
  SECTION("even and odd ranks apart") {
    std::unique_ptr<dist::Communicator> parity = w.split(/*color=*/w.rank() % 2, /*key=*/w.rank());
    int members = 0, rank_sum = 0, below = 0;
    for (int i = w.rank() % 2; i < n; i += 2) {
      ++members;
      rank_sum += i;
      below += i < w.rank();
    }
    CHECK(parity->size() == members);
    CHECK(parity->rank() == below);
    Tensor sum = parity->all_reduce(dist::on_test_device(from_vector(std::vector<double>{double(w.rank())}, {1}, DType::f64)));
    CHECK(sum.item<double>() == rank_sum);
    // and the world is still whole beside it
    CHECK(w.all_reduce(ones({1}, DType::f64, dist::test_device())).item<double>() == n);
  }
}

TEST_CASE("bad arguments throw on the rank that passed them, before any exchange", "[dist]") {
  dist::Communicator& w = test_world();
  const std::vector<int64_t> too_few(static_cast<size_t>(w.size()) + 1, 0);
  CHECK_THROWS_WITH(w.all_to_all_v(zeros({0, 2}, DType::f32, dist::test_device()), too_few, too_few),
                    Catch::Contains("expected one per rank"));
  std::vector<int64_t> wrong_sum(static_cast<size_t>(w.size()), 0);
  CHECK_THROWS_WITH(w.all_to_all_v(zeros({1, 2}, DType::f32, dist::test_device()), wrong_sum, wrong_sum), Catch::Contains("sum to 0 rows, x has 1"));
  CHECK_THROWS_WITH(w.all_reduce_(core::transpose(zeros({2, 3}, DType::f32, dist::test_device()), 0, 1)), Catch::Contains("contiguous"));
  CHECK_THROWS_WITH(w.broadcast_(zeros({1}, DType::f32, dist::test_device()), w.size()), Catch::Contains("is not a rank"));
}

// Run only by ctest dist_failing_rank_aborts_the_job: the last rank fails an assertion while
// the others wait in a barrier; the job must end at once with a non-zero exit.
TEST_CASE("a failing rank ends the job", "[.][deliberate_failure]") {
  dist::Communicator& w = test_world();
  if (w.rank() == w.size() - 1) CHECK(w.rank() == -1);
  w.barrier();
}
