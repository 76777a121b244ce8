/* The C API from plain C11, against a running cairn-server (run_with_server.py starts one and
 * passes CAIRN_ENDPOINT, CAIRN_POOL, CAIRN_ADMIN_KEY, CAIRN_ADMIN_SECRET and CAIRN_TMPDIR). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cairn/cairn.h"

static int failures = 0;
#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                              \
    }                                                                          \
  } while (0)
#define CHECK_OK(call)                                                                            \
  do {                                                                                            \
    char* error_ = NULL;                                                                          \
    cairn_code code_ = (call);                                                                    \
    if (code_ != CAIRN_OK) {                                                                      \
      fprintf(stderr, "%s:%d: %s -> %s: %s\n", __FILE__, __LINE__, #call, cairn_code_name(code_), \
              error_ ? error_ : "");                                                              \
      ++failures;                                                                                 \
    }                                                                                             \
    cairn_string_free(error_);                                                                    \
  } while (0)

static const char* env(const char* name) {
  const char* v = getenv(name);
  if (!v) {
    fprintf(stderr, "missing %s\n", name);
    exit(2);
  }
  return v;
}

static cairn_manager* open_device(const char* db, const char* identity_id, int delivery) {
  cairn_options o;
  cairn_options_init(&o);
  o.endpoint = env("CAIRN_ENDPOINT");
  o.region = "us-east-1";
  o.identity_pool_id = env("CAIRN_POOL");
  o.database_path = db;
  o.delivery = delivery;
  if (identity_id) { /* developer credentials acting on a known identity */
    o.access_key_id = env("CAIRN_ADMIN_KEY");
    o.secret_access_key = env("CAIRN_ADMIN_SECRET");
    o.identity_id = identity_id;
  }
  cairn_manager* m = NULL;
  char* error = NULL;
  cairn_code code = cairn_manager_open(&o, &m, &error);
  if (code != CAIRN_OK) {
    fprintf(stderr, "open %s: %s\n", db, error);
    exit(1);
  }
  cairn_string_free(error);
  return m;
}

static int conflicts_seen = 0;
static int merge_conflict(void* user_data, const cairn_conflict* c, const char** value) {
  (void)user_data;
  ++conflicts_seen;
  CHECK(strcmp(c->key, "k") == 0);
  CHECK(c->local_value && strcmp(c->local_value, "from-b") == 0);
  CHECK(c->remote_value && strcmp(c->remote_value, "from-a") == 0);
  *value = "merged";
  return CAIRN_RESOLVE_VALUE;
}

struct done_state {
  int calls;
  cairn_code code;
};
static void on_done(void* user_data, cairn_code code, const char* message, size_t updated) {
  (void)message;
  (void)updated;
  struct done_state* s = (struct done_state*)user_data;
  s->calls++;
  s->code = code;
}

int main(void) {
  char db_a[512], db_b[512], db_c[512];
  snprintf(db_a, sizeof db_a, "%s/a.db", env("CAIRN_TMPDIR"));
  snprintf(db_b, sizeof db_b, "%s/b.db", env("CAIRN_TMPDIR"));
  snprintf(db_c, sizeof db_c, "%s/c.db", env("CAIRN_TMPDIR"));

  CHECK(strcmp(cairn_version(), "0.1.0") == 0);
  CHECK(strcmp(cairn_code_name(CAIRN_RESOURCE_CONFLICT), "ResourceConflictException") == 0);
  CHECK(strcmp(cairn_code_name(CAIRN_NETWORK), "NetworkError") == 0);

  /* Device A: an unauthenticated identity. Local reads and writes. */
  cairn_manager* a = open_device(db_a, NULL, CAIRN_DELIVERY_SYNC_THREAD);
  cairn_dataset* save_a = NULL;
  CHECK_OK(cairn_dataset_open(a, "save", &save_a, &error_));
  CHECK_OK(cairn_put(save_a, "gold", "10", &error_));
  CHECK_OK(cairn_put(save_a, "empty", "", &error_));
  char* value = NULL;
  CHECK_OK(cairn_get(save_a, "gold", &value, &error_));
  CHECK(value && strcmp(value, "10") == 0);
  cairn_string_free(value);
  CHECK_OK(cairn_get(save_a, "missing", &value, &error_));
  CHECK(value == NULL);
  cairn_records* all = NULL;
  CHECK_OK(cairn_get_all(save_a, &all, &error_));
  CHECK(all && all->count == 2 && strcmp(all->items[0].key, "empty") == 0 &&
        strcmp(all->items[0].value, "") == 0 && strcmp(all->items[1].value, "10") == 0);
  cairn_records_free(all);
  cairn_status st;
  CHECK_OK(cairn_dataset_status(save_a, &st, &error_));
  CHECK(st.pending_changes == 2 && st.has_last_result == 0 && st.state == CAIRN_STATE_IDLE);

  /* Errors: a code and a message, never a crash. */
  char* error = NULL;
  CHECK(cairn_put(save_a, NULL, "v", &error) == CAIRN_INVALID_ARGUMENT);
  CHECK(error && strlen(error) > 0);
  cairn_string_free(error);
  error = NULL;
  cairn_dataset* bad = NULL;
  CHECK(cairn_dataset_open(a, "no spaces allowed", &bad, &error) == CAIRN_INVALID_PARAMETER);
  CHECK(bad == NULL && error != NULL);
  cairn_string_free(error);
  CHECK(cairn_put(save_a, "k", NULL, NULL) == CAIRN_INVALID_ARGUMENT); /* error may be NULL */

  /* Sync A, then device B acts on A's identity with developer credentials. */
  CHECK_OK(cairn_synchronize_wait(save_a, NULL, NULL, &error_));
  char* identity = NULL;
  CHECK_OK(cairn_identity_id(a, &identity, &error_));
  CHECK(identity && strncmp(identity, "us-east-1:", 10) == 0);
  cairn_manager* b = open_device(db_b, identity, CAIRN_DELIVERY_SYNC_THREAD);
  cairn_dataset* save_b = NULL;
  CHECK_OK(cairn_dataset_open(b, "save", &save_b, &error_));
  CHECK_OK(cairn_synchronize_wait(save_b, NULL, NULL, &error_));
  CHECK_OK(cairn_get(save_b, "gold", &value, &error_));
  CHECK(value && strcmp(value, "10") == 0);
  cairn_string_free(value);

  /* A conflict, decided from C. */
  CHECK_OK(cairn_put(save_a, "k", "from-a", &error_));
  CHECK_OK(cairn_synchronize_wait(save_a, NULL, NULL, &error_));
  CHECK_OK(cairn_put(save_b, "k", "from-b", &error_));
  CHECK_OK(cairn_synchronize_wait(save_b, merge_conflict, NULL, &error_));
  CHECK(conflicts_seen == 1);
  CHECK_OK(cairn_synchronize_wait(save_a, NULL, NULL, &error_));
  CHECK_OK(cairn_get(save_a, "k", &value, &error_));
  CHECK(value && strcmp(value, "merged") == 0);
  cairn_string_free(value);

  /* A third device with pumped callbacks: done runs only inside the pump. */
  cairn_manager* c = open_device(db_c, identity, CAIRN_DELIVERY_PUMPED);
  cairn_dataset* save_c = NULL;
  CHECK_OK(cairn_dataset_open(c, "save", &save_c, &error_));
  struct done_state done = {0, -1};
  CHECK_OK(cairn_synchronize(save_c, NULL, on_done, &done, &error_));
  for (int i = 0; i < 2000 && done.calls == 0; ++i) {
    cairn_run_pending_callbacks(c);
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  CHECK(done.calls == 1 && done.code == CAIRN_OK);
  CHECK_OK(cairn_get(save_c, "k", &value, &error_));
  CHECK(value && strcmp(value, "merged") == 0);
  cairn_string_free(value);
  CHECK_OK(cairn_dataset_status(save_c, &st, &error_));
  CHECK(st.has_last_result == 1 && st.last_result == CAIRN_OK && st.last_sync_count >= 3);

  /* Devices and push. */
  char* device = NULL;
  CHECK_OK(cairn_register_device(a, "GCM", "c-token", &device, &error_));
  CHECK(device && strlen(device) > 0);
  cairn_string_free(device);
  CHECK_OK(cairn_subscribe(a, "save", &error_));
  CHECK_OK(cairn_unsubscribe(a, "save", &error_));
  int started = -1;
  CHECK(cairn_handle_push_json(a, "not json", &started, NULL) == CAIRN_INVALID_ARGUMENT);
  char push[512];
  snprintf(push, sizeof push,
           "{\"source\":\"cognito-sync\",\"identityPoolId\":\"%s\",\"identityId\":\"%s\","
           "\"datasetName\":\"save\",\"syncCount\":\"1\"}",
           env("CAIRN_POOL"), identity);
  CHECK_OK(cairn_handle_push_json(a, push, &started, &error_));
  CHECK(started == 0); /* a is not behind */

  /* Offline: the host says so, and a sync fails at once with a network code. */
  cairn_set_network_reachable(b, 0);
  CHECK(cairn_synchronize_wait(save_b, NULL, NULL, NULL) == CAIRN_NETWORK);
  cairn_set_network_reachable(b, 1);

  cairn_string_free(identity);
  cairn_dataset_close(save_a);
  cairn_dataset_close(save_b);
  cairn_dataset_close(save_c);
  cairn_manager_close(a);
  cairn_manager_close(b);
  cairn_manager_close(c);
  cairn_manager_close(NULL);
  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("C API: all checks passed\n");
  return 0;
}
