#!/usr/bin/env bash
# A throwaway PostgreSQL for tests and benchmarks: its own cluster in a temporary directory, on a
# free loopback port, with its socket in that directory, so it touches no system cluster.
#
#   scripts/pg-test-cluster.sh start STATE [--durable]   # writes STATE: the directory, then the URL
#   scripts/pg-test-cluster.sh stop STATE                # stops it and removes the directory
#   scripts/pg-test-cluster.sh pause|resume STATE        # stops it, or starts it again as it was
#
# PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` user that
# Debian's package creates. Tests get fsync off (nothing here outlives the run); --durable keeps
# PostgreSQL's defaults, as the benchmarks want.
set -euo pipefail

cmd=${1:?start or stop}
state=${2:?state file}

stop_cluster() {
  [ -f "$state" ] || return 0
  local dir
  dir=$(sed -n 1p "$state")
  if [ -n "$dir" ] && [ -d "$dir/data" ]; then
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  [ -n "$dir" ] && rm -rf "$dir"
  rm -f "$state"
}

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "pg-test-cluster: PostgreSQL's server is not installed (scripts/install-deps.sh installs it)" >&2
  exit 1
fi

owner=""
if [ "$(id -u)" -eq 0 ]; then owner=postgres; fi
as_owner() {
  if [ -n "$owner" ]; then runuser -u "$owner" -- "$@"; else "$@"; fi
}

case "$cmd" in
  start)
    stop_cluster  # a cluster left by an interrupted run
    dir=$(mktemp -d /tmp/cairn-pg-XXXXXX)
    chmod 755 "$dir"
    [ -n "$owner" ] && chown "$owner" "$dir"
    as_owner "$bindir/initdb" -D "$dir/data" -U cairn -A trust -E UTF8 --no-sync --no-instructions \
      >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    settings="-c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir -c max_connections=500"
    if [ "${3:-}" != "--durable" ]; then
      settings="$settings -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    fi
    # A free port: the kernel picks one, PostgreSQL takes it; on the rare race, pick again.
    for attempt in 1 2 3 4 5; do
      port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
      if as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
           -o "$settings -p $port" start >/dev/null; then
        printf '%s\npostgresql://cairn@127.0.0.1:%s/postgres\n' "$dir" "$port" >"$state"
        echo "pg-test-cluster: PostgreSQL on 127.0.0.1:$port, data in $dir"
        exit 0
      fi
    done
    cat "$dir/server.log" >&2
    exit 1
    ;;
  stop)
    stop_cluster
    ;;
  pause)
    as_owner "$bindir/pg_ctl" -D "$(sed -n 1p "$state")/data" -m fast -w stop >/dev/null
    ;;
  resume)
    # restart reuses the options of the first start (postmaster.opts): the same port and settings.
    dir=$(sed -n 1p "$state")
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 restart >/dev/null 2>&1
    ;;
  *)
    echo "usage: $0 start|stop|pause|resume STATE [--durable]" >&2
    exit 2
    ;;
esac
