// Where a run writes and how it resumes: only into its own folder, one run per folder at a
// time, resuming a finished run or a damaged newest checkpoint, leftovers of a killed run,
// folders without a checkpoint, and metrics files cut off mid-line.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <set>

#include "run_helpers.h"

#include <nlohmann/json.hpp>
#include "moegrad/train/checkpoint.h"
#include "moegrad/train/config.h"
#include "moegrad/train/run_folder.h"
#include "moegrad/train/trainer.h"

using namespace moegrad;
using namespace moegrad::train;
namespace fs = std::filesystem;
using namespace moegrad::test;

namespace {
std::string ckpt(const fs::path& run, int64_t step) { return checkpoint_path((run / "checkpoints").string(), step); }

// Every file under `dir` with its bytes, but the lock file (each run that takes the folder
// writes its own name there).
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().filename() != "run.lock")
      out[fs::relative(e.path(), dir).string()] = file_text(e.path());
  return out;
}

void write_text(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}
}  // namespace

TEST_CASE("resuming a checkpoint outside a run folder writes only into a new run folder", "[train][resume]") {
  fs::path src = fresh_dir("resume_loose_src"), work = fresh_dir("resume_loose_work");
  train_here(tiny_toy(3), src.string());
  // `cd work/sub && moegrad train x.yaml --resume ck.safetensors`: the folder one up looks
  // like a run. Before, its config.yaml was overwritten, its metrics cut and appended to,
  // and its checkpoints/ pruned.
  write_text(work / "config.yaml", "precious: yes\n");
  write_text(work / "metrics.jsonl", "{\"kind\":\"train\",\"step\":9}\n");
  write_text(work / "metrics.csv", "kind,step\ntrain,9\n");
  write_text(work / "checkpoints" / "notes.txt", "mine\n");
  fs::create_directories(work / "sub");
  fs::copy_file(ckpt(src, 2), work / "sub" / "ck.safetensors");
  fs::copy_file(fs::path(ckpt(src, 2)).replace_extension(".json"), work / "sub" / "ck.json");
  const auto before = snapshot(work);

  fs::path out = fresh_dir("resume_loose_out");
  std::string log;
  TrainSummary s = train_here(tiny_toy(3), out.string(), (work / "sub" / "ck.safetensors").string(), &log);
  CHECK(snapshot(work) == before);
  CHECK(s.run_dir == out.string());
  CHECK_THAT(log, Catch::Contains("is not inside a run folder") && Catch::Contains("resumed at step 2"));
  CHECK(tensor_bytes(ckpt(out, 3)) == tensor_bytes(ckpt(src, 3)));

  // Without --out: a new default folder under the current one, never the folder above.
  const fs::path cwd = fs::current_path();
  fs::path here = fresh_dir("resume_loose_cwd");
  fs::create_directories(here);
  fs::current_path(here);
  TrainSummary d = train_here(tiny_toy(3), "", (work / "sub" / "ck.safetensors").string());
  fs::current_path(cwd);
  CHECK_THAT(d.run_dir, Catch::StartsWith("runs/toy_moe-"));
  CHECK(fs::exists(here / d.run_dir / "checkpoints" / "step_00000003.safetensors"));
  CHECK(snapshot(work) == before);
  for (const auto& p : {src, work, out, here}) fs::remove_all(p);
}

TEST_CASE("a run folder in use is refused with exit 2, naming the holder", "[train][resume]") {
  fs::path run = fresh_dir("lock_busy");
  train_here(tiny_toy(2), run.string());
  const auto before = snapshot(run);
  {
    RunLock held(run.string(), "test", "out");  // as a live run holds it
    const std::string pid = "pid " + std::to_string(::getpid()) + " on host ";
    // Before, both runs exited 0 and the folder mixed them.
    RunResult r = run_moegrad_capture(train_args(tiny_toy(4), {"--resume", run.string()}), fresh_dir("lock_busy_io"));
    CHECK(r.status == 2);
    CHECK_THAT(r.err, Catch::Contains("is in use by another moegrad run (" + pid) && Catch::Contains("started "));
    r = run_moegrad_capture(train_args(tiny_toy(4), {"--out", run.string()}), fresh_dir("lock_busy_io"));
    CHECK(r.status == 2);
    CHECK_THAT(r.err, Catch::Contains("in use by another moegrad run (" + pid));
    fs::path fresh = fresh_dir("lock_busy_new");
    fs::create_directories(fresh);
    RunLock other(fresh.string(), "test", "out");
    r = run_moegrad_capture(train_args(tiny_toy(2), {"--out", fresh.string()}), fresh_dir("lock_busy_io"));
    CHECK(r.status == 2);
    CHECK_THAT(r.err, Catch::Contains("in use by another moegrad run (" + pid));
    fs::remove_all(fresh);
  }
  CHECK(snapshot(run) == before);
  // Released: the run can go on.
  CHECK(run_moegrad(train_args(tiny_toy(4), {"--resume", run.string()})) == 0);
  fs::remove_all(run);
  fs::remove_all(fresh_dir("lock_busy_io"));
}

TEST_CASE("runs of one config started together get folders of their own", "[train][resume]") {
  // The default name has a 1 s resolution; before, runs started in the same second shared
  // the folder. Four at once, in one folder.
  fs::path here = fresh_dir("default_names");
  fs::create_directories(here);
  ChildIo io;
  io.cwd = here.string();
  std::vector<pid_t> pids;
  for (int i = 0; i < 4; ++i) pids.push_back(spawn_moegrad(train_args(tiny_toy(2), {}), io));
  for (pid_t p : pids) CHECK(wait_moegrad(p) == 0);
  std::set<std::string> runs;
  for (const auto& e : fs::directory_iterator(here / "runs")) {
    runs.insert(e.path().string());
    CHECK(list_checkpoints((e.path() / "checkpoints").string()).size() == 2);
  }
  CHECK(runs.size() == 4);
  // The same base twice, as two runs in the same second see it.
  const std::string base = (here / "same").string();
  CHECK(create_new_folder(base) == base);
  CHECK(create_new_folder(base) == base + "-2");
  fs::remove_all(here);
}

TEST_CASE("resuming a finished run does nothing and rewrites nothing", "[train][resume]") {
  fs::path run = fresh_dir("resume_done");
  train_here(tiny_toy(4), run.string());
  const auto before = snapshot(run);
  for (int64_t steps : {4, 2}) {
    INFO("train.steps " << steps);
    std::string log;
    TrainSummary s = train_here(tiny_toy(steps), "", run.string(), &log);
    CHECK(s.nothing_to_do);
    CHECK_THAT(log, Catch::Contains("already finished at step 4"));
    CHECK(snapshot(run) == before);  // before, config.yaml was rewritten with train.steps 2
  }
  // The binary exits 0 without a "final train loss 0".
  RunResult r = run_moegrad_capture(train_args(tiny_toy(4), {"--resume", run.string()}), fresh_dir("resume_done_io"));
  CHECK(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("nothing to do") && !Catch::Contains("final train loss"));
  fs::remove_all(run);
  fs::remove_all(fresh_dir("resume_done_io"));
}

TEST_CASE("raising train.steps on resume says how the cosine schedule changes", "[train][resume]") {
  fs::path run = fresh_dir("resume_longer");
  const std::vector<std::string> cosine = {"optim.schedule.kind=warmup_cosine", "optim.schedule.min_lr=0.0003"};
  train_here(tiny_toy(4, cosine), run.string());
  std::string log;
  train_here(tiny_toy(8, cosine), "", run.string(), &log);
  CHECK_THAT(log, Catch::Contains("train.steps is now 8 (the run was started with 4)") &&
                      Catch::Contains("the learning rate at step 4 is") && Catch::Contains("instead of 0.0003"));
  // Resuming at the same length says nothing of the kind.
  train_here(tiny_toy(8, cosine), "", run.string(), &log);
  CHECK_THAT(log, !Catch::Contains("train.steps is now"));
  fs::remove_all(run);
}

TEST_CASE("a truncated newest checkpoint: resume falls back to the previous one and says so", "[train][resume]") {
  fs::path whole = fresh_dir("resume_trunc_whole"), run = fresh_dir("resume_trunc");
  train_here(tiny_toy(6), whole.string());
  train_here(tiny_toy(6), run.string());
  fs::resize_file(ckpt(run, 6), fs::file_size(ckpt(run, 6)) / 2);  // as a disk that lied about a write
  std::string log;
  train_here(tiny_toy(6), "", run.string(), &log);  // before: the resume stopped on the damaged file
  CHECK_THAT(log, Catch::Contains("skipping a checkpoint that cannot be loaded: safetensors: " + ckpt(run, 6)) &&
                      Catch::Contains("resuming from " + ckpt(run, 5)) && Catch::Contains("resumed at step 5"));
  CHECK(tensor_bytes(ckpt(run, 6)) == tensor_bytes(ckpt(whole, 6)));  // written again, as it was
  // When no checkpoint loads, resume is an error listing them, not a fresh start.
  for (int64_t s : {1, 2, 3, 4, 5, 6}) fs::resize_file(ckpt(run, s), 100);
  CHECK_THROWS_WITH(train_here(tiny_toy(8), "", run.string()),
                    Catch::Contains("none of its checkpoints can be loaded") && Catch::Contains(ckpt(run, 1)));
  for (const auto& d : {whole, run}) fs::remove_all(d);
}

TEST_CASE("leftovers of a killed run are removed: hidden .tmp files and checkpoint halves", "[train][resume]") {
  fs::path run = fresh_dir("resume_leftovers");
  train_here(tiny_toy(3, {"train.keep_last=2"}), run.string());
  const fs::path ck = run / "checkpoints";
  // What a kill leaves: an atomic write's temporary, a checkpoint whose JSON never came,
  // and one whose JSON was pruned first.
  write_text(ck / ".step_00000004.safetensors.tmp.12345", "half");
  write_text(run / ".metrics.jsonl.tmp.12345", "half");
  fs::copy_file(ckpt(run, 3), ck / "step_00000004.safetensors");
  fs::copy_file(ckpt(run, 3), ck / "step_00000001.safetensors");
  std::string log;
  train_here(tiny_toy(6, {"train.keep_last=2"}), "", run.string(), &log);
  CHECK_THAT(log, Catch::Contains("step_00000001.safetensors, left over") &&
                      Catch::Contains(".step_00000004.safetensors.tmp.12345, left over"));
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(ck)) names.insert(e.path().filename().string());
  CHECK(names == std::set<std::string>{"step_00000005.json", "step_00000005.safetensors", "step_00000006.json",
                                       "step_00000006.safetensors"});
  CHECK_FALSE(fs::exists(run / ".metrics.jsonl.tmp.12345"));
  fs::remove_all(run);
}

TEST_CASE("a folder without a checkpoint can be resumed from step 0 or reused", "[train][resume]") {
  // After a NaN at step 1, or a kill before the first checkpoint: before, --resume said the
  // folder held no complete checkpoint and --out said it already held files.
  fs::path whole = fresh_dir("resume_empty_whole"), nan = fresh_dir("resume_empty_nan"),
           killed = fresh_dir("resume_empty_killed");
  train_here(tiny_toy(3), whole.string());
  CHECK_THROWS_AS(train_here(tiny_toy(3, {"optim.lr=1e30", "optim.clip_norm=0"}), nan.string()), NumericalError);
  REQUIRE(list_checkpoints((nan / "checkpoints").string()).empty());
  train_here(tiny_toy(3), nan.string());  // --out reuses it for a new run, its old metrics go
  CHECK(tensor_bytes(ckpt(nan, 3)) == tensor_bytes(ckpt(whole, 3)));
  const auto lines = [](const fs::path& p) {
    const std::string t = file_text(p);
    return std::count(t.begin(), t.end(), '\n');
  };
  CHECK(lines(nan / "metrics.jsonl") == lines(whole / "metrics.jsonl"));
  CHECK(lines(nan / "metrics.csv") == lines(whole / "metrics.csv"));

  // A kill before the first checkpoint leaves the config and some metrics.
  train_here(tiny_toy(3), killed.string());
  fs::remove_all(killed / "checkpoints");
  std::string log;
  train_here(tiny_toy(3), "", killed.string(), &log);
  CHECK_THAT(log, Catch::Contains("holds no checkpoint: starting it from step 0"));
  CHECK(tensor_bytes(ckpt(killed, 3)) == tensor_bytes(ckpt(whole, 3)));
  CHECK(lines(killed / "metrics.jsonl") == lines(whole / "metrics.jsonl"));
  // Its saved config still has to match.
  fs::remove_all(killed / "checkpoints");
  CHECK_THROWS_WITH(train_here(tiny_toy(3, {"model.dim=8"}), "", killed.string()),
                    Catch::Contains("differs from the run's saved config"));

  // A folder with checkpoints, or with files that are not a run's, is never reused.
  CHECK_THROWS_WITH(train_here(tiny_toy(3), whole.string()), Catch::Contains("run with checkpoints"));
  write_text(killed / "notes.txt", "mine");
  CHECK_THROWS_WITH(train_here(tiny_toy(3), killed.string()), Catch::Contains("not a moegrad run's (notes.txt)"));
  for (const auto& d : {whole, nan, killed}) fs::remove_all(d);
}

TEST_CASE("metrics lines cut off mid-way do not block resume", "[train][resume]") {
  fs::path run = fresh_dir("resume_metrics");
  train_here(tiny_toy(4, {"train.checkpoint_interval=2"}), run.string());
  // Cut off after step 4's lines started, as a kill or a full disk leaves them. Before:
  // "stoll" from the CSV.
  write_text(run / "metrics.csv", file_text(run / "metrics.csv") + "train,");
  write_text(run / "metrics.jsonl", file_text(run / "metrics.jsonl") + "{\"kind\":\"train\",\"st");
  train_here(tiny_toy(6, {"train.checkpoint_interval=2"}), "", run.string());
  std::istringstream csv(file_text(run / "metrics.csv"));
  std::vector<std::string> steps;
  std::string line;
  std::getline(csv, line);  // header
  while (std::getline(csv, line)) {
    CHECK(std::count(line.begin(), line.end(), ',') == 13);
    steps.push_back(line.substr(0, line.find(',', line.find(',') + 1)));
  }
  CHECK(steps ==
        std::vector<std::string>{"train,1", "train,2", "train,3", "train,4", "eval,4", "train,5", "train,6", "eval,6"});
  fs::remove_all(run);
}

TEST_CASE("pruning never deletes the checkpoint it must keep, and removes checkpoint halves", "[train][resume]") {
  fs::path run = fresh_dir("prune_keep");
  train_here(tiny_toy(4), run.string());
  const std::string dir = (run / "checkpoints").string();
  fs::remove(fs::path(ckpt(run, 1)).replace_extension(".json"));  // a half
  // Step 2 is the last good one, with newer files beside it (as after resuming from it).
  std::vector<std::string> removed = prune_checkpoints(dir, 1, ckpt(run, 2));
  std::sort(removed.begin(), removed.end());
  CHECK(removed == std::vector<std::string>{ckpt(run, 1), ckpt(run, 3)});
  CHECK(list_checkpoints(dir) == std::vector<std::string>{ckpt(run, 2), ckpt(run, 4)});
  fs::remove_all(run);
}

TEST_CASE("a run resumes with its own saved config when no config file is given; eval likewise", "[train]") {
  fs::path run = fresh_dir("resume_own_config"), io = fresh_dir("resume_own_config_io");
  // Trained with a --set that the config file does not have (the README's runs/lr01).
  train_here(tiny_toy(2, {"optim.lr=0.01"}), run.string());
  RunResult r = run_moegrad_capture({"train", "--resume", run.string(), "--set", "train.steps=3"}, io);
  CHECK(r.status == 0);  // before: the config argument was required, and the file's lr differed
  CHECK(fs::exists(ckpt(run, 3)));
  // The train loss (main + aux) and the eval's main loss, each labelled.
  CHECK_THAT(r.out, Catch::Contains("done: 3 steps, final train loss ") && Catch::Contains(" (main ") &&
                        Catch::Contains(", eval main loss "));
  // The same continuation through a checkpoint of the run.
  r = run_moegrad_capture({"train", "--resume", ckpt(run, 3), "--set", "train.steps=4"}, io);
  CHECK(r.status == 0);
  // eval without a config: the checkpoint's own, the same loss as with the matching config.
  r = run_moegrad_capture({"eval", "--checkpoint", ckpt(run, 3)}, io);
  REQUIRE(r.status == 0);
  std::vector<std::string> with_config = {"eval", kToyConfig, "--checkpoint", ckpt(run, 3)};
  for (const auto& o : tiny_toy(3, {"optim.lr=0.01"})) with_config.insert(with_config.end(), {"--set", o});
  RunResult r2 = run_moegrad_capture(with_config, io);
  REQUIRE(r2.status == 0);
  CHECK(nlohmann::json::parse(r.out).at("loss") == nlohmann::json::parse(r2.out).at("loss"));
  // Neither a config nor a run: said plainly.
  r = run_moegrad_capture({"train", "--out", (io / "x").string()}, io);
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::Contains("a YAML config file is needed"));
  fs::remove_all(run);
  fs::remove_all(io);
}
