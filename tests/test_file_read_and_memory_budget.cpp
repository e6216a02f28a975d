// The bounded reader of user-named files and the memory pre-check that every reader and
// constructor of user-sized things goes through.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "moegrad/core/file_read.h"
#include "moegrad/core/memory_budget.h"

using namespace moegrad;
namespace fs = std::filesystem;

namespace {
fs::path scratch() {
  fs::path d = fs::temp_directory_path() / ("moegrad_file_read_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}
std::string error_of(const std::string& path, int64_t limit = kMaxTensorFileBytes) {
  try {
    read_file(path, limit);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("read_file refuses what is not a regular file, naming the path and its kind", "[core][io]") {
  const fs::path d = scratch();
  CHECK_THAT(error_of(d.string()), Catch::StartsWith(d.string() + ": is a directory"));
  const fs::path fifo = d / "fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK_THAT(error_of(fifo.string()), Catch::Contains("is a pipe (FIFO)"));  // and does not block
  CHECK_THAT(error_of("/dev/zero"), Catch::Contains("/dev/zero: is a character device"));
  CHECK_THAT(error_of("/dev/urandom"), Catch::Contains("is a character device"));
  CHECK_THAT(error_of((d / "missing").string()), Catch::Contains("missing: cannot be read: No such file"));
  fs::remove_all(d);
}

TEST_CASE("read_file states its limit and never reads past it", "[core][io]") {
  const fs::path d = scratch();
  // A 50 GB sparse file costs no disk; it must be refused from its size alone.
  const fs::path sparse = d / "sparse";
  {
    const int fd = ::open(sparse.c_str(), O_CREAT | O_WRONLY, 0600);
    REQUIRE(fd >= 0);
    REQUIRE(::ftruncate(fd, int64_t{50} << 30) == 0);
    ::close(fd);
  }
  CHECK_THAT(error_of(sparse.string()), Catch::Contains("50.00 GiB, larger than the limit of 16.00 GiB"));
  const fs::path small = d / "small";
  std::ofstream(small) << "0123456789";
  CHECK(read_file(small.string(), 10) == "0123456789");
  CHECK_THAT(error_of(small.string(), 9), Catch::Contains("larger than the limit of 9 bytes"));
  // /proc files report size 0: read whole when small, bounded when not.
  CHECK_THAT(read_file("/proc/self/status"), Catch::Contains("VmSize"));
  CHECK_THAT(error_of("/proc/self/maps", 16), Catch::Contains("more than the limit of 16 bytes"));
  fs::remove_all(d);
}

TEST_CASE("require_memory refuses an estimate above what is available, stating both", "[core][memory]") {
  const int64_t avail = available_memory_bytes();
  REQUIRE(avail > 0);
  CHECK_NOTHROW(require_memory(1 << 20, "a small job"));
  try {
    require_memory(int64_t{1} << 62, "a model of dim 10^9");
    FAIL("no error");
  } catch (const OutOfMemoryError& e) {
    CHECK_THAT(e.what(), Catch::StartsWith("a model of dim 10^9 needs an estimated 4294967296.00 GiB, but only "));
    CHECK_THAT(e.what(), Catch::EndsWith(" is available"));
  }
  CHECK(format_bytes(2048) == "2048 bytes");
  CHECK(format_bytes(int64_t{3} << 20) == "3.0 MiB");
  CHECK(format_bytes(int64_t{3} << 29) == "1.50 GiB");
}
