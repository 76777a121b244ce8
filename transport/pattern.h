// A small, bounded matcher for the regular expressions in the Cognito service models
// ("[\w-]+:[0-9a-f-]+", "arn:aws:iam::\d+:role/.*", "[\S]+", ...). It supports literals, '.',
// the escapes \d \w \s \S \D \W, bracket classes with ranges, and the quantifiers + * ?; the whole
// input must match (as the services apply them). Backtracking depth is bounded by the number of
// pattern tokens, never by the input length, so a 64 KiB token cannot overflow the stack the way
// std::regex can.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cairn::transport {

class Pattern {
 public:
  // nullopt when the pattern uses syntax outside the supported subset.
  static std::optional<Pattern> compile(std::string_view source);
  bool full_match(std::string_view input) const;
  const std::string& source() const { return source_; }

 private:
  struct Token {
    bool any = false;                                             // '.'
    bool negate = false;                                          // [^...] or \S \D \W
    std::vector<std::pair<unsigned char, unsigned char>> ranges;  // empty + !any: never matches
    int min = 1;
    int max = 1;  // -1: unbounded
    bool matches(unsigned char c) const;
  };
  bool match_from(size_t token, std::string_view input, size_t pos) const;

  std::string source_;
  std::vector<Token> tokens_;
};

}  // namespace cairn::transport
