"""`bench`: the speed and load-count numbers, measured on this machine (app/engine/benchmarks)."""

from __future__ import annotations

import sys

from app.cli.common import emit_json
from app.engine import run_batch_bench, run_benchmarks


def register(sub) -> None:
    p = sub.add_parser("bench", help="measure click, pre/post-processing and job speed")
    p.add_argument("--json", action="store_true")
    p.add_argument("--quick", action="store_true", help="tiny SAM and fewer repeats (for tests)")
    p.add_argument("--clicks", type=int, default=15)
    p.add_argument("--batch", action="store_true",
                   help="batch throughput instead: 24 MP photos, locally with 1 worker and on Ray with 2 actors")
    p.add_argument("--photos", type=int, default=8, metavar="N", help="--batch: how many photos")
    p.add_argument("--no-ray", action="store_true", help="--batch: the local run only")
    p.add_argument("--sam3-real", action="store_true",
                   help="also time SAM 3 at its real size (random weights; minutes and ~5 GB on a CPU)")
    p.set_defaults(run=run_bench)


def run_bench(args) -> int:
    if args.batch:
        results = {"batch": run_batch_bench(args.quick, max(2, args.photos), not args.no_ray)}
        if args.json:
            emit_json(results)
        else:
            for k, v in results["batch"].items():
                print(f"batch.{k:38s} {v}")
        return 0
    results = run_benchmarks(quick=args.quick, clicks=args.clicks, sam3_real=args.sam3_real,
                             say=lambda name: print(f"bench: {name} ...", file=sys.stderr))
    if args.json:
        emit_json(results)
    else:
        for k, v in results.items():
            print(f"{k:32s} {v}")
    return 0
