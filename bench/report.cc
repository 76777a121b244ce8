#include "bench/report.h"

#include <rapidjson/ostreamwrapper.h>
#include <rapidjson/prettywriter.h>

#include <fstream>

namespace cairn::bench {

Figure rate_figure(std::string name, double value, std::string unit, std::string floor,
                   double floor_value, double target) {
  Figure f;
  f.name = std::move(name);
  f.value = value;
  f.unit = std::move(unit);
  f.floor = std::move(floor);
  f.floor_value = floor_value;
  if (floor_value > 0) f.ratio = value / floor_value;
  f.target = target;
  f.higher_is_better = true;
  return f;
}

Figure cost_figure(std::string name, double value, std::string unit, std::string floor,
                   double floor_value, double target) {
  Figure f =
      rate_figure(std::move(name), value, std::move(unit), std::move(floor), floor_value, target);
  f.higher_is_better = false;
  return f;
}

Figure reported(std::string name, double value, std::string unit, std::string note) {
  Figure f;
  f.name = std::move(name);
  f.value = value;
  f.unit = std::move(unit);
  f.note = std::move(note);
  return f;
}

void Report::print(std::FILE* out) const {
  std::fprintf(out, "\n%-44s %14s %14s %8s %8s  %s\n", "figure", "value", "floor", "ratio",
               "target", "met");
  for (const auto& f : figures_) {
    char floor[32] = "-", ratio[32] = "-", target[32] = "-";
    if (f.floor_value) std::snprintf(floor, sizeof floor, "%.4g", *f.floor_value);
    if (f.ratio) std::snprintf(ratio, sizeof ratio, "%.2fx", *f.ratio);
    if (f.target) {
      std::snprintf(target, sizeof target, "%s%.2gx", f.higher_is_better ? ">=" : "<=", *f.target);
    }
    auto met = f.met();
    std::fprintf(out, "%-44s %14.4g %14s %8s %8s  %s %s\n", f.name.c_str(), f.value, floor, ratio,
                 target, met ? (*met ? "yes" : "NO") : "-", f.unit.c_str());
  }
}

bool Report::write(const std::string& path) const {
  std::ofstream file(path);
  if (!file) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    return false;
  }
  rapidjson::OStreamWrapper os(file);
  rapidjson::PrettyWriter<rapidjson::OStreamWrapper> w(os);
  auto opt = [&](const char* key, const std::optional<double>& v) {
    w.Key(key);
    if (v)
      w.Double(*v);
    else
      w.Null();
  };
  w.StartObject();
  w.Key("figures");
  w.StartArray();
  for (const auto& f : figures_) {
    w.StartObject();
    w.Key("name");
    w.String(f.name.c_str());
    w.Key("value");
    w.Double(f.value);
    w.Key("unit");
    w.String(f.unit.c_str());
    w.Key("floor");
    if (f.floor.empty())
      w.Null();
    else
      w.String(f.floor.c_str());
    opt("floor_value", f.floor_value);
    opt("ratio", f.ratio);
    opt("target", f.target);
    w.Key("target_is");
    if (f.target)
      w.String(f.higher_is_better ? "min" : "max");
    else
      w.Null();
    w.Key("met");
    if (auto met = f.met())
      w.Bool(*met);
    else
      w.Null();
    if (!f.note.empty()) {
      w.Key("note");
      w.String(f.note.c_str());
    }
    w.EndObject();
  }
  w.EndArray();
  w.Key("series");
  w.StartArray();
  for (const auto& s : series_) {
    w.StartObject();
    w.Key("name");
    w.String(s.name.c_str());
    w.Key("title");
    w.String(s.title.c_str());
    w.Key("x_label");
    w.String(s.x_label.c_str());
    w.Key("y_label");
    w.String(s.y_label.c_str());
    w.Key("lines");
    w.StartArray();
    for (const auto& line : s.lines) {
      w.StartObject();
      w.Key("label");
      w.String(line.label.c_str());
      w.Key("points");
      w.StartArray();
      for (const auto& [x, y] : line.points) {
        w.StartArray();
        w.Double(x);
        w.Double(y);
        w.EndArray();
      }
      w.EndArray();
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  file << "\n";
  return static_cast<bool>(file);
}

}  // namespace cairn::bench
