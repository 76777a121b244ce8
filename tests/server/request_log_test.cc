// The operator's log: request lines and the sink that stamps them, as text and as JSON.
#include "server/request_log.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <sstream>

namespace cairn::server {
namespace {

RequestRecord denied() {
  RequestRecord r;
  r.operation = "ListDatasets";
  r.method = "GET";
  r.path = "/identitypools/p/identities/i/datasets";
  r.status = 403;
  r.error_type = "NotAuthorizedException";
  r.reason = "say \"no\"\nnow";
  r.latency = std::chrono::microseconds(98);
  r.request_id = "rid-1";
  return r;
}

TEST(RequestLog, ATextLineHasOperationStatusLatencyIdAndTheErrorOnOneLine) {
  EXPECT_EQ(format_request(denied(), LogFormat::kText),
            "ListDatasets 403 0.098ms rid=rid-1 error=NotAuthorizedException "
            "reason=\"say \\\"no\\\"\\nnow\"");
  RequestRecord ok = denied();
  ok.status = 200;
  ok.error_type.clear();
  EXPECT_EQ(format_request(ok, LogFormat::kText), "ListDatasets 200 0.098ms rid=rid-1")
      << "a known operation's path is not repeated";
  RequestRecord unknown = denied();
  unknown.operation = "Unknown";
  unknown.status = 404;
  EXPECT_EQ(format_request(unknown, LogFormat::kText)
                .rfind("Unknown GET /identitypools/p/identities/i/datasets 404 ", 0),
            0u);
}

TEST(RequestLog, AJsonLineCarriesTheSameFields) {
  RequestRecord unknown = denied();
  unknown.operation = "Unknown";
  rapidjson::Document d;
  d.Parse(format_request(unknown, LogFormat::kJson).c_str());
  ASSERT_FALSE(d.HasParseError());
  EXPECT_STREQ(d["op"].GetString(), "Unknown");
  EXPECT_STREQ(d["method"].GetString(), "GET");
  EXPECT_STREQ(d["path"].GetString(), "/identitypools/p/identities/i/datasets");
  EXPECT_EQ(d["status"].GetInt(), 403);
  EXPECT_DOUBLE_EQ(d["ms"].GetDouble(), 0.098);
  EXPECT_STREQ(d["request_id"].GetString(), "rid-1");
  EXPECT_STREQ(d["error"].GetString(), "NotAuthorizedException");
  EXPECT_STREQ(d["reason"].GetString(), "say \"no\"\nnow");
}

TEST(RequestLog, TheSinkStampsTimeAndLevelAndKeepsJsonLinesValid) {
  std::ostringstream text, json;
  auto t = make_log_sink(LogFormat::kText, text);
  t(LogLevel::kWarn, "hello");
  // 2026-12-05T05:44:37.123Z WARN hello
  std::string line = text.str();
  ASSERT_EQ(line.size(), 24u + 12u) << line;
  EXPECT_EQ(line[4], '-');
  EXPECT_EQ(line[10], 'T');
  EXPECT_EQ(line[23], 'Z');
  EXPECT_EQ(line.substr(24), " WARN hello\n");

  auto j = make_log_sink(LogFormat::kJson, json);
  j(LogLevel::kInfo, format_request(denied(), LogFormat::kJson));
  j(LogLevel::kError, "{not json, just braces");
  j(LogLevel::kDebug, "{}");
  std::istringstream lines(json.str());
  std::string l;
  std::vector<rapidjson::Document> docs;
  while (std::getline(lines, l)) {
    docs.emplace_back();
    docs.back().Parse(l.c_str());
    ASSERT_FALSE(docs.back().HasParseError()) << l;
    EXPECT_TRUE(docs.back()["time"].IsString());
  }
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_STREQ(docs[0]["level"].GetString(), "info");
  EXPECT_STREQ(docs[0]["op"].GetString(), "ListDatasets");
  EXPECT_FALSE(docs[0].HasMember("msg"));
  EXPECT_STREQ(docs[1]["level"].GetString(), "error");
  EXPECT_STREQ(docs[1]["msg"].GetString(), "{not json, just braces");
  EXPECT_STREQ(docs[2]["msg"].GetString(), "{}");
}

}  // namespace
}  // namespace cairn::server
