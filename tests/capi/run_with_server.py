"""Runs a test binary against a throwaway cairn-server on a free loopback port.

usage: run_with_server.py SERVER_BINARY TEST_COMMAND [ARGS...]
The test gets CAIRN_ENDPOINT, CAIRN_POOL, CAIRN_ADMIN_KEY, CAIRN_ADMIN_SECRET and CAIRN_TMPDIR.
"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))
from server_process import ADMIN_KEY, ADMIN_SECRET, CairnServer  # noqa: E402


def main():
    server = CairnServer(sys.argv[1])
    try:
        with tempfile.TemporaryDirectory(prefix="cairn-capi-") as tmp:
            env = dict(os.environ, CAIRN_ENDPOINT=server.url, CAIRN_POOL=server.pool,
                       CAIRN_ADMIN_KEY=ADMIN_KEY, CAIRN_ADMIN_SECRET=ADMIN_SECRET,
                       CAIRN_TMPDIR=tmp)
            return subprocess.run(sys.argv[2:], env=env, timeout=600).returncode
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
