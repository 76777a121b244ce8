/* Uses the installed C API: a manager on an in-memory store, a local write and read. */
#include <cairn/cairn.h>
#include <stdio.h>
#include <string.h>

int main(void) {
  cairn_options o;
  cairn_options_init(&o);
  o.database_path = ":memory:";
  cairn_manager* m = NULL;
  cairn_dataset* d = NULL;
  char* value = NULL;
  if (cairn_manager_open(&o, &m, NULL) != CAIRN_OK) return 1;
  if (cairn_dataset_open(m, "save", &d, NULL) != CAIRN_OK) return 1;
  if (cairn_put(d, "level", "7", NULL) != CAIRN_OK) return 1;
  if (cairn_get(d, "level", &value, NULL) != CAIRN_OK || !value) return 1;
  int ok = strcmp(value, "7") == 0;
  printf("c: level=%s, libcairn %s\n", value, cairn_version());
  cairn_string_free(value);
  cairn_dataset_close(d);
  cairn_manager_close(m);
  return ok ? 0 : 1;
}
