"""The API's latency under load pooled over many rounds of ``bench_server.py`` runs.

A round's ~60-150 probes make its own p99 about its worst probe, so one round's p99 moves
with a single stall of the machine. ``bench_server.py --probes-out FILE`` appends each
round's probe latencies to FILE; this prints, per file (e.g. one per tree of an alternating
A/B) and per kind of round (``cold``: the first round of a freshly started server; ``warm``:
the later ones), the rounds and probes pooled, the pooled p50 / p95 / p99 / max, how many
probes took over 50 and 100 ms, and each round's own p99 (sorted).

    PYTHONPATH=src python benchmarks/bench_server_probes.py /tmp/a.jsonl /tmp/b.jsonl
"""

from __future__ import annotations

import json
import statistics
import sys


def _at(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def main() -> None:
    for path in sys.argv[1:]:
        rounds: dict[str, list[list[float]]] = {}
        with open(path) as lines:
            for line in lines:
                record = json.loads(line)
                rounds.setdefault(record["round"], []).append(record["latencies_s"])
        for kind, each in sorted(rounds.items()):
            pooled = sorted(ms * 1000 for r in each for ms in r)
            own = sorted(round(_at(sorted(r), 0.99) * 1000) for r in each if r)
            print(
                f"{path} {kind}: {len(each)} rounds, {len(pooled)} probes; p50 "
                f"{statistics.median(pooled):.1f} ms, p95 {_at(pooled, 0.95):.1f}, p99 "
                f"{_at(pooled, 0.99):.1f}, max {pooled[-1]:.1f}; over 50 ms "
                f"{sum(ms > 50 for ms in pooled)}, over 100 ms {sum(ms > 100 for ms in pooled)}; "
                f"each round's p99 {own}",
                flush=True,
            )


if __name__ == "__main__":
    main()
