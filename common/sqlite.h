// A thin SQLite layer shared by the local store and the server: one connection with its prepared
// statements cached, statements that bind and read by type and reset themselves, and errors that
// carry SQLite's result code (so corruption can be told from other failures).
//
// Thread safety: a Connection belongs to one thread at a time.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>

namespace cairn::sqlite {

struct Error : std::runtime_error {
  Error(const std::string& what, int code) : std::runtime_error(what), code(code) {}
  int code;  // primary SQLite result code (SQLITE_CORRUPT, SQLITE_NOTADB, SQLITE_FULL, ...)
  bool corrupt() const { return code == SQLITE_CORRUPT || code == SQLITE_NOTADB; }
};

// A cached prepared statement; reset (ending its read) when it goes out of scope.
class Stmt {
 public:
  Stmt(sqlite3* db, sqlite3_stmt* s);
  ~Stmt() { sqlite3_reset(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(const std::string& v);
  Stmt& bind(const std::optional<std::string>& v);
  Stmt& bind(int64_t v);
  Stmt& bind(std::optional<int64_t> v);
  Stmt& bind(int v) { return bind(static_cast<int64_t>(v)); }
  Stmt& bind(bool v) { return bind(static_cast<int64_t>(v ? 1 : 0)); }

  bool step();  // true while there is a row
  void run() {
    while (step()) {
    }
  }
  std::string text(int col) const;
  std::optional<std::string> opt_text(int col) const;
  int64_t i64(int col) const { return sqlite3_column_int64(s_, col); }
  std::optional<int64_t> opt_i64(int col) const;
  bool is_null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
  // The size in bytes of a TEXT or BLOB column, without copying it out.
  int64_t bytes(int col) const { return sqlite3_column_bytes(s_, col); }

 private:
  void check(int rc);
  sqlite3* db_;
  sqlite3_stmt* s_;
  int i_ = 0;
};

class Connection {
 public:
  // flags: SQLITE_OPEN_* (SQLITE_OPEN_URI for in-memory shared databases).
  Connection(const std::string& path, int flags);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs any SQL, several statements included, parsing it every time (schema, pragmas).
  void exec(const char* sql);
  // Statements are cached by the address of their SQL literal.
  Stmt prepare(const char* sql);
  // One statement through the cache: BEGIN, COMMIT and the like, run on every transaction.
  void run(const char* sql);
  sqlite3* handle() { return db_; }
  [[noreturn]] void fail(const std::string& what);

 private:
  sqlite3* db_ = nullptr;
  std::map<const char*, sqlite3_stmt*> cache_;
};

// BEGIN/COMMIT with ROLLBACK unless committed.
class Transaction {
 public:
  Transaction(Connection& c, const char* begin = "BEGIN") : c_(c) { c_.run(begin); }
  ~Transaction() {
    if (!done_) {
      try {
        c_.run("ROLLBACK");
      } catch (...) {
      }
    }
  }
  void commit() {
    c_.run("COMMIT");
    done_ = true;
  }

 private:
  Connection& c_;
  bool done_ = false;
};

}  // namespace cairn::sqlite
