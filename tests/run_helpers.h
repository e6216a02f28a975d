#pragma once
// Shared by the training and fault tests: scratch folders, checkpoint bytes, and the
// moegrad binary started as a child process.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
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

// Starts `moegrad args...` with its output discarded; returns its pid.
inline pid_t spawn_moegrad(const std::vector<std::string>& args) {
  std::vector<std::string> all = {MOEGRAD_BINARY};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  REQUIRE(posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) == 0);
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

// Runs `moegrad args...` to the end; its exit status (-1 if it was killed).
inline int run_moegrad(const std::vector<std::string>& args) {
  int status = 0;
  waitpid(spawn_moegrad(args), &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace moegrad::test
