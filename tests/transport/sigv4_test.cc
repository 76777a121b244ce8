// SigV4 against the public AWS test suite and the Cognito golden vectors, read from ../shared/spec.
#include "transport/sigv4.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <filesystem>

#include "test_paths.h"
#include "transport/uri.h"

namespace cairn::transport {
namespace {

namespace fs = std::filesystem;
using cairn::testing::read_file;
using cairn::testing::shared_dir;

const AwsCredentials kSuiteCredentials{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                       "", std::nullopt};
constexpr char kSuiteDate[] = "20150830T123600Z";

std::string suite_root() { return shared_dir() + "/spec/sigv4/aws4_testsuite"; }

// Every folder of the suite that holds a <name>.req, relative to the suite root.
std::vector<std::string> suite_cases() {
  std::vector<std::string> cases;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(suite_root(), ec);
       !ec && it != fs::recursive_directory_iterator(); ++it) {
    if (it->path().extension() == ".req") {
      cases.push_back(fs::relative(it->path().parent_path(), suite_root()).string());
    }
  }
  std::sort(cases.begin(), cases.end());
  return cases;
}

// Parses the suite's raw HTTP request format: request line, headers (indented lines continue the
// previous header), blank line, body.
SigV4Request parse_req(const std::string& text) {
  SigV4Request req;
  std::vector<std::string> lines;
  size_t pos = 0;
  size_t body_start = std::string::npos;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() && !lines.empty()) {
      body_start = nl == std::string::npos ? text.size() : nl + 1;
      break;
    }
    lines.push_back(line);
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  const std::string& request_line = lines.at(0);
  size_t sp = request_line.find(' ');
  size_t http = request_line.rfind(" HTTP/");
  req.method = request_line.substr(0, sp);
  std::string target = request_line.substr(sp + 1, http - sp - 1);
  size_t q = target.find('?');
  req.path = target.substr(0, q);
  if (q != std::string::npos) req.query = target.substr(q + 1);
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    if ((line[0] == ' ' || line[0] == '\t') && !req.headers.empty()) {
      req.headers.back().second += "\n" + line;
      continue;
    }
    size_t colon = line.find(':');
    req.headers.emplace_back(line.substr(0, colon), line.substr(colon + 1));
  }
  static std::string body_storage;
  body_storage = body_start == std::string::npos ? "" : text.substr(body_start);
  req.body = body_storage;
  return req;
}

class AwsSigV4Suite : public ::testing::TestWithParam<std::string> {};

TEST_P(AwsSigV4Suite, ReproducesCanonicalRequestStringToSignAndAuthorization) {
  const std::string dir = suite_root() + "/" + GetParam();
  const std::string name = fs::path(GetParam()).filename().string();
  SigV4Request req = parse_req(read_file(dir + "/" + name + ".req"));
  AwsCredentials creds = kSuiteCredentials;
  if (name == "get-vanilla-with-session-token") {
    // The suite signs this case with a session token that is not in the .req file.
    req.headers.emplace_back("X-Amz-Security-Token",
                             "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267");
  }
  SigV4Signature sig = compute_sigv4(req, creds, {"us-east-1", "service"}, kSuiteDate);
  EXPECT_EQ(sig.canonical_request, read_file(dir + "/" + name + ".creq"));
  EXPECT_EQ(sig.string_to_sign, read_file(dir + "/" + name + ".sts"));
  EXPECT_EQ(sig.authorization, read_file(dir + "/" + name + ".authz"));
}

INSTANTIATE_TEST_SUITE_P(Cases, AwsSigV4Suite, ::testing::ValuesIn(suite_cases()),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) {
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return n;
                         });

TEST(AwsSigV4SuiteCoverage, EveryCaseOfTheSuiteIsFound) {
  // 25 top-level cases, the 8 normalize-path cases and the 2 STS-token cases, less the two
  // folders that only group others.
  EXPECT_GE(suite_cases().size(), 31u) << "suite root: " << suite_root();
}

TEST(CognitoGoldenVectors, DoubleEncodedPathAndSignaturesMatchBotocore) {
  rapidjson::Document doc;
  std::string json = read_file(shared_dir() + "/spec/sigv4/vectors.json");
  doc.Parse(json.c_str());
  ASSERT_TRUE(doc.IsArray());
  ASSERT_EQ(doc.Size(), 3u);
  for (const auto& v : doc.GetArray()) {
    std::string url = v["url"].GetString();
    // https://HOST/PATH?QUERY
    size_t host_start = url.find("://") + 3;
    size_t path_start = url.find('/', host_start);
    std::string host = url.substr(host_start, path_start - host_start);
    std::string target = url.substr(path_start);
    size_t q = target.find('?');
    SigV4Request req;
    req.method = v["method"].GetString();
    req.path = target.substr(0, q);
    req.query = q == std::string::npos ? "" : target.substr(q + 1);
    req.headers.emplace_back("Host", host);
    for (const auto& h : v["headers"].GetObject()) {
      std::string name = h.name.GetString();
      if (name == "Authorization" || name == "Content-Length") continue;
      req.headers.emplace_back(name, h.value.GetString());
    }
    std::string body = v["body"].IsString() ? v["body"].GetString() : "";
    req.body = body;
    std::string service = host.substr(0, host.find('.'));
    SigV4Signature sig = compute_sigv4(req, kSuiteCredentials, {"us-east-1", service}, kSuiteDate);
    SCOPED_TRACE(v["op"].GetString());
    EXPECT_EQ(sig.canonical_request, v["canonical_request"].GetString());
    EXPECT_EQ(sig.string_to_sign, v["string_to_sign"].GetString());
    EXPECT_EQ(sig.authorization, v["authorization"].GetString());
  }
}

TEST(SigV4, CanonicalUriEncodesTheWirePathOnceMore) {
  EXPECT_EQ(canonical_uri("/identitypools/us-east-1%3Aabc/datasets/a%2Fb"),
            "/identitypools/us-east-1%253Aabc/datasets/a%252Fb");
  EXPECT_EQ(canonical_uri("/"), "/");
  EXPECT_EQ(canonical_uri(""), "/");
  EXPECT_EQ(canonical_uri("/a/./b/../c/"), "/a/c/");
}

TEST(SigV4, CanonicalQuerySortsAndReencodes) {
  EXPECT_EQ(canonical_query("b=2&a=1&a=0"), "a=0&a=1&b=2");
  EXPECT_EQ(canonical_query("syncSessionToken=sst%20token%2B%2F%3D"),
            "syncSessionToken=sst%20token%2B%2F%3D");
  EXPECT_EQ(canonical_query("flag"), "flag=");
  EXPECT_EQ(canonical_query(""), "");
}

TEST(SigV4, WhatIsCanonicalAlreadyAndWhatIsNotComeOutTheSame) {
  // Already canonical: taken as it is.
  EXPECT_EQ(canonical_query("lastSyncCount=5&maxResults=1024&syncSessionToken=a%2Fb%3D"),
            "lastSyncCount=5&maxResults=1024&syncSessionToken=a%2Fb%3D");
  EXPECT_EQ(canonical_query("a=1&a=2&b="), "a=1&a=2&b=");
  // Each near miss is taken apart and put back in canonical form.
  EXPECT_EQ(canonical_query("b=1&a=2"), "a=2&b=1");  // out of order
  EXPECT_EQ(canonical_query("a=2&a=1"), "a=1&a=2");  // values out of order
  EXPECT_EQ(canonical_query("a=%2f"), "a=%2F");      // a lower-case escape
  EXPECT_EQ(canonical_query("a=%41"), "a=A");        // an unreserved byte escaped
  EXPECT_EQ(canonical_query("a=x+y"), "a=x%2By");    // a reserved byte as it is
  EXPECT_EQ(canonical_query("a=1&"), "a=1");         // an empty pair
  EXPECT_EQ(canonical_query("a=1&&b=2"), "a=1&b=2");
  EXPECT_EQ(canonical_query("a"), "a=");       // no '='
  EXPECT_EQ(canonical_query("a=%"), "a=%25");  // a cut escape
  EXPECT_EQ(canonical_query("a=%4"), "a=%254");
  // Paths: the normal ones are encoded once more as they are; the others normalised first.
  EXPECT_EQ(canonical_uri("/identitypools/us-east-1%3Aabc/datasets/x/records"),
            "/identitypools/us-east-1%253Aabc/datasets/x/records");
  EXPECT_EQ(canonical_uri("/a/b/"), "/a/b/");
  EXPECT_EQ(canonical_uri("/a//b"), "/a/b");
  EXPECT_EQ(canonical_uri("//a"), "/a");
  EXPECT_EQ(canonical_uri("/a/.."), "/");
  EXPECT_EQ(canonical_uri("/a/./b/"), "/a/b/");
  EXPECT_EQ(canonical_uri("/a b/~c"), "/a%20b/~c");
}

TEST(SigV4, TheAmzDateIsFormattedDigitByDigit) {
  EXPECT_EQ(format_amz_date(std::chrono::system_clock::from_time_t(0)), "19700101T000000Z");
  EXPECT_EQ(format_amz_date(std::chrono::system_clock::from_time_t(1835481599)),
            "20280229T235959Z");
  EXPECT_EQ(format_amz_date(std::chrono::system_clock::from_time_t(-1)), "19691231T235959Z");
  // Every day of four years, against gmtime_r.
  for (std::time_t t = 1700000000; t < 1700000000 + 4 * 366 * 86400; t += 86400 + 3607) {
    std::tm tm{};
    gmtime_r(&t, &tm);
    char expected[32];
    std::strftime(expected, sizeof expected, "%Y%m%dT%H%M%SZ", &tm);
    ASSERT_EQ(format_amz_date(std::chrono::system_clock::from_time_t(t)), expected) << t;
  }
}

TEST(HttpDate, ImfFixdateParsesAndEverythingElseIsRefused) {
  EXPECT_EQ(parse_http_date("Sun, 30 Aug 2015 12:36:00 GMT"),
            std::chrono::system_clock::from_time_t(1440938160));
  EXPECT_EQ(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"),
            std::chrono::system_clock::from_time_t(0));
  EXPECT_EQ(parse_http_date("Tue, 29 Feb 2028 23:59:59 GMT"),
            std::chrono::system_clock::from_time_t(1835481599));
  for (const char* bad : {"", "Sun, 30 Aug 2015 12:36:00 UTC", "Sun, 30 Xyz 2015 12:36:00 GMT",
                          "Sun, 30 ugS 2015 12:36:00 GMT", "Sun, 3O Aug 2015 12:36:00 GMT",
                          "Sun, 30 Aug 2015 24:00:00 GMT", "Sun, 30 Aug 2015 12-36-00 GMT",
                          "Sunday, 30-Aug-15 12:36:00 GMT", "Sun Aug 30 12:36:00 2015",
                          "Sun, 30 Aug 2015 12:36:00 GMT "}) {
    EXPECT_EQ(parse_http_date(bad), std::nullopt) << bad;
  }
}

TEST(SigV4, SignRequestAddsDateTokenAndAuthorizationAndReplacesAnOldSignature) {
  SigV4Request req{"GET", "/", "", {{"Host", "example.amazonaws.com"}}, ""};
  AwsCredentials creds{"AKID", "SECRET", "TOKEN", std::nullopt};
  auto t = std::chrono::system_clock::from_time_t(1440938160);  // 2015-08-30T12:36:00Z
  ASSERT_TRUE(sign_request(req, creds, {"us-east-1", "cognito-sync"}, t).ok());
  ASSERT_TRUE(sign_request(req, creds, {"us-east-1", "cognito-sync"}, t).ok());
  EXPECT_EQ(*find_header(req.headers, "x-amz-date"), "20150830T123600Z");
  EXPECT_EQ(*find_header(req.headers, "x-amz-security-token"), "TOKEN");
  int authorizations = 0;
  for (const auto& h : req.headers) authorizations += iequals(h.first, "Authorization");
  EXPECT_EQ(authorizations, 1);
  EXPECT_NE(find_header(req.headers, "authorization")
                ->find("SignedHeaders=host;x-amz-date;x-amz-security-token,"),
            std::string::npos);
}

TEST(SigV4, SignRequestRefusesEmptyCredentials) {
  SigV4Request req{"GET", "/", "", {{"Host", "h"}}, ""};
  Status s = sign_request(req, AwsCredentials{}, {"us-east-1", "cognito-sync"},
                          std::chrono::system_clock::now());
  EXPECT_EQ(s.code(), ErrorCode::kNoCredentials);
}

TEST(Uri, EncodeKeepsOnlyUnreservedCharacters) {
  EXPECT_EQ(uri_encode("us-east-1:ab c/d~e_f.g+h="), "us-east-1%3Aab%20c%2Fd~e_f.g%2Bh%3D");
  EXPECT_EQ(uri_encode("a/b", /*keep_slash=*/true), "a/b");
  EXPECT_EQ(uri_decode("a%3Ab%2fc%zz+%"), "a:b/c%zz+%");
}

}  // namespace
}  // namespace cairn::transport
