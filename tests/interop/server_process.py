"""Starts a throwaway cairn-server on a free loopback port for an interop test."""
import os
import subprocess
import tempfile

ADMIN_KEY = "AKIDCAIRNINTEROP"
ADMIN_SECRET = "interop-admin-secret"


class CairnServer:
    def __init__(self, binary, region="us-east-1", extra=()):
        self.dir = tempfile.TemporaryDirectory(prefix="cairn-interop-")
        self.proc = subprocess.Popen(
            [binary, "--listen", "127.0.0.1:0", "--db", "sqlite:" + os.path.join(self.dir.name, "cairn.db"),
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
