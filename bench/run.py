#!/usr/bin/env python3
"""Runs every cairn benchmark and gathers its figures.

Each benchmark binary measures its figures beside their floors in the same run and writes them as
JSON (--out). This script runs them in turn, merges their figures into one latest.json (with the
machine and the commit), prints one table, draws the PNG plots, and, with --profile, records a
callgrind profile of cairn-server's hot path.

    python3 bench/run.py --build-dir build-release --out bench/results          # the full run
    python3 bench/run.py --smoke --build-dir build --out build/bench-smoke       # CI: it works

Figures count only from a Release build: without --smoke, any other build type is refused.
The exit status says whether every benchmark ran, not whether the targets were met.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile

BENCHMARKS = [
    # (binary, arguments for a full run, arguments for a smoke run)
    ("localstore_bench", [], ["--benchmark_min_time=0.01"]),
    ("transport_bench", [], ["--benchmark_min_time=0.01"]),
    ("sync_bench", [], ["--smoke"]),
    ("server_load", [], ["--smoke"]),
    ("connections_bench", [], ["--smoke"]),
    ("process_bench", [], ["--smoke"]),
]

REQUIRED = ("name", "value", "unit", "floor", "floor_value", "ratio", "target", "met")


def build_type(build_dir):
    cache = os.path.join(build_dir, "CMakeCache.txt")
    try:
        with open(cache) as f:
            for line in f:
                if line.startswith("CMAKE_BUILD_TYPE:"):
                    return line.split("=", 1)[1].strip()
    except OSError:
        pass
    return ""


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gb = None
    try:
        with open("/proc/meminfo") as f:
            kb = int(re.search(r"MemTotal:\s+(\d+)", f.read()).group(1))
            mem_gb = round(kb / 1024 / 1024, 1)
    except (OSError, AttributeError):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": mem_gb,
        "kernel": platform.release(),
        "os": platform.platform(),
    }


def git_commit(source_dir):
    try:
        out = subprocess.run(["git", "-C", source_dir, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "-C", source_dir, "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True, text=True)
        return out.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run_benchmark(bin_dir, name, args, part):
    cmd = [os.path.join(bin_dir, name)] + args + ["--out", part]
    print("==> " + " ".join(cmd), flush=True)
    done = subprocess.run(cmd)
    if done.returncode != 0:
        print(f"run.py: {name} failed with status {done.returncode}", file=sys.stderr)
        return None
    with open(part) as f:
        data = json.load(f)
    for fig in data.get("figures", []):
        missing = [k for k in REQUIRED if k not in fig]
        if missing:
            print(f"run.py: {name}: figure {fig.get('name')} lacks {missing}", file=sys.stderr)
            return None
    if not data.get("figures"):
        print(f"run.py: {name} reported no figures", file=sys.stderr)
        return None
    return data


def print_table(figures):
    print()
    print(f"{'figure':<52} {'value':>12} {'floor':>12} {'ratio':>8} {'target':>8}  met")
    for f in figures:
        floor = "-" if f["floor_value"] is None else f"{f['floor_value']:.4g}"
        ratio = "-" if f["ratio"] is None else f"{f['ratio']:.2f}x"
        target = "-"
        if f["target"] is not None:
            target = (">=" if f["target_is"] == "min" else "<=") + f"{f['target']:g}x"
        met = "-" if f["met"] is None else ("yes" if f["met"] else "NO")
        print(f"{f['name']:<52} {f['value']:>12.4g} {floor:>12} {ratio:>8} {target:>8}  {met}"
              f"  {f['unit']}")
    judged = [f for f in figures if f["met"] is not None]
    print(f"\n{sum(1 for f in judged if f['met'])} of {len(judged)} targets met")


def number(v):
    """A figure as the docs show it: four significant digits, thousands separated."""
    if v is None:
        return "-"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.4g}"


def markdown_table(latest, pattern):
    """The figures of a latest.json whose names match `pattern`, as the docs' markdown table."""
    with open(latest) as f:
        data = json.load(f)
    print("| figure | value | floor | floor value | ratio | target | met |")
    print("|---|---|---|---|---|---|---|")
    for f in data["figures"]:
        if not re.search(pattern, f["name"]):
            continue
        ratio = "-" if f["ratio"] is None else f"{f['ratio']:.2f}x"
        target = "-"
        if f["target"] is not None:
            target = (">= " if f["target_is"] == "min" else "<= ") + f"{f['target']:g}x"
        met = "-" if f["met"] is None else ("yes" if f["met"] else "**no**")
        print(f"| {f['name']} | {number(f['value'])} {f['unit']} | {f['floor'] or '-'} | "
              f"{number(f['floor_value'])} | {ratio} | {target} | {met} |")
    m = data["machine"]
    print(f"\nMachine: {m.get('cpu', '?')}, {m.get('cores', '?')} cores; commit {data['commit']}, "
          f"{data['build_type']} build, {data['generated']}.")
    return 0


def plot(series, out_dir, latest):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        # Debian's python3-matplotlib belongs to /usr/bin/python3, which another python3 first on
        # PATH (pyenv, a venv) does not see: let that one draw.
        system = "/usr/bin/python3"
        if os.path.realpath(sys.executable) != os.path.realpath(system) and os.path.exists(system):
            return subprocess.run([system, os.path.abspath(__file__), "--plot-from", latest,
                                   "--out", out_dir]).returncode == 0
        print("run.py: matplotlib is missing (apt-get install python3-matplotlib): no plots",
              file=sys.stderr)
        return False
    for s in series:
        fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
        for line in s["lines"]:
            xs = [p[0] for p in line["points"]]
            ys = [p[1] for p in line["points"]]
            style = "--" if "floor" in line["label"].lower() else "-"
            ax.plot(xs, ys, style, marker="o", label=line["label"])
        ax.set_title(s["title"])
        ax.set_xlabel(s["x_label"])
        ax.set_ylabel(s["y_label"])
        # Memory against connections grows in a line: linear axes. The rest spans decades.
        if not s["name"].startswith("connections"):
            ax.set_xscale("log", base=2 if s["name"].startswith("server") else 10)
            xs_all = sorted({p[0] for line in s["lines"] for p in line["points"]})
            ax.set_xticks(xs_all)
            ax.set_xticklabels([f"{x:g}" for x in xs_all])
            ax.minorticks_off()
            if s["name"] != "server_throughput":
                ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        fig.tight_layout()
        path = os.path.join(out_dir, s["name"] + ".png")
        fig.savefig(path)
        plt.close(fig)
        print("wrote " + path)
    return True


def profile_server(bin_dir, out_dir):
    """A callgrind profile of cairn-server under 8 devices: instruction counts are repeatable
    on a noisy machine, unlike time."""
    if not shutil.which("valgrind") or not shutil.which("callgrind_annotate"):
        print("run.py: valgrind is missing: no profile", file=sys.stderr)
        return False
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "server.callgrind")
        cmd = [os.path.join(bin_dir, "server_load"), "--levels", "8", "--seconds", "10",
               "--no-floor", "--no-postgres", "--out", os.path.join(tmp, "profiled.json"),
               "--server-prefix", f"valgrind --tool=callgrind --callgrind-out-file={raw}"]
        print("==> " + " ".join(cmd), flush=True)
        if subprocess.run(cmd).returncode != 0 or not os.path.exists(raw):
            return False
        with open(os.path.join(tmp, "profiled.json")) as f:
            sessions = next((f["value"] for f in json.load(f)["figures"]
                             if f["name"].startswith("server.sessions_per_s")), 0) * 10
        inclusive = subprocess.run(["callgrind_annotate", "--inclusive=yes", raw],
                                   capture_output=True, text=True).stdout
        exclusive = subprocess.run(["callgrind_annotate", raw],
                                   capture_output=True, text=True).stdout
    path = os.path.join(out_dir, "server_profile.txt")
    with open(path, "w") as f:
        f.write("cairn-server under valgrind --tool=callgrind, 8 devices running sync sessions\n")
        f.write("(one ListRecords + one UpdateRecords of 10 records each) for 10 s: "
                f"about {sessions:.0f} sessions.\n")
        f.write("Instruction counts (Ir), not time: repeatable on a noisy machine. OpenSSL's\n"
                "SHA-256 runs its generic code under valgrind, so crypto is overstated here.\n\n")
        f.write("== inclusive (a function and everything it calls) ==\n")
        f.write("\n".join(l[:200] for l in inclusive.splitlines()[:90]))
        f.write("\n\n== self (the function's own instructions) ==\n")
        f.write("\n".join(l[:200] for l in exclusive.splitlines()[:70]))
        f.write("\n")
    print("wrote " + path)
    return True


def main():
    source_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--build-dir", default=os.path.join(source_dir, "build-release"))
    ap.add_argument("--out", default=os.path.join(source_dir, "bench", "results"))
    ap.add_argument("--smoke", action="store_true",
                    help="small sizes, seconds not minutes: checks that everything runs")
    ap.add_argument("--profile", action="store_true",
                    help="also record a callgrind profile of cairn-server (a few minutes)")
    ap.add_argument("--only", action="append", default=[],
                    help="run only this benchmark (repeatable)")
    ap.add_argument("--plot-from", help="only draw the plots of this latest.json")
    ap.add_argument("--markdown-from", metavar="LATEST_JSON",
                    help="only print this latest.json's figures as a markdown table (for the docs)")
    ap.add_argument("--match", default="", help="with --markdown-from: only figures matching this")
    args = ap.parse_args()

    if args.markdown_from:
        return markdown_table(args.markdown_from, args.match)

    if args.plot_from:
        with open(args.plot_from) as f:
            return 0 if plot(json.load(f)["series"], args.out, args.plot_from) else 1

    kind = build_type(args.build_dir)
    if not args.smoke and kind != "Release":
        print(f"run.py: {args.build_dir} is a '{kind or 'unknown'}' build; figures count only "
              "from Release (cmake --preset release)", file=sys.stderr)
        return 2
    bin_dir = os.path.join(args.build_dir, "bin")
    os.makedirs(args.out, exist_ok=True)

    figures, series, ok = [], [], True
    with tempfile.TemporaryDirectory() as tmp:
        for name, full, smoke in BENCHMARKS:
            if args.only and name not in args.only:
                continue
            data = run_benchmark(bin_dir, name, smoke if args.smoke else full,
                                 os.path.join(tmp, name + ".json"))
            if data is None:
                ok = False
                continue
            figures += data["figures"]
            series += data.get("series", [])

    result = {
        "generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": git_commit(source_dir),
        "build_type": kind,
        "smoke": args.smoke,
        "machine": machine(),
        "figures": figures,
        "series": series,
    }
    path = os.path.join(args.out, "latest.json")
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print_table(figures)
    print("wrote " + path)
    ok = plot(series, args.out, path) and ok
    if args.profile and not args.smoke:
        ok = profile_server(bin_dir, args.out) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
