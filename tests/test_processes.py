"""Processes we start end with the process that started them, even when it is killed with SIGKILL."""

import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlsmith.deploy._supervise import _died, _worker

from conftest import EXAMPLES
from deploy_fixtures import churn_bundle, churn_frame  # noqa: F401 (fixtures)

SRC = Path(__file__).resolve().parents[1] / "src"
ENV = {**os.environ, "PYTHONPATH": str(SRC)}
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG and /proc are Linux's")


def _children() -> dict[int, set[int]]:
    """Every live (not zombie) process's children, from /proc."""
    tree: dict[int, set[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # ended meanwhile
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if state != "Z":
            tree.setdefault(int(ppid), set()).add(int(entry.name))
    return tree


def _descendants(pid: int) -> set[int]:
    tree, found, todo = _children(), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), ()):
            found.add(child)
            todo.append(child)
    return found


def _alive(pids: set[int]) -> set[int]:
    live = set().union(*_children().values())
    return pids & live


def _wait_for(condition, timeout: float, what: str):
    end = time.time() + timeout
    while not (found := condition()):
        assert time.time() < end, f"timed out waiting for {what}"
        time.sleep(0.1)
    return found


def _gone_after_kill(process: subprocess.Popen, seen: set[int]) -> set[int]:
    """Kill ``process`` with SIGKILL; the processes of ``seen`` still alive 10 s later."""
    process.kill()
    process.communicate()
    end = time.time() + 10
    while _alive(seen) and time.time() < end:
        time.sleep(0.2)
    left = _alive(seen)
    for pid in left:  # do not leave them to the next test
        os.kill(pid, signal.SIGKILL)
    return left


@pytest.mark.slow
def test_a_killed_run_leaves_no_worker_server_or_tracker_behind(tmp_path):
    folder = tmp_path / "problem"
    shutil.copytree(EXAMPLES / "diabetes", folder)
    run = subprocess.Popen([sys.executable, "-m", "mlsmith", "run", str(folder / "problem.yaml"), "--runs-dir",
                            str(tmp_path / "runs")], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen: set[int] = set()

    def workers_forked() -> bool:
        # the fork server's own children are the CV workers: a grandchild of the run
        seen.update(_descendants(run.pid))
        tree = _children()
        return any(tree.get(child) for child in tree.get(run.pid, ()))

    try:
        # resource trackers, the fork server and its workers: they start one after another, so keep looking
        # until all kinds have been seen (the count at the first forked worker can still be short of one)
        _wait_for(lambda: workers_forked() and len(seen) >= 4, 120, "the trackers, the fork server and workers")
        assert _gone_after_kill(run, seen) == set()
    finally:
        if run.poll() is None:  # a failed wait must not leave the run to warn in a later test
            run.kill()
            run.communicate()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> int:
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for line in lines if line.split()[1] == f"0100007F:{port:04X}" and line.split()[3] == "0A")


def _serve(bundle: Path, port: int) -> subprocess.Popen:
    server = subprocess.Popen([sys.executable, "-m", "mlsmith", "serve", str(bundle), "--port", str(port), "--workers",
                               "2"], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: _listening(port) == 2 or server.poll() is not None, 120, "both workers to listen")
    assert server.poll() is None, server.stderr.read()
    return server


def test_a_killed_server_frees_its_port(churn_bundle):  # noqa: F811
    port = _free_port()
    server = _serve(churn_bundle, port)
    workers = _descendants(server.pid)
    assert len(workers) >= 2
    assert _gone_after_kill(server, workers) == set()
    assert _listening(port) == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # free again


def test_a_server_worker_killed_is_named_with_its_signal(churn_bundle):  # noqa: F811
    port = _free_port()
    server = _serve(churn_bundle, port)
    victim = min(_serving(server.pid, _children()))
    os.kill(victim, signal.SIGKILL)
    _out, err = server.communicate(timeout=60)
    assert server.returncode == 2
    assert f"(pid {victim}) was killed by SIGKILL (mlsmith never sends it" in err
    assert "its error is above" not in err
    assert err.count("\n") == 1 and err.startswith("Error: server worker mlsmith-serve-")


def _serving(parent: int, tree: dict[int, set[int]]) -> set[int]:
    """The server's worker processes (its children other than multiprocessing's resource tracker)."""
    return {pid for pid in tree[parent] if "resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_text()}


def test_a_server_worker_that_raises_sends_its_error_to_the_parent(tmp_path):
    context = multiprocessing.get_context("spawn")
    reader, writer = context.Pipe(duplex=False)
    worker = context.Process(target=_worker, args=({"bundle": tmp_path / "nothing"}, "127.0.0.1", _free_port(),
                                                   os.getpid(), writer), name="mlsmith-serve-0")
    worker.start()
    worker.join(120)
    assert worker.exitcode == 1
    message = _died(worker, reader)
    assert message.startswith(f"server worker mlsmith-serve-0 (pid {worker.pid}) failed with BundleError: ")
    assert str(tmp_path / "nothing") in message


CV_ON_A_LARGE_TABLE = """
import sys
import numpy as np
import pandas as pd

if __name__ == "__main__":
    from mlsmith._workers import fork_workers_from_server
    from mlsmith.parallel import fit_folds
    from mlsmith.metrics import scorer
    from sklearn.linear_model import LinearRegression
    from sklearn.model_selection import KFold

    assert fork_workers_from_server()
    X = pd.DataFrame(np.random.default_rng(0).random((40_000, 10)))  # 3.2 MB: past joblib's 1 MB, memory-mapped
    y = X.sum(axis=1).to_numpy()
    for _ in range(2):
        folds = fit_folds(LinearRegression(), X, y, list(KFold(5).split(X)), {"r2": scorer("r2", "regression")}, seed=0)
        print(min(f.test_scores["r2"] for f in folds))
"""


def test_workers_forked_from_the_server_share_the_memmap_tracker(tmp_path):
    # Each worker forked from the server used to start its own loky resource tracker, which then got
    # "done with this memory-mapped file" for files it never saw: a KeyError traceback per fold.
    script = tmp_path / "cv.py"
    script.write_text(CV_ON_A_LARGE_TABLE)
    done = subprocess.run([sys.executable, str(script)], env=ENV, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert [float(line) for line in done.stdout.split()] == [1.0, 1.0]
    assert done.stderr == ""  # no traceback, no "leaked file objects" warning at shutdown
