// Logging: the library never writes to stdout or stderr by itself. Everything it has to say goes
// through a callback the host installs, filtered by a minimum level.
//
// Thread safety: a Logger is immutable after construction and may be shared by every thread; the
// host's callback may be called concurrently from several threads and must be thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "cairn/export.h"

namespace cairn {

enum class LogLevel { kTrace = 0, kDebug, kInfo, kWarn, kError, kOff };

CAIRN_CPP_API std::string_view log_level_name(LogLevel level);

using LogCallback = std::function<void(LogLevel level, std::string_view message)>;

class CAIRN_CPP_API Logger {
 public:
  // A logger that drops everything.
  Logger() = default;
  Logger(LogCallback callback, LogLevel min_level)
      : callback_(std::move(callback)), min_level_(min_level) {}

  bool enabled(LogLevel level) const {
    return callback_ && level >= min_level_ && level != LogLevel::kOff;
  }
  void log(LogLevel level, std::string_view message) const {
    if (enabled(level)) callback_(level, message);
  }

 private:
  LogCallback callback_;
  LogLevel min_level_ = LogLevel::kOff;
};

using LoggerPtr = std::shared_ptr<const Logger>;

}  // namespace cairn
