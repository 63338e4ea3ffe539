"""Each benchmark adds its figures to var/bench.json: per benchmark its figure, unit, target,
the naive approach's figure in the same run and the ratio."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

RESULTS = Path(os.environ.get("BENCH_RESULTS", Path(__file__).resolve().parent.parent / "var" / "bench.json"))


def record(name: str, *, figure: float, unit: str, target: float | None, naive: float | None,
           higher_is_better: bool = True, notes: str = "") -> bool:
    """Store one result (replacing an older one of the same name); True when it meets its target."""
    met = target is None or (figure >= target if higher_is_better else figure <= target)
    ratio = None
    if naive:
        ratio = round(figure / naive if higher_is_better else naive / figure, 2) if figure else None
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results[name] = {"figure": round(figure, 2), "unit": unit, "target": target, "naive": naive and round(naive, 2),
                     "ratio": ratio, "met": met, "notes": notes, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                                      time.gmtime())}
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    versus = f"; naive {naive:,.1f} {unit} (x{ratio})" if naive else ""
    goal = f"target {'>=' if higher_is_better else '<='} {target:,} {unit}" if target is not None else "no target"
    print(f"{'PASS' if met else 'FAIL'} {name}: {figure:,.1f} {unit}{versus}; {goal}")
    return met
