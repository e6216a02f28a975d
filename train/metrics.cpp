#include "moegrad/train/metrics.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include <sys/ioctl.h>
#include <unistd.h>

#include "moegrad/core/error.h"
#include "moegrad/nn/json_depth.h"
#include "moegrad/nn/safetensors.h"

namespace moegrad::train {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {
// The step of one metrics line, or -1 when the line is not a whole record (a line cut off
// by a kill or a full disk, or edited by hand): such lines are dropped, never fatal.
int64_t step_of(const std::string& line, bool csv) {
  if (csv) {
    // A whole record has every column.
    if (std::count(line.begin(), line.end(), ',') + 1 != static_cast<std::ptrdiff_t>(MetricsLog::csv_columns().size()))
      return -1;
    const size_t comma = line.find(',');
    const size_t next = line.find(',', comma + 1);
    int64_t step = -1;
    const char* first = line.data() + comma + 1;
    const char* last = line.data() + next;
    auto [end, err] = std::from_chars(first, last, step);
    return err == std::errc() && end == last ? step : -1;
  }
  if (!nn::json_nesting_problem(line, nn::kMaxJsonDepth).empty()) return -1;  // not a line moegrad wrote
  json j = json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("step") || !j["step"].is_number_integer()) return -1;
  return j["step"].get<int64_t>();
}

// Keeps the lines of `path` whose step is <= keep (and the CSV header); rewritten atomically.
void truncate_after(const std::string& path, int64_t keep, bool csv) {
  if (!fs::exists(path)) return;
  std::istringstream in(nn::read_file(path, kMaxTextFileBytes));
  std::string out, line;
  bool header = csv;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (header) {
      out += line + "\n";
      header = false;
      continue;
    }
    const int64_t step = step_of(line, csv);
    if (step >= 0 && step <= keep) out += line + "\n";
  }
  nn::write_file_atomic(path, out);
}

std::string csv_field(const json& v) {
  if (v.is_null()) return "";
  if (v.is_number()) {
    std::ostringstream os;
    os.precision(9);
    os << v.get<double>();
    return os.str();
  }
  if (v.is_string()) return v.get<std::string>();
  return "";
}

std::string format_duration(double seconds) {
  const auto s = static_cast<int64_t>(seconds + 0.5);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%lld:%02lld", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  return buf;
}
}  // namespace

const std::vector<std::string>& MetricsLog::csv_columns() {
  static const std::vector<std::string> cols = {
      "kind", "step", "loss", "main_loss", "aux_loss", "balance_loss", "router_z_loss", "lr", "grad_norm",
      "tokens_per_s", "dropped_fraction", "routing_entropy", "specialisation", "bits_per_char"};
  return cols;
}

MetricsLog::MetricsLog(const std::string& run_dir, int64_t keep_up_to_step)
    : jsonl_path_((fs::path(run_dir) / "metrics.jsonl").string()),
      csv_path_((fs::path(run_dir) / "metrics.csv").string()) {
  truncate_after(jsonl_path_, keep_up_to_step, false);
  truncate_after(csv_path_, keep_up_to_step, true);
  const bool new_csv = !fs::exists(csv_path_) || fs::file_size(csv_path_) == 0;
  jsonl_.open(jsonl_path_, std::ios::app);
  csv_.open(csv_path_, std::ios::app);
  if (!jsonl_ || !csv_) throw Error("cannot write metrics in " + run_dir);
  if (new_csv) {
    std::string header;
    for (const auto& c : csv_columns()) header += (header.empty() ? "" : ",") + c;
    csv_ << header << "\n" << std::flush;
  }
}

void MetricsLog::write(const json& record) {
  jsonl_ << record.dump() << "\n" << std::flush;
  std::string row;
  bool first = true;
  for (const auto& c : csv_columns()) {
    row += (first ? "" : ",") + (record.contains(c) ? csv_field(record.at(c)) : std::string());
    first = false;
  }
  csv_ << row << "\n" << std::flush;
  if (!jsonl_ || !csv_) throw Error("cannot append to " + jsonl_path_ + " or " + csv_path_);
}

Progress::Progress(int64_t total_steps, bool interactive, std::ostream& out, std::function<int()> columns)
    : total_(total_steps), interactive_(interactive), out_(out), columns_(std::move(columns)) {
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

std::string Progress::layout(int columns, int64_t step, int64_t total, double loss, double main_loss,
                             double tokens_per_s, double eta_seconds) {
  char buf[160];
  const std::string counter = std::to_string(step) + "/" + std::to_string(total);
  std::snprintf(buf, sizeof(buf), "  train loss %.5f (main %.5f)", loss, main_loss);
  const std::string losses = buf;
  std::snprintf(buf, sizeof(buf), "  loss %.4f", loss);
  const std::string short_loss = buf;
  std::snprintf(buf, sizeof(buf), "  %.0f tok/s", tokens_per_s);
  const std::string speed = buf;
  const std::string eta = "  ETA " + format_duration(eta_seconds);
  const int room = std::max(columns, 2) - 1;  // the last column would wrap on some terminals
  // The first variant that fits: the bar (shrinking to 10 cells) with the labelled losses,
  // tok/s and the ETA; without tok/s, then without the ETA; then no bar; then the losses
  // unlabelled; then the counter alone.
  struct Variant {
    bool bar;
    std::string tail;
  };
  const Variant variants[] = {{true, losses + speed + eta}, {true, losses + eta}, {true, losses},
                              {false, losses + eta},        {false, losses},      {false, short_loss}};
  for (const Variant& v : variants) {
    const int text = static_cast<int>(counter.size() + v.tail.size());
    if (!v.bar) {
      if (text <= room) return counter + v.tail;
      continue;
    }
    const int width = std::min(28, room - text - 3);  // "[", "] "
    if (width < 10) continue;
    const int filled = static_cast<int>(width * step / std::max<int64_t>(total, 1));
    return "[" + std::string(filled, '#') + std::string(width - filled, '.') + "] " + counter + v.tail;
  }
  return counter.substr(0, room);
}

void Progress::step(int64_t step, double loss, double main_loss, double tokens_per_s) {
  if (start_step_ < 0) {
    start_step_ = step - 1;
    start_ = std::chrono::steady_clock::now();
  }
  if (!interactive_) return;
  const auto now = std::chrono::steady_clock::now();
  if (step < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double per_step = elapsed / std::max<int64_t>(1, step - start_step_);
  const double eta = per_step * static_cast<double>(total_ - step);
  const int columns = columns_ ? columns_() : 0;
  bar_ = layout(columns > 0 ? columns : 80, step, total_, loss, main_loss, tokens_per_s, eta);
  out_ << "\r\033[K" << bar_ << std::flush;
}

int terminal_columns() {
  winsize w{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &w) == 0 && w.ws_col > 0) return w.ws_col;
  return 0;
}

void Progress::line(const std::string& text) {
  if (interactive_ && !bar_.empty()) out_ << "\r\033[K";
  out_ << text << "\n";
  if (interactive_ && !bar_.empty()) out_ << "\r\033[K" << bar_;
  out_ << std::flush;
}

void Progress::finish() {
  if (interactive_ && !bar_.empty()) out_ << "\n" << std::flush;
  bar_.clear();
}

}  // namespace moegrad::train
