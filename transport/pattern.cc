#include "transport/pattern.h"

namespace cairn::transport {
namespace {

using Ranges = std::vector<std::pair<unsigned char, unsigned char>>;

void add_escape(char e, Ranges& ranges, bool& negate) {
  switch (e) {
    case 'D':
      negate = true;
      [[fallthrough]];
    case 'd':
      ranges.push_back({'0', '9'});
      return;
    case 'W':
      negate = true;
      [[fallthrough]];
    case 'w':
      ranges.push_back({'a', 'z'});
      ranges.push_back({'A', 'Z'});
      ranges.push_back({'0', '9'});
      ranges.push_back({'_', '_'});
      return;
    case 'S':
      negate = true;
      [[fallthrough]];
    case 's':
      ranges.push_back({' ', ' '});
      ranges.push_back({'\t', '\r'});  // \t \n \v \f \r
      return;
    default:
      ranges.push_back({static_cast<unsigned char>(e), static_cast<unsigned char>(e)});
  }
}

}  // namespace

bool Pattern::Token::matches(unsigned char c) const {
  if (any) return c != '\n';
  bool in = false;
  for (const auto& [lo, hi] : ranges) {
    if (c >= lo && c <= hi) {
      in = true;
      break;
    }
  }
  return in != negate;
}

std::optional<Pattern> Pattern::compile(std::string_view src) {
  Pattern p;
  p.source_ = std::string(src);
  for (size_t i = 0; i < src.size(); ++i) {
    Token t;
    char c = src[i];
    if (c == '.') {
      t.any = true;
    } else if (c == '\\') {
      if (++i >= src.size()) return std::nullopt;
      if (src[i] == 'p' || src[i] == 'P') return std::nullopt;  // Unicode classes: unsupported
      add_escape(src[i], t.ranges, t.negate);
    } else if (c == '[') {
      ++i;
      if (i < src.size() && src[i] == '^') {
        t.negate = true;
        ++i;
      }
      bool closed = false;
      for (; i < src.size(); ++i) {
        char d = src[i];
        if (d == ']') {
          closed = true;
          break;
        }
        if (d == '\\') {
          if (++i >= src.size()) return std::nullopt;
          if (src[i] == 'p' || src[i] == 'P') return std::nullopt;
          bool neg = false;
          Ranges inner;
          add_escape(src[i], inner, neg);
          if (neg) {
            // A negated escape inside a class ([\S]): only whole-class use is supported.
            if (!t.ranges.empty() || i + 1 >= src.size() || src[i + 1] != ']') return std::nullopt;
            t.negate = !t.negate;
          }
          t.ranges.insert(t.ranges.end(), inner.begin(), inner.end());
          continue;
        }
        if (i + 2 < src.size() && src[i + 1] == '-' && src[i + 2] != ']') {
          t.ranges.push_back(
              {static_cast<unsigned char>(d), static_cast<unsigned char>(src[i + 2])});
          i += 2;
        } else {
          t.ranges.push_back({static_cast<unsigned char>(d), static_cast<unsigned char>(d)});
        }
      }
      if (!closed) return std::nullopt;
    } else if (c == '(' || c == ')' || c == '|' || c == '{' || c == '}' || c == '^' || c == '$' ||
               c == '+' || c == '*' || c == '?') {
      return std::nullopt;  // groups, alternation, counted repeats, anchors: not in this subset
    } else {
      t.ranges.push_back({static_cast<unsigned char>(c), static_cast<unsigned char>(c)});
    }
    if (i + 1 < src.size()) {
      char q = src[i + 1];
      if (q == '+') {
        t.max = -1;
        ++i;
      } else if (q == '*') {
        t.min = 0;
        t.max = -1;
        ++i;
      } else if (q == '?') {
        t.min = 0;
        ++i;
      }
    }
    p.tokens_.push_back(std::move(t));
  }
  return p;
}

bool Pattern::match_from(size_t token, std::string_view input, size_t pos) const {
  if (token == tokens_.size()) return pos == input.size();
  const Token& t = tokens_[token];
  // Greedy run, then give back one character at a time.
  size_t limit = t.max < 0 ? input.size() - pos : std::min<size_t>(t.max, input.size() - pos);
  size_t run = 0;
  while (run < limit && t.matches(static_cast<unsigned char>(input[pos + run]))) ++run;
  if (run < static_cast<size_t>(t.min)) return false;
  // The next token's first character usually cannot be in this run, so the first try succeeds.
  for (size_t n = run + 1; n-- > static_cast<size_t>(t.min);) {
    if (match_from(token + 1, input, pos + n)) return true;
  }
  return false;
}

bool Pattern::full_match(std::string_view input) const { return match_from(0, input, 0); }

}  // namespace cairn::transport
