// Timestamp: a point in time, as every cairn API takes and gives one (record times, sync times,
// conflict times). The wire carries epoch seconds or milliseconds; this is the system clock's
// time point.
#pragma once

#include <chrono>

namespace cairn {

using Timestamp = std::chrono::system_clock::time_point;

}  // namespace cairn
