#!/usr/bin/env python3
"""Turns bench/profile.sh's raw outputs into the table of bench/README.md's profile section.

Reads DIR/<setup>-<proto>.plain ("requests vol0 invol0 vol1 invol1 ticks hz"), DIR/<setup>-
<proto>.strace (`strace -c -f` summary) and DIR/<setup>-<proto>.strace-wrk (the wrk output of
the run under strace), and prints per request: system calls (all, and the five most frequent),
context switches (voluntary + involuntary) and CPU µs.
"""

import re
import sys
from pathlib import Path

SETUPS = ["tierlab", "haproxy", "nginx"]


def wrk_requests(text):
    m = re.search(r"^\s+(\d+) requests in", text, re.M)
    return int(m.group(1)) if m else None


def strace_calls(text):
    """{syscall: calls} from a `strace -c` summary."""
    calls = {}
    for line in text.splitlines():
        fields = line.split()
        # "% time  seconds  usecs/call  calls  [errors]  syscall"
        if len(fields) >= 5 and re.match(r"^[\d.]+$", fields[0]) and fields[-1] != "total":
            try:
                calls[fields[-1]] = int(fields[3])
            except ValueError:
                continue
    return calls


def malloc_per_request(stem):
    """Calls to malloc per request: `perf stat -x,` output and its run's wrk output."""
    counts, wrk = stem.with_suffix(".malloc"), stem.with_suffix(".malloc-wrk")
    if not counts.exists() or not wrk.exists():
        return None
    requests = wrk_requests(wrk.read_text())
    for line in counts.read_text().splitlines():
        fields = line.split(",")
        if len(fields) > 2 and "probe_libc:malloc" in fields[2] and fields[0].isdigit():
            return int(fields[0]) / requests if requests else None
    return None


def main():
    raw = Path(sys.argv[1])
    print("Per request, keep-alive (wrk -t2 -c64): system calls under strace, context switches "
          "and CPU in a plain run, calls to libc's malloc (perf uprobe).")
    print()
    print("| setup | proto | syscalls | the most frequent (per req) | ctx switches (vol + invol) | malloc calls | CPU µs |")
    print("| --- | --- | --: | --- | --: | --: | --: |")
    for setup in SETUPS:
        for proto in ("http", "https"):
            stem = raw / f"{setup}-{proto}"
            plain = stem.with_suffix(".plain")
            if not plain.exists():
                continue
            n, v0, i0, v1, i1, ticks, hz = (int(x) for x in plain.read_text().split())
            vol, invol = (v1 - v0) / n, (i1 - i0) / n
            cpu = ticks / hz * 1e6 / n
            calls = strace_calls(stem.with_suffix(".strace").read_text())
            traced = wrk_requests(stem.with_suffix(".strace-wrk").read_text()) or 0
            total = sum(calls.values()) / traced if traced else None
            top = sorted(calls.items(), key=lambda kv: -kv[1])[:5]
            top_text = ", ".join(f"{name} {c / traced:.2f}" for name, c in top) if traced else "—"
            mallocs = malloc_per_request(stem)
            print(f"| {setup} | {proto} | {'—' if total is None else f'{total:.2f}'} | {top_text} "
                  f"| {vol + invol:.2f} ({vol:.2f} + {invol:.2f}) "
                  f"| {'—' if mallocs is None else f'{mallocs:.1f}'} | {cpu:.1f} |")


if __name__ == "__main__":
    main()
