/* cairn.h: the C API of cairn, for game engines that embed it through a C ABI (Unity through
 * P/Invoke, Unreal, anything with a C FFI). See docs/c-api.md.
 *
 * Errors: every function that can fail returns a cairn_code (CAIRN_OK is 0) and, when `error` is
 * not NULL, sets *error to a message the caller frees with cairn_string_free (or to NULL on
 * success). No C++ exception ever crosses this boundary.
 *
 * Memory: every char* and cairn_records* that cairn returns through an out-parameter belongs to
 * the caller and is freed with cairn_string_free / cairn_records_free. Every const char* cairn
 * passes to a callback is valid only during that call. Strings passed in are copied; cairn keeps
 * no pointer to them after the call returns. Strings are UTF-8 and NUL-terminated.
 *
 * Threads: every function may be called from any thread. Callbacks run on an engine thread, or
 * inside cairn_run_pending_callbacks when the manager was opened with CAIRN_DELIVERY_PUMPED.
 */
#ifndef CAIRN_CAIRN_H_
#define CAIRN_CAIRN_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define CAIRN_API __declspec(dllexport)
#else
#define CAIRN_API __attribute__((visibility("default")))
#endif

/* CAIRN_VERSION_MAJOR, _MINOR, _PATCH and _STRING. */
#include "cairn/version.h"

/* Opaque handles. */
typedef struct cairn_manager cairn_manager;
typedef struct cairn_dataset cairn_dataset;

/* Result codes: the values of cairn::ErrorCode (include/cairn/status.h). */
typedef int cairn_code;
enum {
  CAIRN_OK = 0,
  CAIRN_ALREADY_STREAMED,
  CAIRN_CONCURRENT_MODIFICATION,
  CAIRN_DEVELOPER_USER_ALREADY_REGISTERED,
  CAIRN_DUPLICATE_REQUEST,
  CAIRN_EXTERNAL_SERVICE,
  CAIRN_INTERNAL_ERROR,
  CAIRN_INVALID_CONFIGURATION,
  CAIRN_INVALID_IDENTITY_POOL_CONFIGURATION,
  CAIRN_INVALID_LAMBDA_FUNCTION_OUTPUT,
  CAIRN_INVALID_PARAMETER,
  CAIRN_LAMBDA_SOCKET_TIMEOUT,
  CAIRN_LAMBDA_THROTTLED,
  CAIRN_LIMIT_EXCEEDED,
  CAIRN_NOT_AUTHORIZED,
  CAIRN_RESOURCE_CONFLICT,
  CAIRN_RESOURCE_NOT_FOUND,
  CAIRN_TOO_MANY_REQUESTS,
  CAIRN_ACCESS_DENIED,
  CAIRN_EXPIRED_TOKEN,
  CAIRN_INCOMPLETE_SIGNATURE,
  CAIRN_INVALID_SIGNATURE,
  CAIRN_MISSING_AUTHENTICATION_TOKEN,
  CAIRN_REQUEST_EXPIRED,
  CAIRN_REQUEST_TIME_TOO_SKEWED,
  CAIRN_SIGNATURE_DOES_NOT_MATCH,
  CAIRN_THROTTLING,
  CAIRN_UNRECOGNIZED_CLIENT,
  CAIRN_UNKNOWN_SERVICE_ERROR,
  CAIRN_NETWORK,
  CAIRN_TIMEOUT,
  CAIRN_TLS,
  CAIRN_PARSE,
  CAIRN_NO_CREDENTIALS,
  CAIRN_SIGNING,
  CAIRN_CANCELLED,
  CAIRN_STUB_EXHAUSTED,
  CAIRN_INVALID_ARGUMENT,
  CAIRN_CORRUPTION,
  CAIRN_STORAGE,
  CAIRN_CONFLICT_UNRESOLVED
};

/* "ResourceConflictException", "NetworkError", ...; a static string, never NULL. */
CAIRN_API const char* cairn_code_name(cairn_code code);
/* The library's semantic version, CAIRN_VERSION_STRING as it was built ("0.1.0"). */
CAIRN_API const char* cairn_version(void);
CAIRN_API void cairn_string_free(char* s);

/* --- the manager ------------------------------------------------------------------------- */

enum { CAIRN_RESOLVER_MERGE = 0, CAIRN_RESOLVER_LWW, CAIRN_RESOLVER_REMOTE, CAIRN_RESOLVER_LOCAL };
enum { CAIRN_DELIVERY_SYNC_THREAD = 0, CAIRN_DELIVERY_PUMPED };

typedef struct cairn_options {
  const char* endpoint;         /* a cairn-server URL, or NULL for real AWS in `region` */
  const char* region;           /* NULL: from the environment */
  const char* identity_pool_id; /* required to sync; local reads and writes work without it */
  const char* database_path;    /* the device's database file; NULL or ":memory:" in memory */
  /* Logins for the Cognito Identity flow: login_count pairs. */
  const char* const* login_providers;
  const char* const* login_tokens;
  size_t login_count;
  /* Developer credentials instead of the identity flow: all three plus identity_id. */
  const char* access_key_id;
  const char* secret_access_key;
  const char* session_token; /* may be NULL */
  const char* identity_id;
  int resolver; /* CAIRN_RESOLVER_*: what decides conflicts when a sync has no callback */
  int delivery; /* CAIRN_DELIVERY_* */
  /* 1: each put reaches the disk before it returns (synchronous=FULL), so it survives a power
   * cut; 0 (the default): it survives the app crashing, and a power cut may take back the last
   * puts (docs/localstore.md, Durability). */
  int durable_writes;
} cairn_options;

/* Zeroes the options: three-way merge, callbacks on the sync thread. */
CAIRN_API void cairn_options_init(cairn_options* options);

CAIRN_API cairn_code cairn_manager_open(const cairn_options* options, cairn_manager** out,
                                        char** error);
/* Answers queued syncs with CAIRN_CANCELLED and waits for running ones. NULL is allowed.
 * Dataset handles stay usable for local reads and writes until closed. */
CAIRN_API void cairn_manager_close(cairn_manager* manager);

/* The identity id, asking Cognito Identity first if none is known yet. */
CAIRN_API cairn_code cairn_identity_id(cairn_manager* manager, char** identity_id, char** error);
/* The host reports connectivity (1 reachable, 0 not); the engine polls nothing. */
CAIRN_API void cairn_set_network_reachable(cairn_manager* manager, int reachable);
/* Runs the callbacks queued under CAIRN_DELIVERY_PUMPED; returns how many ran. */
CAIRN_API size_t cairn_run_pending_callbacks(cairn_manager* manager);

/* --- datasets ------------------------------------------------------------------------------ */

CAIRN_API cairn_code cairn_dataset_open(cairn_manager* manager, const char* name,
                                        cairn_dataset** out, char** error);
CAIRN_API void cairn_dataset_close(cairn_dataset* dataset);

CAIRN_API cairn_code cairn_put(cairn_dataset* dataset, const char* key, const char* value,
                               char** error);
CAIRN_API cairn_code cairn_remove(cairn_dataset* dataset, const char* key, char** error);
/* *value is NULL when the key is absent (still CAIRN_OK). */
CAIRN_API cairn_code cairn_get(cairn_dataset* dataset, const char* key, char** value, char** error);

typedef struct cairn_record {
  char* key;
  char* value;
} cairn_record;
typedef struct cairn_records {
  size_t count;
  cairn_record* items; /* sorted by key */
} cairn_records;
/* The live records; free the result with cairn_records_free. */
CAIRN_API cairn_code cairn_get_all(cairn_dataset* dataset, cairn_records** out, char** error);
/* Writes count records in one transaction: all or none. values[i] NULL removes keys[i]. */
CAIRN_API cairn_code cairn_put_all(cairn_dataset* dataset, const char* const* keys,
                                   const char* const* values, size_t count, char** error);
/* The UTF-8 bytes of the dataset's live keys and values. */
CAIRN_API cairn_code cairn_dataset_size_bytes(cairn_dataset* dataset, int64_t* out, char** error);
/* *changed is 1 when the key has a local change not yet pushed. */
CAIRN_API cairn_code cairn_is_changed(cairn_dataset* dataset, const char* key, int* changed,
                                      char** error);
CAIRN_API void cairn_records_free(cairn_records* records);
/* Deletes the dataset locally; the next sync deletes it on the server. */
CAIRN_API cairn_code cairn_dataset_delete(cairn_dataset* dataset, char** error);

enum {
  CAIRN_STATE_IDLE = 0,
  CAIRN_STATE_SYNCING,
  CAIRN_STATE_WAITING_FOR_NETWORK,
  CAIRN_STATE_BACKING_OFF
};
typedef struct cairn_status {
  int state; /* CAIRN_STATE_* */
  int64_t pending_changes;
  int64_t last_sync_count;
  int has_last_result; /* 0 before the first sync in this process */
  cairn_code last_result;
  int64_t pulled_records; /* during (or after) the last pull */
} cairn_status;
CAIRN_API cairn_code cairn_dataset_status(cairn_dataset* dataset, cairn_status* out, char** error);

/* --- sync ---------------------------------------------------------------------------------- */

enum {
  CAIRN_RESOLVE_REMOTE = 0,
  CAIRN_RESOLVE_LOCAL,
  CAIRN_RESOLVE_VALUE,
  CAIRN_RESOLVE_UNRESOLVED
};

typedef struct cairn_conflict {
  const char* dataset;
  const char* key;
  const char* local_value;  /* NULL: removed on this device */
  const char* remote_value; /* NULL: removed on the server */
  const char* base_value;   /* the last synced value; NULL if none or removed */
  int has_base;
  int64_t local_modified_ms;  /* epoch ms, device clock */
  int64_t remote_modified_ms; /* epoch ms, server clock */
  int64_t clock_skew_ms;      /* server minus device, as measured */
} cairn_conflict;

/* Decides one conflict: returns CAIRN_RESOLVE_*. For CAIRN_RESOLVE_VALUE it sets *value to the
 * value to keep (NULL removes the record); cairn copies it before the callback returns to it. */
typedef int (*cairn_conflict_fn)(void* user_data, const cairn_conflict* conflict,
                                 const char** value);
/* Called exactly once per synchronize: code CAIRN_OK, or why it failed. */
typedef void (*cairn_sync_done_fn)(void* user_data, cairn_code code, const char* message,
                                   size_t updated_records);

/* What to do when the server says the dataset was deleted (CAIRN_DELETED_*), and with datasets the
 * server merged into it after two identities were merged (CAIRN_MERGED_*). */
enum { CAIRN_DELETED_DROP_LOCAL = 0, CAIRN_DELETED_RECREATE_FROM_LOCAL, CAIRN_DELETED_CANCEL };
enum { CAIRN_MERGED_FOLD = 0, CAIRN_MERGED_IGNORE, CAIRN_MERGED_CANCEL };
typedef int (*cairn_dataset_deleted_fn)(void* user_data, const char* dataset);
typedef int (*cairn_datasets_merged_fn)(void* user_data, const char* dataset,
                                        const char* const* merged, size_t merged_count);
/* Every callback a sync may call; any may be NULL (then the manager's default decides). */
typedef struct cairn_sync_callbacks {
  cairn_conflict_fn on_conflict;
  cairn_dataset_deleted_fn on_dataset_deleted; /* default: drop, or recreate if unpushed */
  cairn_datasets_merged_fn on_datasets_merged; /* default: fold */
  cairn_sync_done_fn done;
} cairn_sync_callbacks;

/* As cairn_synchronize, with every callback. `callbacks` is copied; user_data must stay valid
 * until done has been called. */
CAIRN_API cairn_code cairn_synchronize_with(cairn_dataset* dataset,
                                            const cairn_sync_callbacks* callbacks, void* user_data,
                                            char** error);

/* Starts a sync and returns at once. on_conflict NULL: the manager's resolver decides. done may be
 * NULL. Both callbacks and user_data must stay valid until done has been called. */
CAIRN_API cairn_code cairn_synchronize(cairn_dataset* dataset, cairn_conflict_fn on_conflict,
                                       cairn_sync_done_fn done, void* user_data, char** error);
/* Synchronizes and waits; returns the sync's code. Do not call it from a thread that pumps
 * callbacks under CAIRN_DELIVERY_PUMPED. */
CAIRN_API cairn_code cairn_synchronize_wait(cairn_dataset* dataset, cairn_conflict_fn on_conflict,
                                            void* user_data, char** error);

/* --- devices and push ---------------------------------------------------------------------- */

/* platform: "APNS", "APNS_SANDBOX", "GCM" or "ADM". Cached: an unchanged token sends nothing. */
CAIRN_API cairn_code cairn_register_device(cairn_manager* manager, const char* platform,
                                           const char* token, char** device_id, char** error);
CAIRN_API cairn_code cairn_subscribe(cairn_manager* manager, const char* dataset, char** error);
CAIRN_API cairn_code cairn_unsubscribe(cairn_manager* manager, const char* dataset, char** error);
/* A Cognito Sync push payload as JSON; *started is 1 when a sync was started. */
CAIRN_API cairn_code cairn_handle_push_json(cairn_manager* manager, const char* json, int* started,
                                            char** error);

#ifdef __cplusplus
}
#endif

#endif /* CAIRN_CAIRN_H_ */
