#!/usr/bin/env python3
"""bench/compare.sh's table: per variant, medians over rounds of keep-alive req/s and CPU µs per
request (HTTP and HTTPS), with ratios to HAProxy's.

Reads DIR/cmp-<label>-<proto>-<round>.txt (wrk output) and .cpu ("<ticks> <ticks per second>").
Usage: compare_report.py DIR LABEL... (the first label is HAProxy's, the reference).
"""

import statistics
import sys
from pathlib import Path

from report import parse_wrk


def medians(raw, label, proto):
    rps, cpu = [], []
    for path in sorted(raw.glob(f"cmp-{label}-{proto}-*.txt")):
        result = parse_wrk(path.read_text())
        if not result.get("requests"):
            continue
        rps.append(result["rps"])
        ticks, per_second = path.with_suffix(".cpu").read_text().split()
        cpu.append(int(ticks) / int(per_second) * 1e6 / result["requests"])
    if not rps:
        return None
    return statistics.median(rps), statistics.median(cpu), len(rps)


def main():
    raw, labels = Path(sys.argv[1]), sys.argv[2:]
    reference = labels[0]
    rows = {(label, proto): medians(raw, label, proto) for label in labels for proto in ("http", "https")}
    print(f"Medians over rounds; ratios to {reference}. wrk -t2 -c64 keep-alive.")
    print()
    print("| variant | req/s HTTP | req/s HTTPS | CPU µs/req HTTP | CPU µs/req HTTPS |")
    print("| --- | --: | --: | --: | --: |")
    for label in labels:
        cells = []
        for column in (0, 1):
            for proto in ("http", "https"):
                row, ref = rows[(label, proto)], rows[(reference, proto)]
                if row is None:
                    cells.append("–")
                    continue
                value = row[column]
                text = f"{value:,.0f}" if column == 0 else f"{value:.1f}"
                if label != reference and ref is not None:
                    text += f" ({value / ref[column]:.2f}×)"
                cells.append(text)
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
