"""Where joblib's work runs: local processes (both cores by default), or a Dask cluster.

Inside :func:`compute_backend` joblib's backend is Dask (``cluster="local"`` or ``"local:N"`` starts a
LocalCluster of worker processes, ``"tcp://host:8786"`` joins a running scheduler; :func:`dask_client`),
so the CV engine's code (:mod:`mlsmith.parallel`) scales out unchanged. A table too large for one
process is read onto the cluster by :mod:`mlsmith._dask`.
"""

from __future__ import annotations

import os
from contextlib import contextmanager, nullcontext
from typing import Any, Iterator

from joblib import parallel_config

from .exceptions import MlsmithError

__all__ = ["WORKER_ENV", "compute_backend", "dask_client"]


#: The environment of the worker processes of a LocalCluster that :func:`dask_client` starts.
WORKER_ENV = {"ARROW_DEFAULT_MEMORY_POOL": "system"}


@contextmanager
def dask_client(cluster: str) -> Iterator[Any]:
    """A Dask client of ``cluster``, closed (with the cluster it started) on leaving.

    ``"local"`` starts a LocalCluster of one worker *process* per core, ``"local:N"`` one of N;
    each worker runs one task at a time (every fit is single-threaded) and may use an equal share of
    this machine's memory. An address (``tcp://host:8786``) joins a running scheduler instead.

    Raises
    ------
    MlsmithError
        Dask is not installed, ``cluster`` is neither form, or the scheduler cannot be reached.
    """
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover - dask is a test dependency
        raise MlsmithError(
            f"--cluster {cluster} needs Dask; install it with 'pip install \"mlsmith[dask]\"'."
        ) from None
    local = None
    if cluster == "local" or cluster.startswith("local:"):
        count = cluster.partition(":")[2]
        if count and not (count.isdigit() and int(count) > 0):
            raise MlsmithError(f"--cluster local:N needs a positive number of worker processes; got '{cluster}'. "
                               "Use e.g. local:3.")
        # Arrow's default pool (mimalloc) keeps what a worker freed after reading Parquet: its memory
        # would count against the worker's limit as if still held. The system allocator returns it.
        local = LocalCluster(n_workers=int(count) if count else os.cpu_count() or 1, threads_per_worker=1,
                             processes=True, memory_limit="auto", dashboard_address=":0", env=WORKER_ENV)
        address: LocalCluster | str = local
    elif cluster.startswith(("tcp://", "tls://", "inproc://")):
        address = cluster
    else:
        raise MlsmithError(f"--cluster must be 'local', 'local:N' or a scheduler address like tcp://host:8786; "
                           f"got '{cluster}'.")
    try:
        client = Client(address, timeout="20s")
    except OSError as exc:
        if local is not None:
            local.close()
        raise MlsmithError(f"cannot reach the Dask scheduler at '{cluster}' ({exc}); start it or check the address.") from None
    try:
        yield client
    finally:
        client.close()
        if local is not None:
            local.close()


@contextmanager
def compute_backend(cluster: Any = None) -> Iterator[str]:
    """Run the joblib work inside on ``cluster`` (None: local processes, both cores by default).

    ``cluster`` is what :func:`dask_client` takes, or a Dask client already connected (used, not
    closed). Yields a description of the backend (recorded in the run's results).

    Examples
    --------
    >>> with compute_backend(None) as where:
    ...     where.startswith("local")
    True
    """
    if not cluster:
        yield f"local ({os.cpu_count()} cores)"
        return
    with dask_client(cluster) if isinstance(cluster, str) else nullcontext(cluster) as client:
        threads = client.nthreads()
        with parallel_config(backend="dask", client=client):
            where = "local" if client.cluster is not None else client.scheduler.address
            yield f"dask ({where}, {len(threads)} worker processes, {sum(threads.values())} threads)"

