"""Starts a throwaway cairn-server on a free loopback port for an interop test."""
import os
import secrets
import subprocess
import tempfile

ADMIN_KEY = "AKIDCAIRNINTEROP"
ADMIN_SECRET = "interop-admin-secret"


def test_db(directory):
    """SQLite in `directory`, or, in the PostgreSQL copy of the suite (CAIRN_TEST_PG_STATE names
    the throwaway cluster ctest started), a fresh schema on that cluster."""
    state = os.environ.get("CAIRN_TEST_PG_STATE")
    if not state:
        return "sqlite:" + os.path.join(directory, "cairn.db")
    with open(state) as f:
        url = f.read().split("\n")[1]
    return url + "?schema=t_" + secrets.token_hex(8)


class CairnServer:
    def __init__(self, binary, region="us-east-1", extra=()):
        self.dir = tempfile.TemporaryDirectory(prefix="cairn-interop-")
        self.proc = subprocess.Popen(
            [binary, "--listen", "127.0.0.1:0", "--db", test_db(self.dir.name),
             "--region", region, "--bootstrap-pool", "game", "--log-level", "warn",
             "--admin-access-key-id", ADMIN_KEY, "--admin-secret-access-key", ADMIN_SECRET, *extra],
            stdout=subprocess.PIPE, text=True)
        self.pool = None
        for line in self.proc.stdout:
            line = line.strip()
            if line.startswith("identity-pool game "):
                self.pool = line.split()[2]
            if line.startswith("cairn-server listening on "):
                self.url = line.split()[-1]
                break
        else:
            raise RuntimeError("cairn-server did not start")

    def stop(self):
        self.proc.terminate()
        code = self.proc.wait(timeout=10)
        self.dir.cleanup()
        return code
