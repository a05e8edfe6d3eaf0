#!/usr/bin/env python3
"""Turns bench/run.sh's raw wrk outputs into the Markdown tables of bench/README.md.

Reads DIR/<round>-<setup>-<test>.txt (wrk output), DIR/<round>-<setup>-<test>.rss (highest
VmRSS in kB seen during that run), DIR/<round>-<setup>-<test>.cpu ("<ticks> <ticks per second>",
the CPU time the server under test spent during that run) and DIR/<setup>.hwm (VmHWM in kB at
the end), and prints the median over rounds of each number, then ratios to direct and to HAProxy.
Also DIR/idle-<setup>-<http|https>.idle (bench/lib.sh's measure_idle): the memory that idle
keep-alive client connections take.
"""

import re
import statistics
import sys
from collections import defaultdict
from pathlib import Path

SETUPS = ["direct", "tierlab", "haproxy", "nginx"]
UNITS = {"us": 1.0, "ms": 1e3, "s": 1e6}


def parse_wrk(text):
    """Requests/s, p50 and p99 in microseconds (when --latency), and error counts."""
    out = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if m:
        out["rps"] = float(m.group(1))
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        if m:
            out[f"p{pct}"] = float(m.group(1)) * UNITS[m.group(2)]
    m = re.search(r"^\s+(\d+) requests in", text, re.M)
    if m:
        out["requests"] = int(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    out["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    out["sockerr"] = sum(int(g) for g in m.groups()) if m else 0
    return out


def parse_h2load(text):
    """Requests/s, requests that succeeded, and those that failed or errored."""
    out = {}
    m = re.search(r"finished in [\d.]+\w*, ([\d.]+) req/s", text)
    if m:
        out["rps"] = float(m.group(1))
    m = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored", text)
    if m:
        out["requests"] = int(m.group(1))
        out["failed"] = int(m.group(2)) + int(m.group(3))
    return out


def load_h2(raw):
    """{setup: [per-round dicts]} from DIR/<round>-<setup>-h2.h2 (and .h2cpu)."""
    runs = defaultdict(list)
    for path in sorted(raw.glob("*.h2")):
        _round, setup, _test = path.stem.split("-", 2)
        result = parse_h2load(path.read_text())
        cpu = path.with_suffix(".h2cpu")
        if cpu.exists() and result.get("requests"):
            ticks, hz = (int(x) for x in cpu.read_text().split())
            result["cpu_us"] = ticks / hz * 1e6 / result["requests"]
        runs[setup].append(result)
    return runs


def load(raw):
    """{(setup, test): [per-round dicts]} and {setup: hwm_kb}."""
    runs = defaultdict(list)
    for path in sorted(raw.glob("*.txt")):
        _round, setup, test = path.stem.split("-", 2)
        result = parse_wrk(path.read_text())
        rss = path.with_suffix(".rss")
        if rss.exists():
            result["rss"] = int(rss.read_text().strip() or 0)
        cpu = path.with_suffix(".cpu")
        if cpu.exists() and result.get("requests"):
            ticks, hz = (int(x) for x in cpu.read_text().split())
            result["cpu_us"] = ticks / hz * 1e6 / result["requests"]
        runs[(setup, test)].append(result)
    hwm = {}
    for path in raw.glob("*.hwm"):
        hwm[path.stem] = int(path.read_text().strip() or 0)
    return runs, hwm


def load_idle(raw):
    """{(setup, proto): {asked, opened, before, after, ok, failed}} (kB for memory)."""
    out = {}
    for path in sorted(raw.glob("idle-*.idle")):
        _idle, setup, proto = path.stem.split("-", 2)
        asked, opened, before, after, ok, failed = (int(x) for x in path.read_text().split())
        out[(setup, proto)] = dict(asked=asked, opened=opened, before=before, after=after,
                                   ok=ok, failed=failed)
    return out


def print_idle(idle):
    """KiB per idle connection (RSS with them minus RSS of the fresh proxy, over the count)."""
    per = {key: (v["after"] - v["before"]) / v["opened"] if v["opened"] else None
           for key, v in idle.items()}
    asked = max(v["asked"] for v in idle.values())
    print()
    print(f"Idle keep-alive client connections: {asked:,} at once, each after one request "
          "(bench/idle_clients.py), on the fresh proxy; KiB of RSS per connection.")
    print()
    print(row(["setup", "KiB per conn HTTP", "KiB per conn HTTPS", "RSS MB with them HTTP / HTTPS",
               "÷ HAProxy HTTP / HTTPS"]))
    print(row(["---"] + ["--:"] * 4))
    for s in ("tierlab", "haproxy", "nginx"):
        if (s, "http") not in idle:
            continue
        cells = [s]
        for proto in ("http", "https"):
            v = per.get((s, proto))
            cells.append("—" if v is None else f"{v:.1f}")
        cells.append(" / ".join(f"{idle[(s, p)]['after'] / 1024:.1f}" if (s, p) in idle else "—"
                                for p in ("http", "https")))
        cells.append(" / ".join(fmt_ratio(per.get((s, p)), per.get(("haproxy", p)))
                                for p in ("http", "https")))
        print(row(cells))


def median(runs, setup, test, key):
    values = [r[key] for r in runs.get((setup, test), []) if key in r]
    return statistics.median(values) if values else None


def peak_rss_mb(runs, setup):
    values = [r["rss"] for (s, _t), rs in runs.items() if s == setup for r in rs if "rss" in r]
    return max(values) / 1024 if values else None


def fmt_int(v):
    return "—" if v is None else f"{v:,.0f}"


def fmt_us(v):
    return "—" if v is None else (f"{v:,.0f}" if v >= 100 else f"{v:.0f}")


def fmt_cpu(v):
    return "—" if v is None else f"{v:.1f}"


def fmt_ratio(a, b):
    if a is None or b is None or b == 0:
        return "—"
    return f"{a / b:.2f}×"


def row(cells):
    return "| " + " | ".join(cells) + " |"


def main():
    raw = Path(sys.argv[1])
    runs, hwm = load(raw)
    rounds = len(runs.get(("direct", "rps-http"), []))
    m = {
        s: {
            "http": median(runs, s, "rps-http", "rps"),
            "https": median(runs, s, "rps-https", "rps"),
            "p50h": median(runs, s, "lat-http", "p50"),
            "p99h": median(runs, s, "lat-http", "p99"),
            "p50s": median(runs, s, "lat-https", "p50"),
            "p99s": median(runs, s, "lat-https", "p99"),
            "tls": median(runs, s, "tlsnew", "rps"),
            "cpuh": median(runs, s, "rps-http", "cpu_us"),
            "cpus": median(runs, s, "rps-https", "cpu_us"),
            "cpun": median(runs, s, "tlsnew", "cpu_us"),
            "rss": peak_rss_mb(runs, s),
            "hwm": hwm.get(s, 0) / 1024 if s in hwm else None,
        }
        for s in SETUPS
    }

    print(f"Medians over {rounds} rounds; latency in µs at one connection (wrk -c1); "
          "req/s with wrk -t2 -c64 keep-alive; new TLS conn/s with `Connection: close`, wrk -c16.")
    print()
    print(row(["setup", "req/s HTTP", "req/s HTTPS", "p50 / p99 HTTP", "p50 / p99 HTTPS",
               "new TLS conn/s", "CPU µs per req HTTP / HTTPS / new TLS conn",
               "RSS MB under load (VmHWM)"]))
    print(row(["---"] + ["--:"] * 7))
    for s in SETUPS:
        v = m[s]
        rss = "—" if v["rss"] is None else f"{v['rss']:.1f} ({v['hwm']:.1f})"
        cpu = " / ".join(fmt_cpu(v[k]) for k in ("cpuh", "cpus", "cpun"))
        print(row([s if s != "direct" else "direct (backend1)", fmt_int(v["http"]),
                   fmt_int(v["https"]),
                   f"{fmt_us(v['p50h'])} / {fmt_us(v['p99h'])}",
                   f"{fmt_us(v['p50s'])} / {fmt_us(v['p99s'])}",
                   fmt_int(v["tls"]), cpu, rss]))
    print()

    d, h = m["direct"], m["haproxy"]

    def added(v, key):
        return None if v[key] is None or d[key] is None else v[key] - d[key]

    print("Ratios (÷ direct, ÷ HAProxy); added p99 = p99 minus direct's p99, in µs.")
    print()
    print(row(["setup", "req/s HTTP", "req/s HTTPS", "added p99 HTTP", "added p99 HTTPS",
               "new TLS conn/s", "CPU per req HTTP / HTTPS (÷ HAProxy)", "RSS (÷ HAProxy)"]))
    print(row(["---"] + ["--:"] * 7))
    for s in SETUPS[1:]:
        v = m[s]
        cells = [s]
        for key in ("http", "https"):
            cells.append(f"{fmt_ratio(v[key], d[key])} / {fmt_ratio(v[key], h[key])}")
        for key in ("p99h", "p99s"):
            a, ha = added(v, key), added(h, key)
            # A ratio of added latencies only means something when both are positive.
            ratio = fmt_ratio(a, ha) if a is not None and a > 0 and ha and ha > 0 else "—"
            cells.append("—" if a is None else f"{a:+,.0f} ({ratio} HAProxy's)")
        cells.append(f"{fmt_ratio(v['tls'], d['tls'])} / {fmt_ratio(v['tls'], h['tls'])}")
        cells.append(f"{fmt_ratio(v['cpuh'], h['cpuh'])} / {fmt_ratio(v['cpus'], h['cpus'])}")
        cells.append(fmt_ratio(v["rss"], h["rss"]))
        print(row(cells))

    h2 = load_h2(raw)
    if h2:
        h2m = {s: {k: statistics.median([r[k] for r in rs if k in r] or [0]) for k in ("rps", "cpu_us")}
               for s, rs in h2.items()}
        print()
        print("HTTP/2 from the clients over TLS (`h2load -c16 -m10 -t2`; the backends get HTTP/1.1); medians.")
        print()
        print(row(["setup", "req/s", "CPU µs per req", "req/s ÷ HAProxy / ÷ nginx", "CPU ÷ HAProxy"]))
        print(row(["---"] + ["--:"] * 4))
        hh, nn = h2m.get("haproxy", {}), h2m.get("nginx", {})
        for s in ("tierlab", "haproxy", "nginx"):
            if s not in h2m:
                continue
            v = h2m[s]
            print(row([s, fmt_int(v["rps"]), fmt_cpu(v["cpu_us"]),
                       f"{fmt_ratio(v['rps'], hh.get('rps'))} / {fmt_ratio(v['rps'], nn.get('rps'))}",
                       fmt_ratio(v["cpu_us"], hh.get("cpu_us"))]))

    idle = load_idle(raw)
    if idle:
        print_idle(idle)

    problems = []
    for (s, proto), v in sorted(idle.items()):
        if v["opened"] < v["asked"] or v["failed"]:
            problems.append(f"{s} idle {proto}: {v['opened']} of {v['asked']} opened, "
                            f"{v['failed']} closed before the check")
    for s, rs in sorted(load_h2(raw).items()):
        failed = sum(r.get("failed", 0) for r in rs)
        if failed:
            problems.append(f"{s} h2: {failed} failed or errored (h2load)")
    for (s, t), rs in sorted(runs.items()):
        non2xx = sum(r["non2xx"] for r in rs)
        sockerr = sum(r["sockerr"] for r in rs)
        if non2xx or sockerr:
            problems.append(f"{s} {t}: {non2xx} non-2xx, {sockerr} socket errors")
    spread = []
    for s in SETUPS:
        for t in ("rps-http", "rps-https"):
            values = [r["rps"] for r in runs.get((s, t), []) if "rps" in r]
            if len(values) > 1:
                spread.append(f"{s} {t.split('-')[1]} {min(values):,.0f}–{max(values):,.0f}")
    if spread:
        print()
        print("Round-to-round range of req/s: " + "; ".join(spread) + ".")
    if problems:
        print()
        print("Errors seen (wrk): " + "; ".join(problems) + ".")


if __name__ == "__main__":
    main()
