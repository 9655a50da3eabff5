"""Run every benchmark section (bench/bench_<section>.py) and write one JSON file.

Each section exposes ``run(quick: bool) -> dict`` of measured figures, with every figure
compared against its peer from the same run as a ratio (absolute times on a shared,
2-core machine are noisy; ratios are what to read).
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(HERE / "results.json"))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", nargs="*", help="section names to run (default: all)")
    args = ap.parse_args()
    sections = sorted(p.stem[len("bench_"):] for p in HERE.glob("bench_*.py"))
    if args.only:
        sections = [s for s in sections if s in args.only]
    if not sections:
        print("[bench] no benchmark sections found", file=sys.stderr)
        return 1
    import torch

    results = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "torch": torch.__version__, "cuda": torch.cuda.is_available(),
                    "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None},
        "quick": args.quick,
        "sections": {},
    }
    failed = []
    for name in sections:
        print(f"[bench] section {name} ...", flush=True)
        t0 = time.perf_counter()
        try:
            module = importlib.import_module(f"bench.bench_{name}")
            results["sections"][name] = module.run(args.quick)
        except Exception as exc:  # one broken section must not lose the others' figures
            traceback.print_exc()
            results["sections"][name] = {"error": f"{type(exc).__name__}: {exc}"}
            failed.append(name)
        print(f"[bench] section {name} took {time.perf_counter() - t0:.1f} s", flush=True)
        out = Path(args.out)
        tmp = out.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(results, indent=2))
        os.replace(tmp, out)
    print(f"[bench] wrote {args.out}")
    if failed:
        print(f"[bench] sections that failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
