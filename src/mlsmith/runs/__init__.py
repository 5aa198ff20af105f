"""Run folders (``runs/<timestamp>-<name>/``, created complete or not at all) and their history (the
SQLite index beside them, :mod:`mlsmith.runs._history`)."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import numpy as np

__all__ = ["RunComparison", "compare_runs", "list_runs", "new_run_id", "register_run", "run_folder", "show_run",
           "staging_dir", "to_jsonable", "write_json"]


def staging_dir(parent: str | Path, name: str) -> Path:
    """A hidden temporary folder beside ``name`` in ``parent``, to be renamed into place when complete.

    Unlike a bare :func:`tempfile.mkdtemp` (mode 0700), the folder gets the permissions the user's
    umask gives any new folder, so the finished run or bundle is readable like the user's other files.
    """
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)
    return tmp


def new_run_id(name: str, now: datetime | None = None) -> str:
    """A sortable, readable id: UTC time and a slug of the problem's name.

    Examples
    --------
    >>> new_run_id("Customer Churn Prediction", datetime(2026, 1, 2, 3, 4, 5))
    '20260102-030405-customer-churn-prediction'
    """
    now = now or datetime.now(timezone.utc)
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "run"
    return f"{now:%Y%m%d-%H%M%S}-{slug}"


@contextmanager
def run_folder(runs_dir: str | Path, name: str) -> Iterator[tuple[Path, Path]]:
    """Yield (temporary folder, final path); on success the folder is renamed into place.

    The final path is claimed at once, atomically, by creating it empty (``mkdir`` fails if another
    run holds the name; the next suffix ``-2``, ``-3``, ... is tried), so runs of one problem that end
    in the same second each get their own folder; the complete folder then replaces the empty one.
    On any exception the temporary folder and the claim are removed, so a failed run leaves no folder.
    """
    runs_dir = Path(runs_dir)
    runs_dir.mkdir(parents=True, exist_ok=True)
    final = _claim(runs_dir, new_run_id(name))
    try:
        tmp = staging_dir(runs_dir, final.name)
    except BaseException:
        final.rmdir()
        raise
    try:
        yield tmp, final
        if os.name == "nt":  # Windows cannot rename a folder over an existing one, even empty
            final.rmdir()
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if final.is_dir() and not any(final.iterdir()):
            final.rmdir()
        raise


def _claim(runs_dir: Path, run_id: str) -> Path:
    """Create ``runs_dir/run_id`` (or the first free ``run_id-2``, ``-3``, ...) empty, and return it."""
    n = 1
    while True:
        final = runs_dir / (run_id if n == 1 else f"{run_id}-{n}")
        try:
            final.mkdir()
        except FileExistsError:
            n += 1
            continue
        return final


def to_jsonable(value: Any) -> Any:
    """Plain JSON types from numpy scalars, arrays, NaN/inf (as null), paths and objects with to_dict."""
    if hasattr(value, "to_dict") and not isinstance(value, type):
        return to_jsonable(value.to_dict())
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temporary file, then rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(to_jsonable(data), indent=2, allow_nan=False))
    os.replace(tmp, path)


from ._history import RunComparison, compare_runs, list_runs, register_run, show_run  # noqa: E402
