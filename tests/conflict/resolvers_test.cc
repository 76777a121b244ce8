// The conflict resolvers as pure functions: no store, no network.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "cairn/conflict.h"

namespace cairn {
namespace {

using namespace std::chrono_literals;

Timestamp at(int64_t seconds) { return Timestamp(std::chrono::seconds(seconds)); }

Conflict conflict(std::optional<std::string> local, std::optional<std::string> remote,
                  std::optional<std::string> base = std::nullopt, bool has_base = false) {
  Conflict c;
  c.dataset = "save";
  c.key = "k";
  c.local_value = std::move(local);
  c.remote_value = std::move(remote);
  c.base_value = std::move(base);
  c.has_base = has_base;
  c.local_modified = at(1000);
  c.remote_modified = at(1000);
  c.remote_sync_count = 7;
  return c;
}

bool json_equal(const std::string& a, const std::string& b) {
  rapidjson::Document x, y;
  x.Parse(a.c_str());
  y.Parse(b.c_str());
  return !x.HasParseError() && !y.HasParseError() && x == y;
}

TEST(Resolvers, RemoteAndLocalWins) {
  auto c = conflict("L", "R");
  EXPECT_EQ(remote_wins()(c, {}).resulting_value(c), "R");
  EXPECT_EQ(local_wins()(c, {}).resulting_value(c), "L");
  auto removed = conflict(std::nullopt, "R");
  EXPECT_FALSE(local_wins()(removed, {}).resulting_value(removed).has_value())
      << "local removal kept";
}

TEST(LastWriterWins, TheLaterWriteWinsAndTiesGoToTheServer) {
  auto c = conflict("L", "R");
  c.local_modified = at(1010);
  c.remote_modified = at(1000);
  EXPECT_EQ(last_writer_wins()(c, {}).kind, Resolution::Kind::kLocal);
  c.local_modified = at(990);
  EXPECT_EQ(last_writer_wins()(c, {}).kind, Resolution::Kind::kRemote);
  c.local_modified = at(1000);
  EXPECT_EQ(last_writer_wins()(c, {}).kind, Resolution::Kind::kRemote)
      << "a tie keeps the server's";
}

// Bug 1 of the anchors: comparing a device clock with server time picks the wrong write.
TEST(LastWriterWins, Bug01_TheDeviceClockIsCorrectedByTheMeasuredSkew) {
  // The server recorded the remote write at 12:00:00. This device wrote 10 s later in real time,
  // but its clock runs 20 minutes slow, so it stamped 11:40:10.
  auto c = conflict("local, newer", "remote, older");
  c.remote_modified = at(43200);
  c.local_modified = at(43200 - 20 * 60 + 10);
  ResolveContext uncorrected{0ms};
  EXPECT_EQ(last_writer_wins()(c, uncorrected).kind, Resolution::Kind::kRemote)
      << "without the skew the local write looks 20 minutes old";
  ResolveContext corrected{std::chrono::duration_cast<std::chrono::milliseconds>(20min)};
  EXPECT_EQ(last_writer_wins()(c, corrected).kind, Resolution::Kind::kLocal);
  // A device clock that runs fast is corrected the other way.
  c.local_modified = at(43200 + 20 * 60 - 10);
  ResolveContext fast{std::chrono::duration_cast<std::chrono::milliseconds>(-20min)};
  EXPECT_EQ(last_writer_wins()(c, fast).kind, Resolution::Kind::kRemote);
}

TEST(ThreeWayMerge, FieldsChangedOnOneSideOnlyAreNeverAConflict) {
  auto c =
      conflict(R"({"gold":15,"level":3,"name":"ann"})", R"({"gold":10,"level":4,"name":"ann"})",
               R"({"gold":10,"level":3,"name":"ann"})", true);
  auto r = three_way_merge()(c, {});
  ASSERT_EQ(r.kind, Resolution::Kind::kValue);
  EXPECT_TRUE(json_equal(*r.value, R"({"gold":15,"level":4,"name":"ann"})")) << *r.value;
}

TEST(ThreeWayMerge, NestedObjectsAdditionsAndRemovals) {
  auto c = conflict(R"({"inv":{"sword":1,"potion":2},"title":"x"})",
                    R"({"inv":{"potion":2,"shield":1},"title":"x","pet":"cat"})",
                    R"({"inv":{"potion":2},"title":"x","hat":true})", true);
  auto r = three_way_merge()(c, {});
  ASSERT_EQ(r.kind, Resolution::Kind::kValue);
  // hat: removed on both sides; pet: added remotely; sword and shield: each added on one side.
  EXPECT_TRUE(
      json_equal(*r.value, R"({"inv":{"sword":1,"potion":2,"shield":1},"title":"x","pet":"cat"})"))
      << *r.value;
}

TEST(ThreeWayMerge, AFieldRemovedOnOneSideAndUntouchedOnTheOtherIsRemoved) {
  auto c = conflict(R"({"a":1})", R"({"a":1,"b":2,"c":3})", R"({"a":1,"b":2})", true);
  auto r = three_way_merge()(c, {});
  EXPECT_TRUE(json_equal(*r.value, R"({"a":1,"c":3})")) << *r.value;
}

TEST(ThreeWayMerge, AFieldChangedOnBothSidesFollowsTheFallbackRule) {
  auto c = conflict(R"({"gold":15,"gems":1})", R"({"gold":20,"gems":0})", R"({"gold":10,"gems":0})",
                    true);
  c.local_modified = at(2000);  // local written later
  c.remote_modified = at(1000);
  auto lww = three_way_merge()(c, {});
  EXPECT_TRUE(json_equal(*lww.value, R"({"gold":15,"gems":1})")) << *lww.value;
  auto prefer_remote = three_way_merge(MergeFallback::kRemote)(c, {});
  EXPECT_TRUE(json_equal(*prefer_remote.value, R"({"gold":20,"gems":1})")) << *prefer_remote.value;
  auto prefer_local = three_way_merge(MergeFallback::kLocal)(c, {});
  EXPECT_TRUE(json_equal(*prefer_local.value, R"({"gold":15,"gems":1})"));
}

TEST(ThreeWayMerge, WithoutABaseTheUnionIsTakenAndClashesFallBack) {
  auto c = conflict(R"({"a":1,"same":true})", R"({"b":2,"same":true})");
  auto r = three_way_merge()(c, {});
  EXPECT_TRUE(json_equal(*r.value, R"({"a":1,"b":2,"same":true})")) << *r.value;
}

TEST(ThreeWayMerge, NonJsonValuesAndRemovalsFallBackToLastWriterWins) {
  auto text = conflict("plain text", "other text", "base", true);
  text.local_modified = at(2000);
  EXPECT_EQ(three_way_merge()(text, {}).kind, Resolution::Kind::kLocal);
  auto array = conflict("[1,2]", "[1,3]", "[1]", true);
  EXPECT_EQ(three_way_merge()(array, {}).kind, Resolution::Kind::kRemote)
      << "arrays are not merged";
  auto removed = conflict(std::nullopt, R"({"a":1})", R"({"a":0})", true);
  EXPECT_EQ(three_way_merge()(removed, {}).kind, Resolution::Kind::kRemote);
  EXPECT_EQ(three_way_merge(MergeFallback::kLocal)(removed, {}).kind, Resolution::Kind::kLocal);
}

TEST(CustomResolvers, AnyCallableIsAResolverAndMayLeaveTheConflictOpen) {
  Resolver max_score = [](const Conflict& c, const ResolveContext&) {
    if (!c.local_value || !c.remote_value) return Resolution::unresolved();
    return Resolution::with_value(
        std::to_string(std::max(std::stoi(*c.local_value), std::stoi(*c.remote_value))));
  };
  auto c = conflict("120", "95");
  EXPECT_EQ(max_score(c, {}).resulting_value(c), "120");
  EXPECT_EQ(max_score(conflict(std::nullopt, "1"), {}).kind, Resolution::Kind::kUnresolved);
}

TEST(MergeJsonObjects, RefusesWhatIsNotAnObjectPair) {
  EXPECT_FALSE(merge_json_objects(std::nullopt, "[1]", "{}", std::nullopt).has_value());
  EXPECT_FALSE(merge_json_objects(std::nullopt, "{bad", "{}", std::nullopt).has_value());
  EXPECT_FALSE(
      merge_json_objects(R"({"a":0})", R"({"a":1})", R"({"a":2})", std::nullopt).has_value())
      << "a both-sides change with no preference is left to the caller";
}

}  // namespace
}  // namespace cairn
