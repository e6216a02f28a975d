// The serial communicator: a group of one, where every collective is the identity (a copy
// for the exchanges that return), and the factory's choice outside mpirun.
#include <catch2/catch.hpp>

#include "moegrad/core/creation.h"
#include "moegrad/core/views.h"
#include "moegrad/dist/make_communicator.h"
#include "moegrad/dist/serial_communicator.h"

using namespace moegrad;

TEST_CASE("serial communicator: every collective is the identity", "[dist]") {
  dist::SerialCommunicator c;
  CHECK(c.rank() == 0);
  CHECK(c.size() == 1);
  for (DType dtype : {DType::f32, DType::f64, DType::i64}) {
    INFO(dtype);
    const std::vector<double> values{1, -2, 3, 4.5, 5, 6};
    Tensor x = from_vector(values, {3, 2}, dtype);
    Tensor sum = c.all_reduce(x);
    CHECK(sum.storage() != x.storage());
    CHECK(sum.to_vector<double>() == x.to_vector<double>());
    c.all_reduce_(x);
    c.broadcast_(x, /*root=*/0);
    CHECK(x.to_vector<double>() == from_vector(values, {3, 2}, dtype).to_vector<double>());
    const std::vector<int64_t> three{3};
    for (const Tensor& out : {c.all_to_all(x), c.all_to_all_v(x, three, three), c.all_gather(x), c.all_gather_v(x, three)}) {
      CHECK(out.dtype() == dtype);
      CHECK(out.shape() == Shape{3, 2});
      CHECK(out.storage() != x.storage());
      CHECK(out.to_vector<double>() == x.to_vector<double>());
    }
  }
  const std::vector<int64_t> none{0};
  CHECK(c.all_to_all_v(zeros({0, 4}), none, none).shape() == Shape{0, 4});
  CHECK(c.all_gather_v(zeros({0, 4}), none).shape() == Shape{0, 4});
  std::unique_ptr<dist::Communicator> sub = c.split(/*color=*/3, /*key=*/7);
  CHECK(sub->size() == 1);
  CHECK(sub->rank() == 0);
  c.barrier();
}

TEST_CASE("serial communicator: arguments are checked as on any size", "[dist]") {
  dist::SerialCommunicator c;
  const std::vector<int64_t> two{1, 1};
  CHECK_THROWS_WITH(c.all_to_all_v(zeros({2, 1}), two, two), Catch::Contains("has 2 entries, expected one per rank (1)"));
  const std::vector<int64_t> one{1}, zero{0};
  CHECK_THROWS_WITH(c.all_to_all_v(zeros({1, 1}), one, zero), Catch::Contains("sends itself 1 rows but expects 0"));
  CHECK_THROWS_WITH(c.all_gather_v(zeros({2, 1}), one), Catch::Contains("counts[0] is 1, this rank's x has 2 rows"));
  CHECK_THROWS_WITH(c.broadcast_(zeros({1}), /*root=*/1), Catch::Contains("root 1 is not a rank"));
  CHECK_THROWS_WITH(c.all_reduce_(zeros({1}, DType::b8)), Catch::Contains("expected a float32, float64 or int64"));
  CHECK_THROWS_WITH(c.all_to_all(zeros({})), Catch::Contains("at least one axis"));
  CHECK_THROWS_WITH(c.all_gather(core::transpose(zeros({2, 3}), 0, 1)), Catch::Contains("contiguous"));
}

TEST_CASE("make_communicator outside mpirun is the serial one", "[dist]") {
  REQUIRE_FALSE(dist::launched_by_mpirun());  // ctest runs moegrad_tests as one plain process
  std::unique_ptr<dist::Communicator> c = dist::make_communicator();
  CHECK(dynamic_cast<dist::SerialCommunicator*>(c.get()) != nullptr);
}
