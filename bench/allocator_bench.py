"""The price of PYTHONMALLOC=malloc: building and encoding a large response under CPython's
own small-object allocator (the default) and under glibc's malloc, in fresh interpreters.

    .venv/bin/python bench/allocator_bench.py [--rows 200000] [--rounds 7]

glibc's malloc lets malloc_trim give back every freed page (see app/memory_release.py and
docs/PERFORMANCE.md, "Memory after a burst"); this measures what it costs on the work that
dominates a large GraphQL answer: many small dicts, floats and strings, encoded to JSON.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

WORK = """
import statistics, time, orjson
def build(rows):
    items = [{"t": i, "o": float(i), "c": float(i) + 0.5, "s": str(i)} for i in range(rows)]
    return len(orjson.loads(orjson.dumps(items)))
times = []
for _ in range(ROUNDS):
    started = time.perf_counter()
    build(ROWS)
    times.append(time.perf_counter() - started)
print(statistics.median(times))
"""


def median_seconds(allocator: str, rows: int, rounds: int) -> float:
    env = {**os.environ, "PYTHONMALLOC": allocator}
    output = subprocess.run(
        [sys.executable, "-c", WORK.replace("ROWS", str(rows)).replace("ROUNDS", str(rounds))],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(output)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    pymalloc = median_seconds("pymalloc", args.rows, args.rounds)
    malloc = median_seconds("malloc", args.rows, args.rounds)
    print(f"{args.rows:,} rows, median of {args.rounds}")
    print(f"  pymalloc (default)  {pymalloc * 1000:8.1f} ms")
    print(f"  malloc              {malloc * 1000:8.1f} ms")
    print(f"  malloc/pymalloc     {malloc / pymalloc:.2f}x")


if __name__ == "__main__":
    main()
