#!/usr/bin/env python3
"""The README, run as a reader would run it.

- The quick start block (after <!-- readme_quick_start -->) runs as written, in bash, in a scratch
  directory, with the build's binaries and a free loopback port in place of build/bin/ and 8080.
  Its output must be the one the README shows after <!-- readme_quick_start_output -->, with
  identity ids and times masked.
- The README's copy of samples/minimal.cc is the file itself.

Usage: readme_test.py REPO_ROOT BIN_DIR
"""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile


def block_after(text, marker):
    at = text.index(marker)
    start = text.index("```", at)
    start = text.index("\n", start) + 1
    end = text.index("```", start)
    return text[start:end]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mask(text):
    text = re.sub(r"us-east-1:[0-9a-f-]{36}", "IDENTITY", text)
    return re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "TIME", text)


def main():
    root, bin_dir = sys.argv[1], sys.argv[2]
    readme = open(os.path.join(root, "README.md")).read()
    failures = []

    minimal = open(os.path.join(root, "samples", "minimal.cc")).read()
    if block_after(readme, "`samples/minimal.cc`, whole:") != minimal:
        failures.append("the README's samples/minimal.cc differs from the file")

    script = block_after(readme, "<!-- readme_quick_start -->")
    expected = block_after(readme, "<!-- readme_quick_start_output -->")
    port = free_port()
    script = script.replace("build/bin/", bin_dir.rstrip("/") + "/")
    script = script.replace("127.0.0.1:8080", "127.0.0.1:%d" % port)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_SHARED_CREDENTIALS_FILE"] = env["AWS_CONFIG_FILE"] = "/nonexistent"
    with tempfile.TemporaryDirectory(prefix="cairn-readme-") as work:
        proc = subprocess.Popen(["bash", "-e", "-c", script], cwd=work, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        try:
            out, err = proc.communicate(timeout=240)
        finally:
            try:  # the server, should the script have stopped before `kill %1`
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if proc.returncode != 0:
            failures.append("the quick start failed (exit %d):\n%s\n%s\nserver.log:\n%s" % (
                proc.returncode, out, err,
                open(os.path.join(work, "server.log")).read()
                if os.path.exists(os.path.join(work, "server.log")) else "(none)"))
        elif mask(out) != mask(expected):
            failures.append("the quick start printed:\n%s\nthe README says:\n%s" % (out, expected))
        elif err:
            failures.append("the quick start wrote to stderr:\n%s" % err)
    for f in failures:
        print("FAIL: " + f)
    if failures:
        return 1
    print("the README's quick start ran as written, and its minimal.cc is the sample")
    return 0


if __name__ == "__main__":
    sys.exit(main())
