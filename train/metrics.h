#pragma once
// Metrics as JSON lines (metrics.jsonl, every field incl. per-layer lists) and a flat CSV
// (metrics.csv, fixed columns), both appended and flushed line by line; and the console
// progress: a live bar on a terminal, plain log lines otherwise.
#include <chrono>
#include <fstream>
#include <functional>
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

// The console's progress. On a terminal, a bar redrawn in place: the step, the train loss
// (main + aux) with its main part, both labelled, tokens/s and the ETA, cut to the
// terminal's width (asked at every draw, so a resize is followed) so that it never wraps,
// which would break the redraw. Off a terminal, nothing but the log lines.
class Progress {
 public:
  // `columns` gives the terminal's width (0: unknown, taken as 80).
  Progress(int64_t total_steps, bool interactive, std::ostream& out, std::function<int()> columns = {});
  // A train step finished: redraw the bar (at most ~10 times a second) on a terminal.
  void step(int64_t step, double loss, double main_loss, double tokens_per_s);
  // A line of its own (log or eval); on a terminal the bar is redrawn after it.
  void line(const std::string& text);
  void finish();
  bool interactive() const { return interactive_; }

  // The bar's text for `columns` columns: at most columns - 1 characters.
  static std::string layout(int columns, int64_t step, int64_t total, double loss, double main_loss,
                            double tokens_per_s, double eta_seconds);

 private:
  int64_t total_;
  bool interactive_;
  std::ostream& out_;
  std::function<int()> columns_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  int64_t start_step_ = -1;
  std::string bar_;
};

// The width of the terminal on stdout, or 0.
int terminal_columns();

}  // namespace moegrad::train
