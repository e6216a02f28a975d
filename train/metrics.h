#pragma once
// Metrics as JSON lines (metrics.jsonl, every field incl. per-layer lists) and a flat CSV
// (metrics.csv, fixed columns), both appended and flushed line by line; and the console
// progress: a live bar on a terminal, plain log lines otherwise.
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace moegrad::train {

class MetricsLog {
 public:
  // Opens (creating) the files in run_dir, first dropping records of steps after
  // `keep_up_to_step` (what a resumed run will write again).
  MetricsLog(const std::string& run_dir, int64_t keep_up_to_step);
  void write(const nlohmann::json& record);
  std::string jsonl_path() const { return jsonl_path_; }
  std::string csv_path() const { return csv_path_; }

  static const std::vector<std::string>& csv_columns();

 private:
  std::string jsonl_path_, csv_path_;
  std::ofstream jsonl_, csv_;
};

class Progress {
 public:
  Progress(int64_t total_steps, bool interactive, std::ostream& out);
  // A train step finished: redraw the bar (at most ~10 times a second) on a terminal.
  void step(int64_t step, double loss, double tokens_per_s);
  // A line of its own (log or eval); on a terminal the bar is redrawn after it.
  void line(const std::string& text);
  void finish();
  bool interactive() const { return interactive_; }

 private:
  int64_t total_;
  bool interactive_;
  std::ostream& out_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  int64_t start_step_ = -1;
  std::string bar_;
};

}  // namespace moegrad::train
