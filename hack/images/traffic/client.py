"""Traffic client: GETs a URL at a steady rate, bounded in count and time, one JSON line per request.

    client.py URL [--interval S] [--timeout S] [--count N] [--duration S] [--retries N]

Each line: {"t": start (unix s), "ok": bool, "ms": latency, "zone": answering zone, "err": reason}.
A new connection per request, as a browser behind a Service's ClusterIP meets a fresh backend choice.
With --retries N, a failed request is tried again up to N times before it counts as failed (the line
then says how many attempts it took). The last line is a summary: {"summary": {...}}.
"""

import argparse
import json
import sys
import time
import urllib.request
from typing import Any


def attempt(url: str, timeout: float) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            body = json.loads(answer.read() or b"{}")
            return {"ok": answer.status == 200, "zone": body.get("zone", ""), "pod": body.get("pod", "")}
    except Exception as exc:  # every failure is a data point, never the end of the run
        return {"ok": False, "err": type(exc).__name__ + ": " + str(exc)[:120]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--timeout", type=float, default=1.0)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--duration", type=float, default=600.0)
    parser.add_argument("--retries", type=int, default=0)
    args = parser.parse_args()
    start = time.time()
    sent = failed = 0
    longest_gap = 0.0
    last_ok = start
    while sent < args.count and time.time() - start < args.duration:
        t = time.time()
        tries = 0
        while True:
            tries += 1
            result = attempt(args.url, args.timeout)
            if result["ok"] or tries > args.retries:
                break
        now = time.time()
        sent += 1
        if result["ok"]:
            longest_gap = max(longest_gap, now - last_ok)
            last_ok = now
        else:
            failed += 1
        print(json.dumps({"t": round(t, 3), "ms": round((now - t) * 1000), "tries": tries, **result}), flush=True)
        time.sleep(max(0.0, args.interval - (time.time() - t)))
    longest_gap = max(longest_gap, time.time() - last_ok)
    summary = {
        "sent": sent,
        "failed": failed,
        "longest_gap_s": round(longest_gap, 3),
        "seconds": round(time.time() - start, 1),
    }
    print(json.dumps({"summary": summary}), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
