"""`python -m bench [NAME ...]`: run the named benchmarks (all by default)."""

from __future__ import annotations

import importlib
import sys

SUITES = {
    "floor": "bench.floor",
    "run": "bench.run_peers",
    "extension": "bench.extension",
    "sampler_cost": "bench.sampler_cost",
    "shipping": "bench.shipping",
    "fleet": "bench.fleet",
    "scrubber": "bench.scrubber",
    "reliability": "bench.reliability",
    "analyze": "bench.analyze",
}


def main(names: list[str]) -> None:
    unknown = [n for n in names if n not in SUITES]
    if unknown:
        sys.exit(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(SUITES)}")
    for name in names or list(SUITES):
        importlib.import_module(SUITES[name]).main()


if __name__ == "__main__":
    main(sys.argv[1:])
