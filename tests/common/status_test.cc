// Status and Result: what a caller sees of an error, including one it forgot to check.
#include <gtest/gtest.h>

#include <string>

#include "cairn/status.h"

namespace cairn {
namespace {

Result<int> failing() { return Status(ErrorCode::kStorage, "unable to open database file"); }

TEST(Result, ValueOnAnErrorThrowsTheErrorItselfWithItsCodeAndMessage) {
  Result<int> r = failing();
  try {
    (void)r.value();
    FAIL() << "value() on an error returned";
  } catch (const BadResultAccess& e) {
    EXPECT_EQ(e.status().code(), ErrorCode::kStorage);
    EXPECT_EQ(e.status().message(), "unable to open database file");
    EXPECT_NE(std::string(e.what()).find("unable to open database file"), std::string::npos)
        << e.what();
  }
}

TEST(Result, EveryWayToTheValueOfAnErrorThrowsBadResultAccess) {
  const Result<std::string> c = Status(ErrorCode::kNetwork, "connection refused");
  EXPECT_THROW((void)c.value(), BadResultAccess);
  EXPECT_THROW((void)*c, BadResultAccess);
  EXPECT_THROW((void)c->size(), BadResultAccess);
  EXPECT_THROW((void)Result<int>(failing()).value(), BadResultAccess);  // the rvalue overload
  // A std::exception, so a catch-all handler of the game's prints the real error.
  try {
    (void)failing().value();
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("unable to open database file"), std::string::npos);
  }
}

TEST(Result, ValueOfASuccessIsTheValue) {
  Result<std::string> r = std::string("seven");
  EXPECT_EQ(r.value(), "seven");
  EXPECT_EQ(r->size(), 5u);
  EXPECT_EQ(std::move(r).value(), "seven");
}

}  // namespace
}  // namespace cairn
