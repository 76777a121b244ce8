// Figures and series a benchmark measured, with the floor each is compared with, written as one
// JSON part that bench/run.py merges into bench/results/latest.json.
//
// A figure with a target is judged by its ratio to the floor measured in the same run: for a rate
// the ratio is ours / floor and must be at least the target; for a time or a size it is
// ours / floor and must be at most the target. A figure without a floor is reported as is.
#pragma once

#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace cairn::bench {

struct Figure {
  std::string name;
  double value = 0;
  std::string unit;
  std::string floor;  // what the floor is; empty when the figure has none
  std::optional<double> floor_value;
  std::optional<double> ratio;
  std::optional<double> target;
  bool higher_is_better = false;  // the ratio must be >= target (else <= target)
  std::string note;

  std::optional<bool> met() const {
    if (!target || !ratio) return std::nullopt;
    return higher_is_better ? *ratio >= *target : *ratio <= *target;
  }
};

// A rate (ops/s, sessions/s) against the floor's rate: met when ours / floor >= target.
Figure rate_figure(std::string name, double value, std::string unit, std::string floor,
                   double floor_value, double target);
// A cost (time, bytes, memory) against the floor's: met when ours / floor <= target.
Figure cost_figure(std::string name, double value, std::string unit, std::string floor,
                   double floor_value, double target);
// A figure reported without a floor or a target.
Figure reported(std::string name, double value, std::string unit, std::string note = "");

struct Series {
  std::string name;  // a plot and its file: bench/results/<name>.png
  std::string title;
  std::string x_label;
  std::string y_label;
  struct Line {
    std::string label;
    std::vector<std::pair<double, double>> points;
  };
  std::vector<Line> lines;
};

class Report {
 public:
  void add(Figure f) { figures_.push_back(std::move(f)); }
  void add(Series s) { series_.push_back(std::move(s)); }
  const std::vector<Figure>& figures() const { return figures_; }

  // Prints the figures as a table.
  void print(std::FILE* out) const;
  // Writes {"figures": [...], "series": [...]}; returns false (and says why) on an I/O error.
  bool write(const std::string& path) const;

 private:
  std::vector<Figure> figures_;
  std::vector<Series> series_;
};

}  // namespace cairn::bench
