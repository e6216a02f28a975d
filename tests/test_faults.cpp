// Fault injection: runs killed at random moments, output folders that are full or
// read-only, checkpoints loaded into the wrong model. Nothing already written may be lost.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/mount.h>

#include <chrono>
#include <filesystem>
#include <sstream>
#include <thread>

#include "moegrad/core/generator.h"
#include "moegrad/nn/safetensors.h"
#include "run_helpers.h"
#include "moegrad/train/checkpoint.h"
#include "moegrad/train/config.h"
#include "moegrad/train/model.h"
#include "moegrad/train/trainer.h"

using namespace moegrad;
using namespace moegrad::train;
namespace fs = std::filesystem;
using namespace moegrad::test;

namespace {
const std::string kToy = std::string(MOEGRAD_SOURCE_DIR) + "/configs/toy_moe.yaml";

// A small, fast variant of the toy run: checkpoints every 3 steps.
const std::vector<std::string> kSmall = {"train.steps=200",       "train.checkpoint_interval=5", "train.keep_last=4",
                                         "train.eval_interval=100", "train.log_interval=10",    "train.batch_size=32",
                                         "model.dim=16",          "model.num_experts=4",        "optim.schedule.warmup_steps=1"};
constexpr int64_t kSmallSteps = 200;

TrainSummary train_quietly(const std::vector<std::string>& overrides, const fs::path& out, const std::string& resume = "") {
  std::ostringstream log;
  return run_training({kToy, overrides, resume.empty() ? out.string() : "", resume, false, {}, false}, log);
}

pid_t spawn_training(const fs::path& out, const std::vector<std::string>& overrides) {
  std::vector<std::string> args = {"train", kToy, "--out", out.string()};
  for (const auto& o : overrides) args.insert(args.end(), {"--set", o});
  return spawn_moegrad(args);
}

// A tmpfs of `kib` KiB mounted on a fresh folder (needs root, as `make test` runs).
struct SmallDisk {
  fs::path dir;
  explicit SmallDisk(const std::string& name, int kib) : dir(fresh_dir("fault_" + name)) {
    fs::create_directories(dir);
    const std::string opts = "size=" + std::to_string(kib) + "k";
    if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, opts.c_str()) != 0)
      FAIL("mounting a tmpfs needs root (" << std::strerror(errno) << "): run the suite as root, as make test does");
  }
  void read_only() const {
    REQUIRE(::mount("tmpfs", dir.c_str(), "tmpfs", MS_REMOUNT | MS_RDONLY, nullptr) == 0);
  }
  ~SmallDisk() {
    ::umount2(dir.c_str(), MNT_DETACH);
    fs::remove_all(dir);
  }
};
}  // namespace

TEST_CASE("SIGKILL at 20 random moments: the newest checkpoint loads and resuming is bit-identical", "[train][faults][slow]") {
  fs::path whole = fresh_dir("fault_whole");
  const auto t0 = std::chrono::steady_clock::now();
  train_quietly(kSmall, whole);
  const auto run_time = std::chrono::steady_clock::now() - t0;
  const auto reference = tensor_bytes(checkpoint_path((whole / "checkpoints").string(), kSmallSteps));
  Generator moments(2026);
  int killed_mid_run = 0;
  for (int trial = 0; trial < 20; ++trial) {
    fs::path run = fresh_dir("fault_kill" + std::to_string(trial));
    const auto start = std::chrono::steady_clock::now();
    pid_t pid = spawn_training(run, kSmall);
    // Wait for the first checkpoint, then kill at a random moment of the rest of the run.
    const auto deadline = start + std::chrono::seconds(120);
    while (list_checkpoints((run / "checkpoints").string()).empty() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    const auto left_of_run = std::max<int64_t>(
        1, std::chrono::duration_cast<std::chrono::microseconds>(run_time - (std::chrono::steady_clock::now() - start)).count());
    std::this_thread::sleep_for(std::chrono::microseconds(moments.next_u64() % static_cast<uint64_t>(left_of_run)));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    auto left = list_checkpoints((run / "checkpoints").string());
    INFO("trial " << trial);
    REQUIRE_FALSE(left.empty());
    CheckpointState newest;
    REQUIRE_NOTHROW(newest = load_checkpoint(left.back()));
    killed_mid_run += newest.step < kSmallSteps;
    train_quietly(kSmall, run, run.string());
    CHECK(tensor_bytes(checkpoint_path((run / "checkpoints").string(), kSmallSteps)) == reference);
    fs::remove_all(run);
  }
  INFO("runs killed before their end: " << killed_mid_run);
  CHECK(killed_mid_run >= 10);  // the moments really fall inside the runs
  fs::remove_all(whole);
}

TEST_CASE("a full output folder gives a clear error and keeps the earlier checkpoints", "[train][faults]") {
  // Room for two checkpoints of the small model (about 136 KiB each), not for all 40.
  SmallDisk disk("full", 400);
  fs::path run = disk.dir / "run";
  std::vector<std::string> o = kSmall;
  o.push_back("train.keep_last=1000");  // keep everything, so the disk fills up
  try {
    train_quietly(o, run);
    FAIL("the run did not notice the full disk");
  } catch (const Error& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains("No space left on device") && Catch::Contains(run.string()));
  }
  auto left = list_checkpoints((run / "checkpoints").string());
  REQUIRE(left.size() >= 2);
  for (const auto& c : left) CHECK_NOTHROW(load_checkpoint(c));
  for (const auto& e : fs::recursive_directory_iterator(run))
    CHECK(e.path().filename().string().find(".tmp.") == std::string::npos);  // no half-written leftovers
}

TEST_CASE("a read-only output folder gives a clear error and keeps the earlier checkpoints", "[train][faults]") {
  SmallDisk disk("ro", 4096);
  fs::path run = disk.dir / "run";
  std::vector<std::string> first = kSmall;
  first[0] = "train.steps=10";
  train_quietly(first, run);
  const auto before = tensor_bytes(checkpoint_path((run / "checkpoints").string(), 10));
  disk.read_only();
  CHECK_THROWS_WITH(train_quietly(kSmall, run, run.string()), Catch::Contains("Read-only file system"));
  CHECK(tensor_bytes(checkpoint_path((run / "checkpoints").string(), 10)) == before);
}

TEST_CASE("a checkpoint loaded into a model of another shape names each mismatching tensor", "[train][faults]") {
  fs::path run = fresh_dir("fault_shape");
  std::vector<std::string> o = kSmall;
  o[0] = "train.steps=3";
  TrainSummary s = train_quietly(o, run);
  CheckpointState ck = load_checkpoint(s.last_checkpoint);
  std::vector<std::string> wider = o;
  wider.push_back("model.dim=24");
  Config c = parse_config(nn::read_file(kToy), kToy, wider);
  Generator gen(0);
  auto model = make_model(c, 0, gen, DType::f32);
  try {
    model->load_state_dict(ck.model);
    FAIL("loaded into a model of another shape");
  } catch (const Error& e) {
    const std::string msg = e.what();
    CHECK_THAT(msg, Catch::Contains("in_proj.weight (checkpoint [16, 16], model [24, 16])"));
    CHECK_THAT(msg, Catch::Contains("head.weight (checkpoint [16, 16], model [16, 24])"));
    CHECK_THAT(msg, Catch::Contains("blocks.1.moe.gate.to_gates.weight (checkpoint [4, 16], model [4, 24])"));
  }
  fs::remove_all(run);
}

TEST_CASE("a closed stdout pipe does not stop training: it says so once and checkpoints as usual", "[train][faults]") {
  // As `moegrad train ... | head -1`, with the reader gone from the start. Before, SIGPIPE
  // ended the run with no message and no checkpoint.
  fs::path run = fresh_dir("fault_pipe");
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  ::close(fds[0]);
  ChildIo io;
  io.stdout_fd = fds[1];
  io.stderr_path = fresh_dir("fault_pipe_err").string();
  const pid_t pid =
      spawn_moegrad(train_args(tiny_toy(20, {"train.checkpoint_interval=10"}), {"--out", run.string()}), io);
  ::close(fds[1]);
  CHECK(wait_moegrad(pid) == 0);
  CHECK(list_checkpoints((run / "checkpoints").string()) ==
        std::vector<std::string>{checkpoint_path((run / "checkpoints").string(), 10),
                                 checkpoint_path((run / "checkpoints").string(), 20)});
  const std::string err = file_text(io.stderr_path);
  const std::string note = "the standard output cannot be written any more; training goes on";
  CHECK_THAT(err, Catch::Contains(note) && Catch::Contains(run.string()));
  CHECK(err.find(note) == err.rfind(note));  // said once
  fs::remove_all(run);
  fs::remove(io.stderr_path);
}

namespace {
// A run long enough to be signalled mid-way, saving only at its end unless interrupted.
const std::vector<std::string> kLong = tiny_toy(250, {"train.checkpoint_interval=1000", "train.log_interval=10"});

// Starts kLong into `run` and waits until it is training (its first metrics line).
pid_t spawn_until_training(const fs::path& run, const std::string& stderr_path) {
  ChildIo io;
  io.stderr_path = stderr_path;
  const pid_t pid = spawn_moegrad(train_args(kLong, {"--out", run.string()}), io);
  REQUIRE(wait_until([&] { return !file_text(run / "metrics.jsonl").empty(); }));
  return pid;
}
}  // namespace

TEST_CASE("SIGTERM: the run finishes its step, saves, says how to resume, exits 143, and resuming is bit-identical",
          "[train][faults]") {
  fs::path whole = fresh_dir("fault_term_whole"), run = fresh_dir("fault_term");
  const std::string err_path = fresh_dir("fault_term_err").string();
  const pid_t pid = spawn_until_training(run, err_path);
  ::kill(pid, SIGTERM);
  CHECK(wait_moegrad(pid) == 143);
  auto left = list_checkpoints((run / "checkpoints").string());
  REQUIRE(left.size() == 1);  // before, nothing was saved
  const int64_t step = load_checkpoint(left[0]).step;
  CHECK(step > 0);
  CHECK(step < 250);
  const std::string err = file_text(err_path);
  CHECK_THAT(err, Catch::Contains("interrupted by SIGTERM after step " + std::to_string(step) + " of 250") &&
                      Catch::Contains("saved the checkpoint " + left[0]) &&
                      Catch::Contains("--resume " + run.string()));
  train_here(kLong, whole.string());
  train_here(kLong, "", run.string());
  CHECK(tensor_bytes(checkpoint_path((run / "checkpoints").string(), 250)) ==
        tensor_bytes(checkpoint_path((whole / "checkpoints").string(), 250)));
  for (const auto& d : {whole, run}) fs::remove_all(d);
  fs::remove(err_path);
}

TEST_CASE("Ctrl-C saves and exits 130, a second signal exits at once without saving", "[train][faults]") {
  fs::path run = fresh_dir("fault_int");
  const std::string err_path = fresh_dir("fault_int_err").string();
  pid_t pid = spawn_until_training(run, err_path);
  ::kill(pid, SIGINT);
  CHECK(wait_moegrad(pid) == 130);
  CHECK(list_checkpoints((run / "checkpoints").string()).size() == 1);
  CHECK_THAT(file_text(err_path), Catch::Contains("interrupted by SIGINT after step"));
  fs::remove_all(run);

  // Two signals pending at once (sent while the run is stopped) reach the handler back to
  // back: the second one must end the process without waiting for the step or the save.
  pid = spawn_until_training(run, err_path);
  ::kill(pid, SIGSTOP);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, WUNTRACED) == pid);
  REQUIRE(WIFSTOPPED(status));
  ::kill(pid, SIGINT);
  ::kill(pid, SIGTERM);
  ::kill(pid, SIGCONT);
  const int code = wait_moegrad(pid);
  CHECK((code == 130 || code == 143));
  CHECK_THAT(file_text(err_path), Catch::Contains("interrupted again: exiting at once, without saving"));
  CHECK(list_checkpoints((run / "checkpoints").string()).empty());
  fs::remove_all(run);
  fs::remove(err_path);
}
