"""Load test of `mlsmith serve` on loopback, bounded in time, with wrk.

    python benchmarks/bench_serve.py [--bundle runs/<id>/model] [--duration 10] [--runtime onnx] [--workers N] [--log]
                                     [--api-key KEY] [--ab OLD_SRC --rounds 3]

Without --bundle, a churn bundle is built: LightGBM (the catalog's settings) fitted on
make_churn(5000), with its ONNX export. Then, against `mlsmith serve` on 127.0.0.1 (uvicorn with
--workers processes; by default serve's own default, one per CPU):
1. single records, 50 concurrent connections (wrk -c50): p50/p99 latency, requests/s;
2. batches of 10,000 records, 2 connections: rows/s;
and every run counts non-2xx answers (the server answers only 200 here, so any is a failure).
With --log the server logs every prediction to SQLite, and the rows logged are counted against the
requests answered (from /metrics) after the server stops. With --api-key the server requires the
key and wrk sends it.
With --ab OLD_SRC, the same bundle and bodies are served in turn (--rounds times) by the source tree
OLD_SRC with its defaults and by this tree with its checks on (an API key), and the medians and
their ratios are printed: a before/after comparison on one machine under the same load. With
--asgi as well, the comparison calls the app's ASGI stack in-process instead (no network, no wrk):
CPU microseconds per single-record POST /predict, one at a time and ten at once; on a loaded
machine this resolves a few percent, where wrk's figures swing by 2x between identical runs.
Needs wrk (Debian: apt-get install wrk).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def build_bundle(folder: Path) -> Path:
    from mlsmith.data import infer_schema
    from mlsmith.datasets import make_churn
    from mlsmith.deploy import bundle_extras, save_bundle
    from mlsmith.pipeline import build_pipeline

    frame = make_churn(5000, seed=0)
    schema = infer_schema(frame, "churned", ["customer_id"])
    train, test = frame.iloc[:4000], frame.iloc[4000:]
    pipeline = build_pipeline("lightgbm", schema, "binary_classification", 42)
    pipeline.fit(train[schema.features()], train["churned"])
    metadata = {"problem": "churn benchmark", "task": "binary_classification", "target": "churned",
                "classes": [0, 1], "positive_class": 1, "decision_threshold": 0.5, "model": "lightgbm"}
    extras, info = bundle_extras(pipeline, test[schema.features()], {"name": "churn benchmark"}, metadata,
                                 {"n_test": len(test)})
    print(f"ONNX export: converted={info['onnx']['converted']} max_abs_diff={info['onnx']['max_abs_diff']}")
    return save_bundle(folder / "model", pipeline, schema, metadata, extra_files=extras)


def records(n: int) -> list[dict]:
    from mlsmith.datasets import make_churn

    frame = make_churn(max(n, 50), seed=9).drop(columns=["churned"]).iloc[:n]
    return [{k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}
            for r in frame.astype(object).to_dict("records")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, timeout: float = 60) -> None:
    end = time.time() + timeout
    while time.time() < end:
        try:
            urllib.request.urlopen(url + "/health", timeout=1).read()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not start")


def wait_idle(pid: int, timeout: float = 120) -> None:
    """Wait until the server's processes use no CPU for half a second (every worker has started)."""
    end, last = time.time() + timeout, cpu_seconds(pid)
    while time.time() < end:
        time.sleep(0.5)
        now = cpu_seconds(pid)
        if now - last < 0.02:
            return
        last = now
    raise RuntimeError("server did not settle")


LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = io.open("{body}"):read("*a")
"""


def wrk(url: str, body: Path, connections: int, duration: int, tmp: Path, api_key: str | None = None) -> dict:
    script = tmp / f"post-{body.stem}.lua"
    auth = f'wrk.headers["Authorization"] = "Bearer {api_key}"\n' if api_key else ""
    script.write_text(LUA.format(body=body) + auth)
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "10s",
                          "-s", str(script), url + "/predict"], capture_output=True, text=True, timeout=duration + 60).stdout

    def ms(label: str) -> float:
        value, unit = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {"requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50_ms": ms("50%"), "p90_ms": ms("90%"), "p99_ms": ms("99%"),
            "requests": int(re.search(r"(\d+) requests in", out).group(1)),
            "non_2xx": int(non2xx.group(1)) if non2xx else 0, "socket_errors": errors.group(1) if errors else None}


def answered_records(url: str) -> int:
    """Records the server scored, from /metrics (summed over its workers)."""
    text = urllib.request.urlopen(url + "/metrics", timeout=30).read().decode()
    return int(sum(float(line.split()[-1]) for line in text.splitlines()
                   if line.startswith("mlsmith_predictions_total{")))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its live descendants (Linux): the server's workers.

    Expresses cost independently of other load on the machine.
    """
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    children = Path(f"/proc/{pid}/task/{pid}/children")
    kids = [int(k) for k in children.read_text().split()] if children.is_file() else []
    return own + sum(cpu_seconds(k) for k in kids)


def worker_count(pid: int) -> int:
    """Processes answering requests: the server itself, or its uvicorn workers."""
    kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    workers = [k for k in kids if b"spawn_main" in Path(f"/proc/{k}/cmdline").read_bytes()]
    return len(workers) or 1


def measured(pid: int, url: str, body: Path, connections: int, duration: int, tmp: Path,
             api_key: str | None = None) -> dict:
    before = cpu_seconds(pid)
    result = wrk(url, body, connections, duration, tmp, api_key)
    result["server_cpu_ms_per_request"] = round((cpu_seconds(pid) - before) * 1000 / max(1, result["requests"]), 3)
    return result


def run(args: argparse.Namespace, bundle: Path, tmp: Path, src: Path, api_key: str | None) -> dict:
    """Start `mlsmith serve` from source tree ``src``, load it with wrk, stop it: the figures."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(src)}
    command = [sys.executable, "-m", "mlsmith", "serve", str(bundle), "--port", str(port), "--runtime", args.runtime]
    command += ["--workers", str(args.workers)] if args.workers else []
    command += ["--log", str(tmp / "predictions.db")] if args.log else []
    if api_key:  # from the environment, as a deployment would pass it: never on a command line
        env["MLSMITH_API_KEY"] = api_key
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    try:
        wait_ready(url)
        wait_idle(server.pid)  # the first worker answers while the others may still be loading the model
        workers = worker_count(server.pid)
        wrk(url, tmp / "one.json", 50, 2, tmp, api_key)  # warm-up
        single = measured(server.pid, url, tmp / "one.json", 50, args.duration, tmp, api_key)
        batch = measured(server.pid, url, tmp / "batch.json", 2, args.duration, tmp, api_key)
        wait_idle(server.pid)  # requests in flight when wrk stopped are still scored and logged
        answered = answered_records(url)
    finally:
        server.terminate()
        server.wait(timeout=60)
    return {"workers": workers, "command": " ".join(command[1:]), "single": single, "batch": batch,
            "answered": answered}


def ab(args: argparse.Namespace, bundle: Path, tmp: Path) -> None:
    """Before (``--ab`` tree, its defaults) and after (this tree, with an API key), alternating.

    Under a shared machine's load, requests/s and latency swing by 2x between runs of the same code;
    the server's CPU time per request varies least, so compare that first.
    """
    import statistics

    trees = {"before": (args.ab.resolve(), None), "after": (SRC, args.api_key or "bench-" + os.urandom(16).hex())}
    figures: dict[str, list[dict]] = {"before": [], "after": []}
    for i in range(args.rounds):
        for side in ("before", "after") if i % 2 == 0 else ("after", "before"):  # ABBA: no side always second
            src, key = trees[side]
            if args.asgi:
                row = {**asgi(args, bundle, tmp, src, key), "load": round(os.getloadavg()[0], 1)}
                figures[side].append(row)
                print(json.dumps({"round": i + 1, "side": side, **row}), flush=True)
                continue
            result = run(args, bundle, tmp, src, key)
            row = {"requests_per_s": result["single"]["requests_per_s"], "p50_ms": result["single"]["p50_ms"],
                   "p99_ms": result["single"]["p99_ms"],
                   "cpu_ms_per_request": result["single"]["server_cpu_ms_per_request"],
                   "rows_per_s": result["batch"]["requests_per_s"] * args.batch,
                   "cpu_ms_per_batch": result["batch"]["server_cpu_ms_per_request"],
                   "non_2xx": result["single"]["non_2xx"] + result["batch"]["non_2xx"],
                   "load": round(os.getloadavg()[0], 1)}
            figures[side].append(row)
            print(json.dumps({"round": i + 1, "side": side, **row}), flush=True)
    medians = {side: {k: statistics.median(r[k] for r in rows) for k in rows[0]} for side, rows in figures.items()}
    ratio = {k: round(medians["after"][k] / medians["before"][k], 3) for k in medians["after"]
             if k not in ("non_2xx", "load") and medians["before"][k]}
    print(json.dumps({"median_before": medians["before"], "median_after": medians["after"],
                      "after_over_before": ratio}, indent=2))


SRC = Path(__file__).resolve().parents[1] / "src"

ASGI_CHILD = """
import asyncio, json, os, sys, time
from mlsmith.deploy import create_app
key = os.environ.get("MLSMITH_API_KEY")
app = create_app(sys.argv[1], runtime=sys.argv[2], **({"api_key": key, "host": "127.0.0.1"} if key else {}))
body = open(sys.argv[3], "rb").read()
headers = [(b"host", b"127.0.0.1:8000"), (b"content-type", b"application/json"),
           (b"content-length", str(len(body)).encode())] + ([(b"authorization", b"Bearer " + key.encode())] if key else [])
scope = {"type": "http", "method": "POST", "path": "/predict", "headers": headers, "query_string": b"", "root_path": ""}
stack, statuses = app.build_middleware_stack(), []
async def receive():
    return {"type": "http.request", "body": body, "more_body": False}
async def send(message):
    if message["type"] == "http.response.start":
        statuses.append(message["status"])
async def one(n):
    for _ in range(n):
        await stack(scope, receive, send)
async def ten(n):
    for _ in range(n):
        await asyncio.gather(*(stack(scope, receive, send) for _ in range(10)))
def cpu_us(run, requests):
    started = time.process_time()
    asyncio.run(run)
    return (time.process_time() - started) / requests * 1e6
asyncio.run(one(500))  # warm-up
best = [min(cpu_us(one(2000), 2000) for _ in range(3)), min(cpu_us(ten(200), 2000) for _ in range(3))]
assert set(statuses) == {200}, set(statuses)
print(json.dumps({"one_at_a_time_us": round(best[0], 1), "ten_at_once_us": round(best[1], 1)}))
"""


def asgi(args: argparse.Namespace, bundle: Path, tmp: Path, src: Path, api_key: str | None) -> dict:
    """CPU microseconds per single-record request through the app's ASGI stack, in a child process."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    if api_key:
        env["MLSMITH_API_KEY"] = api_key
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", ASGI_CHILD, str(bundle), args.runtime,
                          str(tmp / "one.json")], env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--runtime", default="onnx", choices=["onnx", "sklearn"])
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--workers", type=int, help="server processes (default: serve's default, one per CPU)")
    parser.add_argument("--log", action="store_true", help="serve with the prediction log on")
    parser.add_argument("--api-key", help="serve with this API key (wrk sends it)")
    parser.add_argument("--ab", type=Path, metavar="OLD_SRC", help="compare with this source tree, alternating")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the --ab comparison")
    parser.add_argument("--asgi", action="store_true", help="with --ab: in-process CPU per request, no wrk")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    tmp = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    bundle = args.bundle or build_bundle(tmp)
    (tmp / "one.json").write_text(json.dumps(records(1)[0]))
    (tmp / "batch.json").write_text(json.dumps(records(args.batch)))
    if args.ab:
        ab(args, bundle, tmp)
        shutil.rmtree(tmp, ignore_errors=True)
        return
    figures = run(args, bundle, tmp, SRC, args.api_key)
    workers, single, batch, answered = figures["workers"], figures["single"], figures["batch"], figures["answered"]
    batch["rows_per_s"] = batch["requests_per_s"] * args.batch
    # what one dedicated core would do at the measured CPU cost per request (all workers' CPU counted)
    single["requests_per_cpu_s"] = round(1000 / single["server_cpu_ms_per_request"])
    batch["rows_per_cpu_s"] = round(args.batch * 1000 / batch["server_cpu_ms_per_request"])
    result = {"runtime": args.runtime, "workers": workers, "command": figures["command"], "log": None,
              "machine": f"{platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}",
              "single_record_50_connections": single,
              f"batch_{args.batch}_records_2_connections": batch}
    if args.log:
        with sqlite3.connect(tmp / "predictions.db") as conn:
            result["log"] = {"rows": conn.execute("SELECT COUNT(*) FROM predictions").fetchone()[0],
                             "records_answered": answered}
        conn.close()
    print(json.dumps(result, indent=2))
    ok = single["p99_ms"] <= 10 and batch["rows_per_s"] >= 50_000 and single["non_2xx"] == batch["non_2xx"] == 0
    if args.log:
        ok = ok and result["log"]["rows"] == result["log"]["records_answered"]
    print("targets (p99 <= 10 ms, >= 50,000 rows/s, zero non-2xx):", "MET" if ok else "NOT MET")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
