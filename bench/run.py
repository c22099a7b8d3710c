"""Run every benchmark script in bench/ (`*_bench.py`), one process each, and print what they report.

    make bench                                   # or: .venv/bin/python bench/run.py
    .venv/bin/python bench/run.py directory      # only the scripts whose name contains "directory"
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres make bench

Arguments that start with "-" (e.g. --profile) are passed on to every script. Benchmarks are not tests:
a missed target is reported in the output, not as a failure; a script that crashes is.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    options = [arg for arg in argv if arg.startswith("-")]
    wanted = [arg for arg in argv if not arg.startswith("-")]
    scripts = [path for path in sorted(BENCH.glob("*_bench.py")) if not wanted or any(w in path.stem for w in wanted)]
    if not scripts:
        print("no benchmark scripts match", file=sys.stderr)
        return 2
    failed = []
    for script in scripts:
        print(f"== {script.name}", flush=True)
        started = time.perf_counter()
        result = subprocess.run([sys.executable, str(script), *options], cwd=BENCH.parent, check=False)
        print(f"== {script.name}: {'done' if result.returncode == 0 else f'FAILED ({result.returncode})'} "
              f"in {time.perf_counter() - started:.0f} s\n", flush=True)
        if result.returncode != 0:
            failed.append(script.name)
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
