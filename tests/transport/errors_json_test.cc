// Error-response parsing (the measured SDK behaviour of docs/wire-protocol.md 5.2) and the JSON
// rules: epoch-second timestamps in every form, null as absent, 64-bit longs.
#include <gtest/gtest.h>

#include "transport/errors.h"
#include "transport/identity_protocol.h"
#include "transport/json.h"
#include "transport/redact.h"
#include "transport/sync_protocol.h"

namespace cairn::transport {
namespace {

HttpResponse response(int status, HttpHeaders headers, std::string body) {
  return HttpResponse{status, std::move(headers), std::move(body)};
}

TEST(ErrorParsing, CaseA_HeaderWithCoralSuffixGivesTheCodeForRestJson) {
  Status s = parse_error_response(
      Protocol::kRestJson, response(409,
                                    {{"x-amzn-ErrorType",
                                      "ResourceConflictException:http://internal.amazon.com/coral/"
                                      "com.amazonaws.cognito.sync.model/"},
                                     {"x-amzn-RequestId", "req-1"}},
                                    R"({"message":"Current SyncCount for: k is: 3 not: 2"})"));
  EXPECT_EQ(s.code(), ErrorCode::kResourceConflict);
  EXPECT_EQ(s.message(), "Current SyncCount for: k is: 3 not: 2");
  EXPECT_EQ(s.http_status(), 409);
  EXPECT_EQ(s.request_id(), "req-1");
  EXPECT_FALSE(s.is_transient());
}

TEST(ErrorParsing, CaseA_AwsJsonIgnoresNothingButPrefersTheBodyType) {
  // With only the header, awsJson still finds the code (JS v3 reads the header last).
  Status s = parse_error_response(
      Protocol::kAwsJson, response(400, {{"x-amzn-ErrorType", "NotAuthorizedException"}}, "{}"));
  EXPECT_EQ(s.code(), ErrorCode::kNotAuthorized);
}

TEST(ErrorParsing, CaseB_TypeOnlyAndNamespacedType) {
  EXPECT_EQ(parse_error_response(
                Protocol::kRestJson,
                response(409, {}, R"({"__type":"ResourceConflictException","message":"m"})"))
                .code(),
            ErrorCode::kResourceConflict);
  EXPECT_EQ(
      parse_error_response(
          Protocol::kAwsJson,
          response(400, {},
                   R"({"__type":"com.amazonaws.cognito.identity.model#NotAuthorizedException"})"))
          .code(),
      ErrorCode::kNotAuthorized);
}

TEST(ErrorParsing, CaseC_HeaderWinsForRestJsonTypeWinsForAwsJson) {
  auto r = response(404, {{"x-amzn-ErrorType", "ResourceNotFoundException"}},
                    R"({"__type":"ResourceConflictException","message":"m"})");
  EXPECT_EQ(parse_error_response(Protocol::kRestJson, r).code(), ErrorCode::kResourceNotFound);
  EXPECT_EQ(parse_error_response(Protocol::kAwsJson, r).code(), ErrorCode::kResourceConflict);
}

TEST(ErrorParsing, CaseD_BodyCodeBeatsTypeForRestJsonOnly) {
  auto r = response(400, {},
                    R"({"__type":"InvalidParameterException","code":"LimitExceededException"})");
  EXPECT_EQ(parse_error_response(Protocol::kRestJson, r).code(), ErrorCode::kLimitExceeded);
  EXPECT_EQ(parse_error_response(Protocol::kAwsJson, r).code(), ErrorCode::kInvalidParameter);
}

TEST(ErrorParsing, CaseE_EmptyFiveHundredIsTransientWithTheStatusAsCode) {
  Status s = parse_error_response(Protocol::kRestJson, response(500, {}, ""));
  EXPECT_EQ(s.code(), ErrorCode::kUnknownServiceError);
  EXPECT_EQ(s.service_code(), "500");
  EXPECT_EQ(s.message(), "Internal Server Error");
  EXPECT_TRUE(s.is_transient());
  Status html = parse_error_response(Protocol::kRestJson,
                                     response(502, {}, "<html><body>Bad Gateway</body></html>"));
  EXPECT_TRUE(html.is_transient());
  EXPECT_EQ(html.service_code(), "502");
}

TEST(ErrorParsing, CaseF_UnknownCodeIsKeptByName) {
  Status s = parse_error_response(Protocol::kRestJson,
                                  response(400, {}, R"({"__type":"FooException","message":"x"})"));
  EXPECT_EQ(s.code(), ErrorCode::kUnknownServiceError);
  EXPECT_EQ(s.service_code(), "FooException");
  EXPECT_FALSE(s.is_transient());
}

TEST(ErrorParsing, CaseH_LowerCaseMessageWins) {
  Status s = parse_error_response(
      Protocol::kRestJson,
      response(400, {},
               R"({"__type":"InvalidParameterException","message":"lower","Message":"upper"})"));
  EXPECT_EQ(s.message(), "lower");
  Status upper = parse_error_response(
      Protocol::kRestJson,
      response(400, {}, R"({"__type":"InvalidParameterException","Message":"upper"})"));
  EXPECT_EQ(upper.message(), "upper");
}

TEST(ErrorParsing, SanitisingCutsCommaColonAndNamespace) {
  EXPECT_EQ(sanitize_error_code("aws.protocoltests#FooError:http://x,y"), "FooError");
  EXPECT_EQ(sanitize_error_code("TooManyRequestsException"), "TooManyRequestsException");
  EXPECT_EQ(sanitize_error_code(" LimitExceededException , more"), "LimitExceededException");
}

TEST(ErrorClassification, ThrottlesAndTransientsAreRetryableConflictsAreNot) {
  auto st = [](const char* code, int http) { return Status::FromService(code, "m", http); };
  EXPECT_TRUE(st("TooManyRequestsException", 429).is_throttle());
  EXPECT_TRUE(st("LambdaThrottledException", 429).is_throttle());
  EXPECT_TRUE(st("ThrottlingException", 400).is_throttle());
  EXPECT_TRUE(st("SomethingNew", 429).is_throttle()) << "any 429 is a throttle";
  EXPECT_TRUE(st("InternalErrorException", 500).is_transient());
  EXPECT_TRUE(st("ServiceUnavailable", 503).is_transient());
  EXPECT_FALSE(st("ResourceConflictException", 409).is_transient());
  EXPECT_FALSE(st("InvalidParameterException", 400).is_transient());
  // Cognito Sync's LimitExceeded is the dataset-size quota: retrying cannot help.
  EXPECT_FALSE(st("LimitExceededException", 400).is_transient());
  EXPECT_FALSE(st("NotAuthorizedException", 403).is_transient());
  EXPECT_TRUE(Status(ErrorCode::kNetwork, "reset").is_transient());
  EXPECT_TRUE(Status(ErrorCode::kTimeout, "slow").is_transient());
  EXPECT_FALSE(Status(ErrorCode::kTls, "bad cert").is_transient());
  EXPECT_TRUE(st("InvalidSignatureException", 403).is_clock_skew());
  EXPECT_TRUE(st("RequestTimeTooSkewed", 403).is_clock_skew());
  EXPECT_EQ(st("ResourceConflictException", 409).ToString(), "ResourceConflictException (409): m");
}

TEST(ErrorClassification, EveryServiceCodeRoundTripsThroughItsName) {
  for (int i = static_cast<int>(ErrorCode::kAlreadyStreamed);
       i < static_cast<int>(ErrorCode::kUnknownServiceError); ++i) {
    auto code = static_cast<ErrorCode>(i);
    EXPECT_EQ(error_code_from_name(error_code_name(code)), code) << error_code_name(code);
  }
}

// --- JSON --------------------------------------------------------------------------------------

double seconds(Timestamp t) { return std::chrono::duration<double>(t.time_since_epoch()).count(); }

TEST(JsonTimestamps, IntegersFractionsExponentsStringsAndIsoAllParse) {
  rapidjson::Document doc;
  ASSERT_TRUE(json::parse(R"({"a":1700000000,"b":1700000000.5,"c":1.515115602E9,"d":"1700000000",
                              "e":"2023-11-14T22:13:20Z","f":"2023-11-14T23:13:20.250+01:00","g":null})",
                          doc)
                  .ok());
  json::ObjectReader r(doc, "test");
  EXPECT_DOUBLE_EQ(seconds(*r.time("a")), 1700000000);
  EXPECT_DOUBLE_EQ(seconds(*r.time("b")), 1700000000.5);
  EXPECT_DOUBLE_EQ(seconds(*r.time("c")), 1515115602);
  EXPECT_DOUBLE_EQ(seconds(*r.time("d")), 1700000000);
  EXPECT_DOUBLE_EQ(seconds(*r.time("e")), 1700000000);
  EXPECT_DOUBLE_EQ(seconds(*r.time("f")), 1700000000.25);
  EXPECT_FALSE(r.time("g").has_value()) << "null is absent";
  EXPECT_FALSE(r.time("missing").has_value());
  EXPECT_TRUE(r.status().ok());
}

TEST(JsonTimestamps, EpochMillisecondsAndGarbageAreParseErrors) {
  rapidjson::Document doc;
  ASSERT_TRUE(json::parse(R"({"ms":17000000001230000,"s":"yesterday"})", doc).ok());
  json::ObjectReader r(doc, "test");
  EXPECT_FALSE(r.time("ms").has_value());
  EXPECT_EQ(r.status().code(), ErrorCode::kParse);
  json::ObjectReader r2(doc, "test");
  EXPECT_FALSE(r2.time("s").has_value());
  EXPECT_FALSE(r2.status().ok());
}

// Found by fuzz_client_responses: 1.17e11 s (year 5677) passed the old bound and overflowed the
// nanosecond clock. Times a Timestamp cannot hold are parse errors, in both notations.
TEST(JsonTimestamps, TimesBeyondWhatATimestampHoldsAreParseErrors) {
  rapidjson::Document doc;
  ASSERT_TRUE(json::parse(R"({"far":117E9,"near":9.2E9,"iso":"9999-12-31T23:59:59Z",
                              "neg":-1E11,"ok":"2262-01-01T00:00:00Z"})",
                          doc)
                  .ok());
  for (const char* key : {"far", "iso", "neg"}) {
    json::ObjectReader r(doc, "test");
    EXPECT_FALSE(r.time(key).has_value()) << key;
    EXPECT_EQ(r.status().code(), ErrorCode::kParse) << key;
  }
  json::ObjectReader r(doc, "test");
  EXPECT_TRUE(r.time("near").has_value()) << "year 2261 still fits";
  EXPECT_TRUE(r.time("ok").has_value());
  EXPECT_TRUE(r.status().ok());
}

// Members are tried in the order a shape asks for them first; whatever the order, and with a name
// given twice, the answer is the search's: the first member of that name.
TEST(JsonObjects, MembersAreFoundInAnyOrderAndARepeatedNameGivesItsFirst) {
  rapidjson::Document doc;
  ASSERT_TRUE(json::parse(R"({"a":"1","b":"2","c":"3","b":"b2","a":"a2"})", doc).ok());
  json::ObjectReader in_order(doc, "test");
  EXPECT_EQ(in_order.str("a"), "1");
  EXPECT_EQ(in_order.str("b"), "2");
  EXPECT_EQ(in_order.str("c"), "3");
  EXPECT_EQ(in_order.str("d"), std::nullopt);
  json::ObjectReader shuffled(doc, "test");
  EXPECT_EQ(shuffled.str("c"), "3");
  EXPECT_EQ(shuffled.str("a"), "1");
  EXPECT_EQ(shuffled.str("b"), "2");

  ASSERT_TRUE(json::parse(R"({"b":"x","a":"1","b":"y"})", doc).ok());
  json::ObjectReader skipped(doc, "test");
  EXPECT_EQ(skipped.str("a"), "1");
  EXPECT_EQ(skipped.str("b"), "x");

  ASSERT_TRUE(json::parse(R"({"a\u0000b":"nul","a":"2"})", doc).ok());
  json::ObjectReader nul(doc, "test");
  EXPECT_EQ(nul.str("a"), "2") << "a name with a NUL inside is another name";
  EXPECT_TRUE(nul.status().ok());
}

TEST(JsonNumbers, LongsStaySixtyFourBit) {
  rapidjson::Document doc;
  ASSERT_TRUE(
      json::parse(R"({"big":9007199254740993,"neg":-5,"str":"7","dbl":12.0,"bad":1.5})", doc).ok());
  json::ObjectReader r(doc, "test");
  EXPECT_EQ(*r.i64("big"), 9007199254740993LL);  // not representable as a double
  EXPECT_EQ(*r.i64("neg"), -5);
  EXPECT_EQ(*r.i64("str"), 7);
  EXPECT_EQ(*r.i64("dbl"), 12);
  EXPECT_TRUE(r.status().ok());
  EXPECT_FALSE(r.i64("bad").has_value());
  EXPECT_EQ(r.status().code(), ErrorCode::kParse);
}

TEST(JsonResponses, ListRecordsWithNullsTombstonesAndExponentDates) {
  wire::ListRecordsResponse out;
  Status s = sync_wire::parse(R"({
      "Records":[{"Key":"hp","Value":"10","SyncCount":9007199254740993,"LastModifiedDate":1.7E9,
                  "LastModifiedBy":"us-east-1:abc","DeviceLastModifiedDate":1700000000.123},
                 {"Key":"gone","Value":null,"SyncCount":3}],
      "NextToken":null,"Count":2,"DatasetSyncCount":12,"MergedDatasetNames":null,
      "DatasetExists":true,"DatasetDeletedAfterRequestedSyncCount":false,
      "SyncSessionToken":"sst","Unknown":{"ignored":[1,2]}})",
                              &out);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(out.records.size(), 2u);
  EXPECT_EQ(*out.records[0].sync_count, 9007199254740993LL);
  EXPECT_DOUBLE_EQ(seconds(*out.records[0].last_modified_date), 1.7e9);
  EXPECT_DOUBLE_EQ(seconds(*out.records[0].device_last_modified_date), 1700000000.123);
  EXPECT_FALSE(out.records[1].value.has_value()) << "a null value is a tombstone";
  EXPECT_FALSE(out.next_token.has_value());
  EXPECT_TRUE(out.merged_dataset_names.empty());
  EXPECT_EQ(*out.dataset_sync_count, 12);
  EXPECT_TRUE(*out.dataset_exists);
  EXPECT_EQ(*out.sync_session_token, "sst");
}

TEST(JsonResponses, EmptyBodyIsAnEmptyResponseAndMalformedBodyIsAParseError) {
  wire::SubscribeToDatasetResponse empty;
  EXPECT_TRUE(sync_wire::parse("", &empty).ok());
  wire::ListRecordsResponse out;
  Status s = sync_wire::parse(R"({"Records":[{"Key":"a",)", &out);
  EXPECT_EQ(s.code(), ErrorCode::kParse);
  Status wrong = sync_wire::parse(R"({"Records":"not a list"})", &out);
  EXPECT_EQ(wrong.code(), ErrorCode::kParse);
  EXPECT_NE(wrong.message().find("Records"), std::string::npos);
}

TEST(JsonResponses, CredentialsWithJavaStyleExponentExpiration) {
  identity::GetCredentialsForIdentityResponse out;
  ASSERT_TRUE(identity_wire::parse(R"({"IdentityId":"us-east-1:1","Credentials":{"AccessKeyId":"AK",
      "SecretKey":"SK","SessionToken":"ST","Expiration":1.515115602E9}})",
                                   &out)
                  .ok());
  EXPECT_EQ(*out.credentials->secret_key, "SK");
  EXPECT_DOUBLE_EQ(seconds(*out.credentials->expiration), 1515115602);
}

TEST(Redaction, SecretsNeverReachTheTrace) {
  std::string body =
      redact_body(R"({"Credentials":{"AccessKeyId":"AK","SecretKey":"SK","SessionToken":"ST"},
                                     "Logins":{"graph.facebook.com":"fbtoken"},"Token":"oidc"})");
  EXPECT_EQ(body.find("SK\""), std::string::npos);
  EXPECT_EQ(body.find("ST\""), std::string::npos);
  EXPECT_EQ(body.find("fbtoken"), std::string::npos);
  EXPECT_EQ(body.find("oidc"), std::string::npos);
  EXPECT_NE(body.find("AK"), std::string::npos) << "the access key id is not a secret";
  std::string auth = redact_header(
      "Authorization",
      "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/cognito-sync/aws4_request, "
      "SignedHeaders=host;x-amz-date, Signature=abcdef0123");
  EXPECT_EQ(auth.find("abcdef0123"), std::string::npos);
  EXPECT_NE(auth.find("SignedHeaders=host;x-amz-date"), std::string::npos);
  EXPECT_EQ(redact_header("x-amz-security-token", "tok"), kRedacted);
}

TEST(Redaction, HalfACredentialsAnswerIsWithheldWholeAndOtherTextPasses) {
  std::string cut = R"({"Credentials":{"AccessKeyId":"AK","SecretKey":"SECRET-KEY-1234","Sess)";
  std::string shown = redact_body(cut);
  EXPECT_EQ(shown.find("SECRET-KEY-1234"), std::string::npos) << shown;
  EXPECT_EQ(shown.rfind(kRedacted, 0), 0u) << shown;
  std::string page = "<html><body>502 Bad Gateway</body></html>";
  EXPECT_EQ(redact_body(page), page) << "a proxy's error page helps and holds no secret";
}

// The SIMD string scan reads whole 16-byte blocks: texts of every length, held in buffers with
// no room past their end (and as views of larger buffers), parse to the same value. Under ASan
// this shows any read past the buffer.
TEST(JsonParsing, EveryLengthParsesFromExactBuffersAndViews) {
  for (size_t n = 0; n < 100; ++n) {
    std::string value(n, 'x');
    for (size_t i = 0; i < n; ++i) value[i] = static_cast<char>('a' + i % 26);
    std::string text = "{\"k\":\"" + value + "\"}";
    text.shrink_to_fit();
    json::Document from_string;
    ASSERT_TRUE(json::parse(text, from_string).ok()) << n;
    EXPECT_EQ(from_string["k"].GetString(), value);
    std::string larger = text + "trailing bytes that are not part of the view";
    json::Document from_view;
    ASSERT_TRUE(json::parse(std::string_view(larger.data(), text.size()), from_view).ok()) << n;
    EXPECT_EQ(from_view["k"].GetString(), value);
  }
  std::string with_nul = std::string("{\"k\":1}") + '\0' + "{\"x\":2}";
  json::Document doc;
  EXPECT_FALSE(json::parse(with_nul, doc).ok()) << "a NUL inside is refused, not a shorter text";
}

TEST(JsonParsing, InPlaceReadsEscapesAndRefusesWhatTheCopyRefuses) {
  for (size_t n = 0; n < 60; ++n) {
    std::string value(n, 'v');
    std::string text = "{\"k\":\"" + value + "\\n\\u00e9\\\"\"}";
    text.shrink_to_fit();  // no slack: the in-place parse makes its own room
    std::string expected = value + "\n\xc3\xa9\"";
    json::Document copy;
    ASSERT_TRUE(json::parse(text, copy).ok()) << n;
    json::Document in_place;
    ASSERT_TRUE(json::parse_in_place(text, in_place).ok()) << n;
    EXPECT_EQ(std::string(in_place["k"].GetString(), in_place["k"].GetStringLength()), expected);
    EXPECT_EQ(std::string(copy["k"].GetString(), copy["k"].GetStringLength()), expected);
  }
  std::string with_nul = std::string("{\"k\":1}") + '\0' + "{\"x\":2}";
  json::Document doc;
  Status s = json::parse_in_place(with_nul, doc);
  EXPECT_EQ(s.code(), ErrorCode::kParse);
  EXPECT_NE(s.message().find("NUL byte at offset 7"), std::string::npos) << s.message();
  std::string blank = " \n";
  EXPECT_TRUE(json::parse_in_place(blank, doc).ok());
  EXPECT_TRUE(doc.IsObject());
  std::string truncated = R"({"Records":[{"Key":"a",)";
  EXPECT_EQ(json::parse_in_place(truncated, doc).code(), ErrorCode::kParse);
}

TEST(JsonParsing, AResponseGivenUpIsReadTheSameAsOneKept) {
  std::string body = R"({"Records":[{"Key":"k\u00e9","Value":"line\nbreak","SyncCount":2},)"
                     R"({"Key":"gone","Value":null,"SyncCount":3}],"Count":2,)"
                     R"("SyncSessionToken":"s\"t"})";
  wire::ListRecordsResponse kept, given;
  ASSERT_TRUE(sync_wire::parse(body, &kept).ok());  // a copy: body stays as it was
  EXPECT_NE(body.find("\\u00e9"), std::string::npos);
  ASSERT_TRUE(sync_wire::parse(std::move(body), &given).ok());
  for (const auto* r : {&kept, &given}) {
    ASSERT_EQ(r->records.size(), 2u);
    EXPECT_EQ(*r->records[0].key, "k\xc3\xa9");
    EXPECT_EQ(*r->records[0].value, "line\nbreak");
    EXPECT_FALSE(r->records[1].value.has_value());
    EXPECT_EQ(*r->sync_session_token, "s\"t");
  }
}

TEST(JsonParsing, DocumentsAliveTogetherOnOneThreadEachKeepTheirOwnValues) {
  // The first takes the thread's arena; the second, alive at the same time, starts elsewhere.
  // Large enough to outgrow any first buffer, then parsed again into the grown arena.
  auto text = [](char c, size_t n) {
    std::string t = "{\"a\":[";
    for (size_t i = 0; i < n; ++i) t += (i ? ",\"" : "\"") + std::string(40, c) + "\"";
    return t + "]}";
  };
  for (int round = 0; round < 3; ++round) {
    json::Document first, second;
    ASSERT_TRUE(json::parse(text('x', 5000), first).ok());
    ASSERT_TRUE(json::parse(text('y', 3000), second).ok());
    {
      json::Document nested;  // a third, inside
      ASSERT_TRUE(json::parse(text('z', 10), nested).ok());
      EXPECT_EQ(nested["a"][9].GetString(), std::string(40, 'z'));
    }
    ASSERT_EQ(first["a"].Size(), 5000u);
    ASSERT_EQ(second["a"].Size(), 3000u);
    EXPECT_EQ(first["a"][4999].GetString(), std::string(40, 'x'));
    EXPECT_EQ(second["a"][2999].GetString(), std::string(40, 'y'));
  }
}

}  // namespace
}  // namespace cairn::transport
