// The validation table is the service models: every constraint cairn enforces is read back from
// ../shared/spec/models and compared, and every constrained shape an operation input reaches is in
// the table. The pattern matcher is checked against std::regex on generated strings.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <random>
#include <regex>
#include <set>

#include "implemented_operations.h"
#include "test_paths.h"
#include "transport/pattern.h"
#include "transport/validation.h"

namespace cairn::transport {
namespace {

struct Model {
  std::string service;
  rapidjson::Document doc;
};

std::vector<std::unique_ptr<Model>> load_models() {
  std::vector<std::unique_ptr<Model>> out;
  for (auto [service, file] :
       {std::pair{"cognito-sync", "cognito-sync-2014-06-30.service-2.json"},
        std::pair{"cognito-identity", "cognito-identity-2014-06-30.service-2.json"}}) {
    auto m = std::make_unique<Model>();
    m->service = service;
    std::string text =
        cairn::testing::read_file(cairn::testing::shared_dir() + "/spec/models/" + file);
    m->doc.Parse(text.c_str());
    out.push_back(std::move(m));
  }
  return out;
}

// Shapes reachable from the inputs of the operations cairn implements.
void reach(const rapidjson::Value& shapes, const std::string& name, std::set<std::string>& seen) {
  if (!seen.insert(name).second) return;
  const auto& s = shapes[name.c_str()];
  std::string type = s["type"].GetString();
  if (type == "structure") {
    for (const auto& m : s["members"].GetObject())
      reach(shapes, m.value["shape"].GetString(), seen);
  } else if (type == "list") {
    reach(shapes, s["member"]["shape"].GetString(), seen);
  } else if (type == "map") {
    reach(shapes, s["key"]["shape"].GetString(), seen);
    reach(shapes, s["value"]["shape"].GetString(), seen);
  }
}

const std::set<std::string> kIdentityOps(std::begin(testing::kIdentityOperations),
                                         std::end(testing::kIdentityOperations));

TEST(ValidationTable, EveryEntryMatchesTheServiceModelExactly) {
  auto models = load_models();
  for (const auto& c : shape_constraints()) {
    SCOPED_TRACE(std::string(c.service) + "/" + std::string(c.name));
    const Model& m = c.service == "cognito-sync" ? *models[0] : *models[1];
    const auto& shapes = m.doc["shapes"];
    ASSERT_TRUE(shapes.HasMember(std::string(c.name).c_str()));
    const auto& s = shapes[std::string(c.name).c_str()];
    EXPECT_EQ(c.type, s["type"].GetString());
    EXPECT_EQ(c.min.has_value(), s.HasMember("min"));
    if (c.min && s.HasMember("min")) {
      EXPECT_EQ(*c.min, s["min"].GetInt64());
    }
    EXPECT_EQ(c.max.has_value(), s.HasMember("max"));
    if (c.max && s.HasMember("max")) {
      EXPECT_EQ(*c.max, s["max"].GetInt64());
    }
    EXPECT_EQ(std::string(c.pattern), s.HasMember("pattern") ? s["pattern"].GetString() : "");
    std::vector<std::string> model_enum;
    if (s.HasMember("enum")) {
      for (const auto& e : s["enum"].GetArray()) model_enum.emplace_back(e.GetString());
    }
    std::vector<std::string> ours(c.enum_values.begin(), c.enum_values.end());
    EXPECT_EQ(ours, model_enum);
    if (!c.pattern.empty()) {
      EXPECT_TRUE(Pattern::compile(c.pattern).has_value()) << c.pattern;
    }
  }
}

TEST(ValidationTable, EveryConstrainedShapeAnImplementedOperationTakesIsEnforced) {
  auto models = load_models();
  for (const auto& m : models) {
    const auto& shapes = m->doc["shapes"];
    std::set<std::string> reachable;
    size_t ops = 0;
    for (const auto& op : m->doc["operations"].GetObject()) {
      std::string name = op.name.GetString();
      if (m->service == "cognito-identity" && !kIdentityOps.count(name)) continue;
      ++ops;
      if (op.value.HasMember("input"))
        reach(shapes, op.value["input"]["shape"].GetString(), reachable);
    }
    EXPECT_EQ(ops, m->service == "cognito-sync" ? 17u : 14u);
    for (const auto& name : reachable) {
      const auto& s = shapes[name.c_str()];
      bool constrained =
          s.HasMember("min") || s.HasMember("max") || s.HasMember("pattern") || s.HasMember("enum");
      if (!constrained) continue;
      bool found = false;
      for (const auto& c : shape_constraints()) found |= c.service == m->service && c.name == name;
      EXPECT_TRUE(found) << m->service << " shape " << name
                         << " has constraints cairn does not check";
    }
  }
}

std::string ecmascript(std::string pattern) {
  // The models' patterns are Java regexes; for these, ECMAScript reads them the same.
  return pattern;
}

TEST(PatternMatcher, AgreesWithStdRegexOnGeneratedStrings) {
  std::mt19937 rng(1234);
  const std::string alphabet = "azAZ09_-.:/@+=, \t~#%arnwsiamolep";
  for (const auto& c : shape_constraints()) {
    if (c.pattern.empty()) continue;
    auto p = Pattern::compile(c.pattern);
    ASSERT_TRUE(p);
    std::regex re(ecmascript(std::string(c.pattern)));
    for (int i = 0; i < 3000; ++i) {
      std::string s;
      // Half the inputs start from a valid-looking prefix so matches are exercised too.
      if (i % 2 == 0 && c.pattern.rfind("arn:aws:", 0) == 0) s = c.pattern.substr(0, 12).data();
      int len = rng() % 24;
      for (int j = 0; j < len; ++j) s += alphabet[rng() % alphabet.size()];
      ASSERT_EQ(p->full_match(s), std::regex_match(s, re)) << c.pattern << " on '" << s << "'";
    }
  }
}

TEST(PatternMatcher, ModelExamples) {
  auto id = *Pattern::compile("[\\w-]+:[0-9a-f-]+");
  EXPECT_TRUE(id.full_match("us-east-1:0b4a7c6e-1111-2222-3333-444455556666"));
  EXPECT_FALSE(id.full_match("us-east-1:0B4A"));
  EXPECT_FALSE(id.full_match("us-east-1"));
  EXPECT_FALSE(id.full_match(":abc"));
  auto arn = *Pattern::compile("arn:aws:sns:[-0-9a-z]+:\\d+:app/[A-Z_]+/[a-zA-Z0-9_.-]+");
  EXPECT_TRUE(arn.full_match("arn:aws:sns:us-east-1:123456789012:app/GCM/MyApp"));
  EXPECT_FALSE(arn.full_match("arn:aws:sns:us-east-1:123456789012:app/gcm/MyApp"));
  auto role = *Pattern::compile("arn:aws:iam::\\d+:role/.*");
  EXPECT_TRUE(role.full_match("arn:aws:iam::123456789012:role/any/thing here"));
  auto token = *Pattern::compile("[\\S]+");
  EXPECT_TRUE(token.full_match(std::string(65535, 'x'))) << "no recursion per character";
  EXPECT_FALSE(token.full_match("a b"));
  EXPECT_FALSE(Pattern::compile("(un)?authenticated").has_value())
      << "groups are outside the subset";
  EXPECT_FALSE(Pattern::compile("[\\p{L}]+").has_value());
}

}  // namespace
}  // namespace cairn::transport
