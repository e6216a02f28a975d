#include "moegrad/train/run_folder.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <limits>
#include <set>

#include "moegrad/train/checkpoint.h"
#include "moegrad/train/config.h"

namespace moegrad::train {

namespace fs = std::filesystem;

namespace {
constexpr const char* kLockFile = "run.lock";

// What write_file_atomic leaves when killed between creating its temporary and the rename.
bool is_temporary(const std::string& name) {
  return name.size() > 1 && name[0] == '.' && name.find(".tmp.") != std::string::npos;
}

bool is_run_file(const std::string& name) {
  static const std::set<std::string> files = {"config.yaml", "metrics.jsonl", "metrics.csv", kLockFile};
  return files.count(name) > 0 || is_temporary(name);
}

std::string read_holder(int fd) {
  char buf[512];
  const ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
  std::string s(buf, n > 0 ? static_cast<size_t>(n) : 0);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s.empty() ? "another process (it has not written its name yet)" : s;
}

std::string describe_self() {
  char host[256] = "unknown";
  ::gethostname(host, sizeof(host) - 1);
  host[sizeof(host) - 1] = '\0';
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&now));
  return "pid " + std::to_string(::getpid()) + " on host " + host + ", started " + stamp + "\n";
}
}  // namespace

FolderState inspect_run_folder(const std::string& dir) {
  FolderState st;
  std::error_code ec;
  const fs::file_status s = fs::status(dir, ec);
  if (!fs::exists(s)) return st;
  if (!fs::is_directory(s)) {
    st.kind = FolderKind::not_a_folder;
    return st;
  }
  st.kind = FolderKind::reusable;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name == "checkpoints" && entry.is_directory(ec)) {
      for (const auto& inner : fs::directory_iterator(entry.path(), ec)) {
        const std::string n = inner.path().filename().string();
        if (checkpoint_step(n) < 0 && !is_temporary(n)) {
          st.kind = FolderKind::foreign;
          st.foreign_entry = (fs::path("checkpoints") / n).string();
          return st;
        }
      }
      if (!list_checkpoints(entry.path().string()).empty()) st.kind = FolderKind::has_checkpoints;
    } else if (!is_run_file(name)) {
      st.kind = FolderKind::foreign;
      st.foreign_entry = name;
      return st;
    }
  }
  return st;
}

RunLock::RunLock(const std::string& dir, const std::string& location, const std::string& key) {
  const std::string path = (fs::path(dir) / kLockFile).string();
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error("cannot create the lock file " + path + ": " + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    const std::string who = err == EWOULDBLOCK ? read_holder(fd_) : std::string();
    ::close(fd_);
    fd_ = -1;
    if (err != EWOULDBLOCK) throw Error("cannot lock " + path + ": " + std::strerror(err));
    throw ConfigFileError(location, key,
                          "the run folder " + dir + " is in use by another moegrad run (" + who +
                              "); wait for it to end or choose another folder");
  }
  const std::string me = describe_self();
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, me.data(), me.size(), 0) != static_cast<ssize_t>(me.size()))
    throw Error("cannot write the lock file " + path + ": " + std::strerror(errno));
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

std::optional<std::string> RunLock::holder(const std::string& dir) {
  const std::string path = (fs::path(dir) / kLockFile).string();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::optional<std::string> who;
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) who = read_holder(fd);
  ::close(fd);  // releases a shared lock taken by the probe
  return who;
}

std::string create_new_folder(const std::string& base) {
  const fs::path b(base);
  if (b.has_parent_path()) fs::create_directories(b.parent_path());
  for (int i = 1;; ++i) {
    const std::string dir = i == 1 ? base : base + "-" + std::to_string(i);
    std::error_code ec;
    if (fs::create_directory(dir, ec)) return dir;
    if (ec && !fs::exists(dir)) throw Error("cannot create the run folder " + dir + ": " + ec.message());
  }
}

std::vector<std::string> clean_leftovers(const std::string& dir) {
  std::vector<std::string> removed;
  std::error_code ec;
  const std::string ckpt_dir = (fs::path(dir) / "checkpoints").string();
  for (const std::string& d : {dir, ckpt_dir}) {
    if (!fs::is_directory(d, ec)) continue;
    std::vector<fs::path> tmp;
    for (const auto& entry : fs::directory_iterator(d, ec))
      if (is_temporary(entry.path().filename().string()) && entry.is_regular_file(ec)) tmp.push_back(entry.path());
    for (const auto& p : tmp)
      if (fs::remove(p, ec)) removed.push_back(p.string());
  }
  std::vector<std::string> halves = prune_checkpoints(ckpt_dir, std::numeric_limits<int64_t>::max() / 2);
  removed.insert(removed.end(), halves.begin(), halves.end());
  return removed;
}

}  // namespace moegrad::train
