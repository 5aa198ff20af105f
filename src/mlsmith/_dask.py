"""A table larger than one process, on a Dask cluster: read as partitions, sampled, fit in place.

With a cluster (``--cluster``) and ``data.path`` a folder or glob of Parquet files, a run never
gathers the table in one process:

- each file is one partition of a ``dask.dataframe``, read (read-only) by the workers and typed as
  the single-machine reader types it (:func:`mlsmith._reading.as_pandas`);
- the test split is a rule applied row by row on the workers (a time cut, a hash of the group, or a
  seeded draw per row), so every row is on one side whatever the partitioning;
- stages 2-6 (quality, EDA, guards, features, comparison, tuning) and the final evaluation run in
  this process on uniform random samples of at most :data:`SAMPLE_ROWS` training rows and as many
  test rows; the run's notes and results.json say how many of how many;
- the final LightGBM model trains on every training row through ``lightgbm.dask``: the chosen
  pipeline's preprocessing is fitted on the sample, transforms each partition where it lies, and
  the distributed model is turned into a plain ``lightgbm`` one (``to_local()``) so the bundle
  predicts and serves as any other. Another family is fitted on the sample, and a note says so.
  The partitions reach it as float32, and a worker lost during it ends the run with one error
  instead of leaving the other workers waiting on it.
"""

from __future__ import annotations

import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from ._columns import as_time, unusable_targets
from ._reading import as_pandas, parquet_files
from .data import check_columns
from .exceptions import MlsmithError
from .problem import Problem
from .split import HeldOutTest, SplitInfo, cv_splitter
from .target import TargetCodec

__all__ = ["SAMPLE_ROWS", "PartitionedTable", "fit_final", "read_partitioned"]

#: The most training rows (and test rows) brought to this process for stages 2-7.
SAMPLE_ROWS = 200_000
#: Rows whose hash (group split) or draw (random split) falls below this share of the range are test rows.
_RESOLUTION = 1_000_003


def read_partitioned(problem: Problem, client: Any) -> PartitionedTable | None:
    """The problem's Parquet folder or glob as a ``dask.dataframe`` on ``client``'s cluster.

    None when there is no client or ``data.path`` is not a folder or glob of Parquet files (a run then
    reads the table into this process as usual).
    """
    given = problem.data.path
    if client is None or not given:
        return None
    path = Path(given) if Path(given).is_absolute() else Path(problem.base_dir) / given
    files = parquet_files(path)
    if files is None:
        return None
    import dask.dataframe as dd
    import pyarrow as pa
    import pyarrow.parquet as pq

    first = next(pq.ParquetFile(files[0]).iter_batches(batch_size=100))
    meta = as_pandas(pa.Table.from_batches([first])).iloc[:0]
    frame = dd.from_map(_read_file, [str(f) for f in files], meta=meta, enforce_metadata=False)
    return PartitionedTable(frame, str(path), client)


def _read_file(path: str) -> pd.DataFrame:
    import pyarrow.parquet as pq

    return as_pandas(pq.read_table(path))


@dataclass
class PartitionedTable:
    """A table held by the cluster's workers, one Parquet file a partition; see :func:`read_partitioned`."""

    frame: Any
    source: str
    client: Any
    #: Set by :meth:`split`: the training and test rows (still on the workers), their counts per
    #: partition, and how many rows had no usable target.
    train: Any = None
    test: Any = None
    train_lengths: list[int] = field(default_factory=list)
    test_lengths: list[int] = field(default_factory=list)
    n_dropped: int = 0

    def split(self, problem: Problem) -> tuple[pd.DataFrame, HeldOutTest, SplitInfo, Problem]:
        """Split every row on the workers; bring bounded samples of both sides to this process.

        Returns the training sample (in time order for a time-ordered split), the test sample sealed
        in a :class:`~mlsmith.split.HeldOutTest`, the split as it was made on all rows, and the
        problem resolved on the training sample's target.
        """
        import dask

        spec, target, size = problem.data, problem.target, problem.split.test_size
        missing = [c for c in [target, spec.time_column, spec.group_column] if c and c not in self.frame.columns]
        if missing:
            check_columns(self.frame._meta, problem)  # raises the single-machine error, with a suggestion
        usable = self.frame.map_partitions(_usable_target, target, meta=self.frame._meta)
        cut = None
        if spec.time_column:  # the latest test_size share of rows, as on one machine (Dask's quantile is approximate)
            times = usable[spec.time_column].map_partitions(_as_time, meta=(spec.time_column, "datetime64[ns]"))
            n_test = max(1, round(size * len(usable)))
            cut = times.nlargest(n_test).min().compute()
        rule = (spec.time_column, cut, spec.group_column, size, problem.seed)
        train = usable.map_partitions(_side, rule, False, meta=usable._meta)
        test = usable.map_partitions(_side, rule, True, meta=usable._meta)
        n_all, train_lengths, test_lengths = dask.compute(self.frame.map_partitions(len).sum(),
                                                          train.map_partitions(len), test.map_partitions(len))
        self.train, self.train_lengths = train, [int(n) for n in train_lengths]
        self.test, self.test_lengths = test, [int(n) for n in test_lengths]
        n_train, n_test = sum(self.train_lengths), sum(self.test_lengths)
        self.n_dropped = int(n_all) - n_train - n_test
        train_rows, test_rows = dask.compute(_sample(train, n_train, SAMPLE_ROWS, problem.seed),
                                             _sample(test, n_test, SAMPLE_ROWS, problem.seed + 1))
        if spec.time_column:
            train_rows = train_rows.sort_values(spec.time_column, kind="stable")
        train_rows = train_rows.reset_index(drop=True)
        test_rows.index = pd.RangeIndex(len(train_rows), len(train_rows) + len(test_rows))
        problem = problem.resolve(train_rows[target])
        if spec.time_column:
            strategy, desc = "time", f"time-ordered on '{spec.time_column}': test rows are those from {cut} on"
        elif spec.group_column:
            strategy, desc = "group", f"by group '{spec.group_column}' (hashed): no group in both splits"
        else:
            strategy, desc = "random", f"random split row by row on the workers, seed {problem.seed}"
        seen = ("all of them" if len(train_rows) == n_train and len(test_rows) == n_test else
                f"a random sample of {len(train_rows)} of the {n_train} training rows and {len(test_rows)} of the "
                f"{n_test} test rows")
        desc += f"; {self.frame.npartitions} partitions of '{self.source}' on the cluster, stages 2-7 on {seen}"
        cv_name = type(cv_splitter(problem, train_rows)[0]).__name__
        info = SplitInfo(strategy, n_train, n_test, size, desc, f"{cv_name}(n_splits={problem.split.cv_folds})")
        return train_rows, HeldOutTest(test_rows, target=target), info, problem

    def notes(self, n_train_sample: int, n_test_sample: int) -> list[str]:
        """What the run's notes say of the table's rows that this process did not see."""
        n_train, n_test = sum(self.train_lengths), sum(self.test_lengths)
        out = [f"{self.n_dropped} rows with no usable target were dropped on the cluster"] if self.n_dropped else []
        if n_train_sample < n_train:
            out.append(f"data quality, EDA, guards, features, model comparison and tuning used a random sample of "
                       f"{n_train_sample} of the {n_train} training rows, read from {self.frame.npartitions} "
                       "Parquet partitions on the cluster")
        if n_test_sample < n_test:
            out.append(f"the test metrics are those of a random sample of {n_test_sample} of the {n_test} test rows")
        return out

    def final_fit_note(self, label: str, trained: dict[str, Any]) -> list[str]:
        """The note for a final model fitted in this process on fewer rows than the training rows."""
        if trained["trained_by"] != "this process" or trained["n_rows"] >= sum(self.train_lengths):
            return []
        return [(f"the final {label} model was fit on a {trained['n_rows']}-row sample in this process: only "
                 "LightGBM trains on every row of a partitioned table (through lightgbm.dask)")]


def _usable_target(part: pd.DataFrame, target: str) -> pd.DataFrame:
    return part[~unusable_targets(part[target])]


def _as_time(s: pd.Series) -> pd.Series:
    times = as_time(s)
    return pd.to_datetime(s) if times is None else times


def _side(part: pd.DataFrame, rule: tuple, test: bool, partition_info: dict | None = None) -> pd.DataFrame:
    """The rows of ``part`` on the test side (``test``) or the training side of the split ``rule``.

    A time cut compares each row's time with the cut; a group split hashes the group (with the
    seed), so a group's rows land on one side in every partition; a random split draws one number a
    row from a generator seeded with the seed and the partition's number.
    """
    time_column, cut, group_column, size, seed = rule
    if time_column:
        is_test = (_as_time(part[time_column]) >= cut).to_numpy()
    elif group_column:
        key = f"{seed:016d}"[-16:]
        hashed = pd.util.hash_pandas_object(part[group_column], index=False, hash_key=key).to_numpy()
        is_test = hashed % _RESOLUTION < size * _RESOLUTION
    else:
        number = partition_info["number"] if partition_info else 0
        is_test = np.random.default_rng([seed, number]).random(len(part)) < size
    return part[is_test == test]


def _sample(frame: Any, n_rows: int, cap: int, seed: int) -> Any:
    """A uniform random sample of about ``cap`` of the frame's ``n_rows`` rows (all of them up to ``cap``)."""
    return frame if n_rows <= cap else frame.sample(frac=cap / n_rows, random_state=seed)


def fit_final(pipeline: Any, table: PartitionedTable, features: list[str], target: str, codec: TargetCodec,
              X_sample: pd.DataFrame, y_sample: np.ndarray, everything: tuple[pd.DataFrame, np.ndarray] | None = None,
              ) -> tuple[Any, dict[str, Any]]:
    """Fit ``pipeline`` on every training row of ``table`` where the rows lie, through ``lightgbm.dask``.

    The preprocessing (every step but the last) is fitted on the sample in this process; each
    worker transforms its partitions with it; ``lightgbm.dask`` trains the last step's model, with
    its parameters, over the workers; its ``to_local()`` model ends the returned pipeline, which
    predicts and pickles like any fitted pipeline. A pipeline whose last step is not a LightGBM
    model is fitted here on the sample instead.

    Parameters
    ----------
    everything : the test sample, given for ``split.refit: all``: then the rows are every row of the
        table (training and test), and the sample the preprocessing learns from includes it.

    Returns
    -------
    (Pipeline, dict)
        The fitted pipeline and what to record of the fit: ``trained_by``, ``n_rows`` (the rows the
        model learned from), and for a distributed fit its ``partitions`` and ``workers``.
    """
    import lightgbm as lgb
    from sklearn.base import clone

    if everything is not None:
        X_sample, y_sample = pd.concat([X_sample, everything[0]]), np.concatenate([y_sample, everything[1]])
    model = pipeline.steps[-1][1]
    if not isinstance(model, (lgb.LGBMClassifier, lgb.LGBMRegressor)):
        return clone(pipeline).fit(X_sample, y_sample), {"trained_by": "this process", "n_rows": len(X_sample)}
    import dask
    import dask.array as da
    import dask.dataframe as dd
    from lightgbm.dask import DaskLGBMClassifier, DaskLGBMRegressor
    from sklearn.pipeline import Pipeline

    rows, lengths = table.train, table.train_lengths
    if everything is not None:
        rows, lengths = dd.concat([table.train, table.test]), [*table.train_lengths, *table.test_lengths]
    prep = clone(pipeline[:-1]).fit(X_sample, y_sample)
    width = np.asarray(prep.transform(X_sample.head(1))).shape[1]
    prep_d, codec_d = dask.delayed(prep, pure=True), dask.delayed(codec, pure=True)
    y_dtype = float if codec.task == "regression" else int
    X_parts, y_parts = [], []
    for part, n in zip(rows.to_delayed(), lengths):
        if n:  # a partition the split left empty holds nothing to train on
            X_parts.append(da.from_delayed(dask.delayed(_features)(part, prep_d, features), (n, width), np.float32))
            y_parts.append(da.from_delayed(dask.delayed(_codes)(part, codec_d, target), (n,), y_dtype))
    dask_class = DaskLGBMClassifier if isinstance(model, lgb.LGBMClassifier) else DaskLGBMRegressor
    distributed = dask_class(client=table.client, **model.get_params())

    def fit() -> None:
        with warnings.catch_warnings():  # each worker trains with the threads it has, whatever n_jobs says
            warnings.filterwarnings("ignore", message="Parameter n_jobs will be ignored", category=UserWarning)
            distributed.fit(da.concatenate(X_parts), da.concatenate(y_parts))

    _watched(fit, table.client, f"the distributed LightGBM fit of {sum(lengths)} rows")
    fitted = Pipeline([*prep.steps, (pipeline.steps[-1][0], distributed.to_local())])
    return fitted, {"trained_by": f"lightgbm.dask.{dask_class.__name__}", "n_rows": sum(lengths),
                    "partitions": len(X_parts), "workers": len(table.client.nthreads())}


def _features(part: pd.DataFrame, prep: Any, features: list[str]) -> np.ndarray:
    # float32: lightgbm.dask holds a worker's parts and their concatenation at once while it builds
    # its Dataset, so the matrix's width in bytes sets a worker's peak; LightGBM bins every feature
    # into at most 255 bins, which float32 separates as float64 does.
    return np.asarray(prep.transform(part[features]), dtype=np.float32)


def _watched(work: Callable[[], None], client: Any, what: str, poll_s: float = 1.0, settle_s: float = 15.0) -> None:
    """Run ``work`` (which waits on ``client``'s workers); fail with one error if one of them is lost meanwhile.

    A worker that dies during a ``lightgbm.dask`` fit (its nanny restarts it past 95 % of its memory
    limit) never returns its part: the fit's other workers either fail on its closed socket or wait
    on it without end, and the fit waits on all of them. The workers present when ``work`` starts
    are checked every ``poll_s`` seconds; the first one missing ends the wait with an
    :class:`~mlsmith.exceptions.MlsmithError` (``work`` is left in a daemon thread; its tasks end
    with their workers). When ``work`` fails first, the scheduler may not have seen the loss yet:
    it is given ``settle_s`` seconds to, so the error names the cause rather than a socket's error.
    """
    before = client.scheduler_info()["workers"]
    outcome: dict[str, BaseException] = {}

    def target() -> None:
        try:
            work()
        except BaseException as exc:  # handed to the caller's thread below
            outcome["error"] = exc

    def lost_error() -> MlsmithError | None:
        lost = sorted(set(before) - set(client.scheduler_info()["workers"]))
        if not lost:
            return None
        limit = before[lost[0]].get("memory_limit") or 0
        held = f"memory limit {limit / 1e9:.2f} GB" if limit else "no memory limit"
        return MlsmithError(
            f"Dask worker {lost[0]} ({held}) was lost during {what} over {len(before)} workers (a worker's "
            "nanny restarts it past 95 % of its memory limit; the others would wait for it without end); "
            "raise the workers' memory limit or use more workers.")

    thread = threading.Thread(target=target, name="mlsmith-dask-fit", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(poll_s)
        error = lost_error() if thread.is_alive() else None
        if error is not None:
            raise error
    if "error" not in outcome:
        return
    until = time.monotonic() + settle_s
    while (error := lost_error()) is None and time.monotonic() < until:
        time.sleep(poll_s)
    if error is not None:
        raise error from outcome["error"]
    raise outcome["error"]


def _codes(part: pd.DataFrame, codec: TargetCodec, target: str) -> np.ndarray:
    return codec.encode(part[target])
