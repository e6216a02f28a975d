// The console progress bar: both losses labelled, never wider than the terminal.
#include <catch2/catch.hpp>

#include <sstream>

#include "moegrad/train/metrics.h"

using moegrad::train::Progress;

TEST_CASE("the progress bar labels the train loss and its main part and fits any terminal width", "[train]") {
  const std::string wide = Progress::layout(120, 300, 600, 0.51234, 0.50123, 41234, 62);
  CHECK_THAT(wide, Catch::Contains("train loss 0.51234 (main 0.50123)"));
  CHECK_THAT(wide, Catch::Contains("300/600"));
  CHECK_THAT(wide, Catch::Contains("tok/s"));
  CHECK_THAT(wide, Catch::Contains("ETA 1:02"));
  CHECK(wide.find('[') == 0);
  for (int columns = 1; columns <= 130; ++columns) {
    const std::string bar = Progress::layout(columns, 300, 600, 0.51234, 0.50123, 41234, 62);
    INFO(columns << " columns: '" << bar << "'");
    CHECK(static_cast<int>(bar.size()) <= std::max(columns, 2) - 1);
    if (columns >= 12) CHECK_THAT(bar, Catch::Contains("300/600"));
    if (columns >= 50) CHECK_THAT(bar, Catch::Contains("(main 0.50123)"));
  }
}

TEST_CASE("on a terminal the bar is redrawn in place at the width asked at each draw", "[train]") {
  std::ostringstream out;
  int width = 100;
  Progress p(10, /*interactive=*/true, out, [&] { return width; });
  p.step(10, 1.5, 1.25, 1000);
  p.line("eval step 10  loss 1.2");
  width = 30;
  Progress narrow(10, true, out, [&] { return width; });
  narrow.step(10, 1.5, 1.25, 1000);
  narrow.finish();
  const std::string s = out.str();
  // Every draw first returns to the line's start and clears it.
  size_t draws = 0;
  for (size_t at = s.find("\r\033[K"); at != std::string::npos; at = s.find("\r\033[K", at + 1)) {
    ++draws;
    const size_t end = s.find_first_of("\r\n", at + 4);
    CHECK(s.substr(at + 4, end - at - 4).size() <= 99);
  }
  CHECK(draws >= 3);
  CHECK_THAT(s, Catch::Contains("eval step 10  loss 1.2\n"));
  const std::string last = s.substr(s.rfind("\r\033[K") + 4);
  CHECK(last.size() <= 30);  // 29 characters and the final newline
}

TEST_CASE("off a terminal the progress draws nothing", "[train]") {
  std::ostringstream out;
  Progress p(10, /*interactive=*/false, out, [] { return 80; });
  p.step(5, 1.0, 0.9, 100);
  p.finish();
  CHECK(out.str().empty());
}
