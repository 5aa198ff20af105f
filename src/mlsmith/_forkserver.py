"""Imported by the CV workers' fork server only (a preload of :func:`mlsmith._workers.fork_workers_from_server`).

The server is started with the environment of :func:`server_environment`; importing this module
there ties it to the process that started it, and each worker it forks to the server (see
:mod:`mlsmith._lifeline`), and gives it that process's loky resource tracker. In any other process
(the variables unset, or naming another parent) importing it does nothing.

Why the tracker: joblib hands a large array to the workers as a memory-mapped file, registered with
the parent's tracker, and each worker tells its own tracker when it is done with it (joblib counts
the users and deletes the file after the last). Workers started by loky inherit the parent's
tracker; workers forked from this server would each start a new one, which knows nothing of the
file: each "done" then printed a ``KeyError: '/dev/shm/joblib_memmapping_folder_...'`` traceback,
and the parent's tracker, never told, kept the files until the end of the run.
"""

from __future__ import annotations

import os

from ._lifeline import die_with_parent

__all__ = ["server_environment"]

_PARENT = "MLSMITH_FORKSERVER_PARENT"
_TRACKER = "MLSMITH_FORKSERVER_LOKY_TRACKER"


def server_environment() -> dict[str, str]:
    """The variables the fork server is started with: this process's id and its loky tracker's pipe.

    Starts this process's loky resource tracker if it is not running (the first parallel call would).
    """
    from joblib.externals.loky.backend import resource_tracker

    resource_tracker.ensure_running()
    return {_PARENT: str(os.getpid()), _TRACKER: str(resource_tracker.getfd())}


def _setup() -> None:
    parent, tracker = os.environ.pop(_PARENT, None), os.environ.pop(_TRACKER, None)
    if parent is None or int(parent) != os.getppid():
        return
    die_with_parent(int(parent))
    server = os.getpid()
    os.register_at_fork(after_in_child=lambda: die_with_parent(server))
    if tracker is not None:
        from joblib.externals.loky.backend import resource_tracker

        # The parent's end of its tracker's pipe, opened again through /proc (Linux, as is this server);
        # the forked workers inherit it, as loky's own workers would. Where /proc is closed to us the
        # workers start their own trackers, as before (an exception here would stop the server).
        try:
            resource_tracker._resource_tracker._fd = os.open(f"/proc/{parent}/fd/{tracker}", os.O_WRONLY)
        except OSError:
            pass


_setup()
