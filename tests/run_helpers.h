#pragma once
// Shared by the training and fault tests: scratch folders, checkpoint bytes, and the
// moegrad binary started as a child process (output discarded, kept in files, or sent to
// a given descriptor).
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "nn/safetensors.h"

extern char** environ;

namespace moegrad::test {

// A scratch folder named after the test and this process, removed first.
inline std::filesystem::path fresh_dir(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / ("moegrad_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  return d;
}

// Raw bytes of every tensor of a safetensors file: equal maps mean bit-identical weights.
inline std::map<std::string, std::string> tensor_bytes(const std::string& path) {
  std::map<std::string, std::string> out;
  for (const auto& [name, t] : nn::load_safetensors(path).tensors) {
    std::string b(t.numel() * dtype_size(t.dtype()), '\0');
    std::memcpy(b.data(), t.raw_data(), b.size());
    out[name] = b;
  }
  return out;
}

// Where a child's output goes and where it runs: a file path for stdout / stderr (created,
// truncated; empty: /dev/null), or an open descriptor for stdout (stdout_fd >= 0 wins);
// `cwd` empty: this process's folder.
struct ChildIo {
  std::string stdout_path, stderr_path;
  int stdout_fd = -1;
  std::string cwd;
};

// Starts `moegrad args...`; returns its pid.
inline pid_t spawn_moegrad(const std::vector<std::string>& args, const ChildIo& io = {}) {
  std::vector<std::string> all = {MOEGRAD_BINARY};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  const auto open_as = [&](int fd, const std::string& path) {
    posix_spawn_file_actions_addopen(&actions, fd, path.empty() ? "/dev/null" : path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
  };
  if (io.stdout_fd >= 0) posix_spawn_file_actions_adddup2(&actions, io.stdout_fd, 1);
  else open_as(1, io.stdout_path);
  open_as(2, io.stderr_path);
  if (!io.cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, io.cwd.c_str());
  pid_t pid;
  REQUIRE(posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) == 0);
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

// Waits for `pid`: its exit status, or -1 if a signal ended it.
inline int wait_moegrad(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Runs `moegrad args...` to the end; its exit status (-1 if it was killed).
inline int run_moegrad(const std::vector<std::string>& args, const ChildIo& io = {}) {
  return wait_moegrad(spawn_moegrad(args, io));
}

// A finished run's exit status and what it wrote.
struct RunResult {
  int status = 0;
  std::string out, err;
};

// Runs `moegrad args...` with its output kept in files under `scratch` (created).
inline RunResult run_moegrad_capture(const std::vector<std::string>& args, const std::filesystem::path& scratch) {
  std::filesystem::create_directories(scratch);
  ChildIo io{(scratch / "stdout.txt").string(), (scratch / "stderr.txt").string()};
  RunResult r;
  r.status = run_moegrad(args, io);
  r.out = nn::read_file(io.stdout_path);
  r.err = nn::read_file(io.stderr_path);
  return r;
}

// Polls `done` every few milliseconds until it holds or `timeout` passes (generous: the
// machine may be loaded); returns whether it held.
template <typename Pred>
bool wait_until(Pred done, std::chrono::seconds timeout = std::chrono::seconds(60)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

}  // namespace moegrad::test
