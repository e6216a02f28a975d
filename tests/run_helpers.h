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
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "moegrad/nn/safetensors.h"
#include "moegrad/train/trainer.h"

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
  ChildIo io;
  io.stdout_path = (scratch / "stdout.txt").string();
  io.stderr_path = (scratch / "stderr.txt").string();
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

inline const std::string kToyConfig = std::string(MOEGRAD_SOURCE_DIR) + "/configs/toy_moe.yaml";

// The toy config shrunk to a few milliseconds a step, with one log line and one
// checkpoint every step unless `extra` says otherwise (later overrides win).
inline std::vector<std::string> tiny_toy(int64_t steps, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> o = {"train.steps=" + std::to_string(steps), "train.batch_size=16", "train.eval_batches=1",
                                "train.eval_interval=1000", "train.log_interval=1", "train.checkpoint_interval=1",
                                "train.keep_last=1000", "model.dim=16", "model.num_experts=4",
                                "optim.schedule.warmup_steps=1"};
  o.insert(o.end(), extra.begin(), extra.end());
  return o;
}

// `moegrad train <config> ... --set o` for each override.
inline std::vector<std::string> train_args(const std::vector<std::string>& overrides,
                                           const std::vector<std::string>& options,
                                           const std::string& config = kToyConfig) {
  std::vector<std::string> a = {"train", config};
  a.insert(a.end(), options.begin(), options.end());
  for (const auto& o : overrides) a.insert(a.end(), {"--set", o});
  return a;
}

// run_training in this process; what it logged goes to `log` when given.
inline train::TrainSummary train_here(const std::vector<std::string>& overrides, const std::string& out,
                                      const std::string& resume = "", std::string* log = nullptr,
                                      const std::string& config = kToyConfig) {
  std::ostringstream os;
  train::TrainArgs args{config, overrides, out, resume, false, {}, false, {}};
  struct Keep {
    std::ostringstream& os;
    std::string* log;
    ~Keep() {
      if (log) *log = os.str();
    }
  } keep{os, log};
  return train::run_training(args, os);
}

// The whole file as a string ("" if it does not exist).
inline std::string file_text(const std::filesystem::path& p) {
  return std::filesystem::exists(p) ? nn::read_file(p.string()) : std::string();
}

}  // namespace moegrad::test
