"""Stage 4 on real data: the auto feature plan vs the raw columns, on ISLP's Bikeshare (2011, 3,000 hours).

Runs the whole workflow (every family compared, the best one measures the features) and prints the
cross-validated score of the best family on the raw columns, with the whole plan, and with the plan
kept after the ablation, plus the time each stage took.

    PYTHONPATH=src python benchmarks/features_bikeshare.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import yaml

from mlsmith.workflow import run

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "bikeshare_2011.csv"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        spec = {"name": "Bikeshare hourly rentals", "target": "bikers", "data": {"path": str(DATA)},
                "features": {"holidays_country": "US"}, "seed": 42}
        (Path(tmp) / "problem.yaml").write_text(yaml.safe_dump(spec))
        result = run(Path(tmp) / "problem.yaml", runs_dir=Path(tmp) / "runs", n_jobs=2)
    f = result.features.to_dict()
    print(f"best family: {f['family']}; CV {f['metric']} ({'higher' if f['greater_is_better'] else 'lower'} is better)")
    print(f"raw columns {f['raw_score']:.2f} | whole plan {f['full_score']:.2f} | kept plan {f['final_score']:.2f}")
    for g in f["groups"]:
        print(f"  {g['group']:<16} without it {g['score_without']:.2f}  gain {g['gain']:+.2f}  {g['decision']}")
    print(f"test {f['metric']}: {result.evaluation.test_metrics[f['metric']]:.2f}")
    print("stage seconds:", {k: round(v, 1) for k, v in result.timings.items()})


if __name__ == "__main__":
    sys.exit(main())
