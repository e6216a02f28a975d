#include "moegrad/core/file_read.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "moegrad/core/error.h"
#include "moegrad/core/memory_budget.h"

namespace moegrad {

namespace {

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

const char* kind_of(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a pipe (FIFO)";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

}  // namespace

std::string read_file(const std::string& path, int64_t max_bytes) {
  // O_NONBLOCK: opening a FIFO with no writer must not block; it is refused below anyway.
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)};
  if (f.fd < 0) throw Error(str_cat(path, ": cannot be read: ", std::strerror(errno)));
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) throw Error(str_cat(path, ": cannot be read: ", std::strerror(errno)));
  if (!S_ISREG(st.st_mode)) throw Error(str_cat(path, ": is ", kind_of(st.st_mode), ", expected a regular file"));
  if (st.st_size > max_bytes)
    throw Error(str_cat(path, ": is ", format_bytes(st.st_size), ", larger than the limit of ",
                        format_bytes(max_bytes), " for this kind of file"));
  std::string bytes;
  // One byte past the reported size, so the end is seen without growing; /proc files
  // report size 0 and still have content, so they grow in chunks up to the limit.
  bytes.resize(static_cast<size_t>(st.st_size > 0 ? st.st_size + 1 : 4096));
  size_t used = 0;
  for (;;) {
    if (used == bytes.size()) {
      if (static_cast<int64_t>(used) > max_bytes)
        throw Error(str_cat(path, ": holds more than the limit of ", format_bytes(max_bytes),
                            " for this kind of file"));
      bytes.resize(std::min<size_t>(bytes.size() * 2, static_cast<size_t>(max_bytes) + 1));
      if (used == bytes.size()) bytes.resize(used + 1);
    }
    const ssize_t n = ::read(f.fd, bytes.data() + used, bytes.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(str_cat(path, ": cannot be read: ", std::strerror(errno)));
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  if (static_cast<int64_t>(used) > max_bytes)
    throw Error(str_cat(path, ": holds more than the limit of ", format_bytes(max_bytes), " for this kind of file"));
  bytes.resize(used);
  return bytes;
}

}  // namespace moegrad
