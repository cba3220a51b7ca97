"""Judging and printing the results of bench/load_test.py.

An operation's answer is expected when it came back as HTTP 200, its errors' extensions.code
are planned for the operation, and its union member is one the operation may return (see
bench/_load_mix.py). The run fails on any HTTP 5xx, any unexpected answer, any subscriber that
could not subscribe or was lost, and server memory growing past the bound after warm-up.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np
from _load_mix import OPERATIONS


def judge_operations(tallies: dict[str, dict[str, Any]], seconds: float) -> dict[str, Any]:
    """Per operation: rate, latency percentiles, and errors split into expected and not."""
    judged = {}
    for name, tally in sorted(tallies.items()):
        operation = OPERATIONS[name]
        latencies = np.array(tally["latencies_ms"], dtype=float)
        statuses = {int(status): count for status, count in tally["statuses"].items()}
        codes = Counter(tally["codes"])
        typenames = Counter(tally["typenames"])
        unexpected_typenames = {
            typename: count
            for typename, count in typenames.items()
            if operation.expected_typenames and typename not in operation.expected_typenames
        }
        judged[name] = {
            "requests": int(latencies.size),
            # Operations of weight 0 (register) run once per user before the measured run.
            "per_second": latencies.size / seconds if operation.weight else math.nan,
            "p50_ms": _percentile(latencies, 50),
            "p99_ms": _percentile(latencies, 99),
            "max_ms": float(latencies.max()) if latencies.size else math.nan,
            "http_5xx": sum(count for status, count in statuses.items() if status >= 500),
            "http_other_non_200": sum(
                count for status, count in statuses.items() if status != 200 and status < 500
            ),
            "no_answer": dict(tally["failures"]),
            "expected_codes": {c: n for c, n in codes.items() if c in operation.expected_codes},
            "unexpected_codes": {
                c: n for c, n in codes.items() if c not in operation.expected_codes
            },
            "typenames": dict(typenames),
            "unexpected_typenames": unexpected_typenames,
        }
    return judged


def _percentile(values: np.ndarray[Any, Any], percent: float) -> float:
    return float(np.percentile(values, percent)) if values.size else math.nan


def failures(report: dict[str, Any]) -> list[str]:
    """Why the run failed; empty when it passed."""
    found = []
    for name, judged in report["operations"].items():
        for key in ("http_5xx", "http_other_non_200"):
            if judged[key]:
                found.append(f"{name}: {judged[key]} x {key}")
        for key in ("no_answer", "unexpected_codes", "unexpected_typenames"):
            if judged[key]:
                found.append(f"{name}: {key} {judged[key]}")
    subscriptions = report["subscriptions"]
    if subscriptions["failed"]:
        found.append(f"{subscriptions['failed']} subscribers could not subscribe")
    if subscriptions["lost"]:
        found.append(f"{subscriptions['lost']} subscribers lost")
    if subscriptions["codes"]:
        found.append(f"errors on subscriptions: {subscriptions['codes']}")
    for kind, opened in subscriptions["kinds"].items():
        if opened and not subscriptions["received"].get(kind):
            found.append(f"no {kind} message received by {opened} subscribers")
    memory = report["server_rss_mib"]
    if memory["growth_after_warmup_percent"] >= memory["bound_percent"]:
        found.append(
            f"server RSS grew {memory['growth_after_warmup_percent']:.1f}% after warm-up "
            f"(bound {memory['bound_percent']:g}%)"
        )
    return found


def print_summary(report: dict[str, Any]) -> None:
    print(
        f"\n{report['duration_s']:.0f} s, {report['users']} virtual users, "
        f"{report['subscriptions']['opened']} subscribers; "
        f"load average before/after {report['load_before']} / {report['load_after']}"
    )
    print(
        f"{'operation':<24}{'req':>7}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'5xx':>5}"
        "  expected errors / unexpected"
    )
    total = 0
    for name, judged in report["operations"].items():
        if not math.isnan(judged["per_second"]):  # not the set-up before the run
            total += judged["requests"]
        expected = {**judged["expected_codes"], **_expected_typenames(judged)}
        unexpected = {**judged["unexpected_codes"], **judged["unexpected_typenames"]}
        print(
            f"{name:<24}{judged['requests']:>7}{_rate(judged['per_second']):>8}"
            f"{judged['p50_ms']:>9.1f}{judged['p99_ms']:>9.1f}{judged['http_5xx']:>5}"
            f"  {expected or '-'} / {unexpected or '-'}"
        )
    print(f"{'all in the run':<24}{total:>7}{total / report['duration_s']:>8.1f}")
    subscriptions = report["subscriptions"]
    print(
        f"subscriptions: {subscriptions['kinds']} opened, {subscriptions['failed']} failed, "
        f"messages {subscriptions['received']}, lost {subscriptions['lost']}, "
        f"error codes {subscriptions['codes'] or '-'}"
    )
    memory = report["server_rss_mib"]
    print(
        f"server RSS MiB: start {memory['start']:.0f}, after warm-up {memory['after_warmup']:.0f}, "
        f"end {memory['end']:.0f}, max {memory['max']:.0f} "
        f"(growth after warm-up {memory['growth_after_warmup_percent']:+.1f}%, "
        f"bound < {memory['bound_percent']:g}%)"
    )
    cpu = " ".join(f"{name} {percent:.0f}%" for name, percent in report["cpu_percent"].items())
    print(f"CPU over the run (100% = one core): {cpu}")
    for failure in report["failures"]:
        print(f"FAILED: {failure}")
    print("PASSED" if not report["failures"] else "FAILED")


def _expected_typenames(judged: dict[str, Any]) -> dict[str, int]:
    """The union members worth showing: expected failures such as RateLimitedError."""
    return {
        typename: count
        for typename, count in judged["typenames"].items()
        if typename.endswith("Error") and typename not in judged["unexpected_typenames"]
    }


def _rate(per_second: float) -> str:
    return "-" if math.isnan(per_second) else f"{per_second:.1f}"
