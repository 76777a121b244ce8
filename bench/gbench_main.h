// The main() of the Google Benchmark binaries: runs the benchmarks with the usual console output,
// keeps each one's time per iteration, then turns them into figures against their floors
// (Report) and, with --out FILE, writes them for bench/run.py.
#pragma once

#include <benchmark/benchmark.h>

#include <cstring>
#include <functional>
#include <map>
#include <string>

#include "bench/report.h"

namespace cairn::bench {

// Benchmark name -> real nanoseconds per iteration.
using Timings = std::map<std::string, double>;

class CollectingReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& r : runs) timings_[r.benchmark_name()] = r.GetAdjustedRealTime();
  }
  const Timings& timings() const { return timings_; }

 private:
  Timings timings_;
};

// Operations per second from nanoseconds per operation.
inline double per_second(double ns) { return ns > 0 ? 1e9 / ns : 0; }

inline int run_benchmarks(int argc, char** argv,
                          const std::function<void(const Timings&, Report&)>& figures) {
  benchmark::Initialize(&argc, argv);
  std::string out;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--out=", 6) == 0) {
      out = argv[i] + 6;
    } else if (std::strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
      out = argv[++i];
    } else {
      std::fprintf(stderr, "unknown argument %s (use --out FILE or --benchmark_* flags)\n",
                   argv[i]);
      return 2;
    }
  }
  CollectingReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  Report report;
  figures(reporter.timings(), report);
  report.print(stdout);
  if (!out.empty() && !report.write(out)) return 1;
  return 0;
}

}  // namespace cairn::bench
