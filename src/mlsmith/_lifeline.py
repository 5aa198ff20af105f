"""Child processes that end with their parent: Linux's ``PR_SET_PDEATHSIG``, nothing elsewhere.

A ``kill -9`` of ``mlsmith run`` or ``mlsmith serve`` gives the process no chance to stop what it
started: the CV workers' fork server, its workers and the server's workers would live on (holding
memory, and the port). Each child we start asks the kernel for a signal when its parent ends
(the fork server and its workers: :mod:`mlsmith._forkserver`; the server's: ``deploy._supervise``).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

__all__ = ["die_with_parent"]

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def die_with_parent(parent: int, sig: int = signal.SIGKILL) -> bool:
    """Have the kernel send ``sig`` to this process when ``parent`` (its parent's thread that started it) ends.

    If ``parent`` ended already (this process was adopted before it could ask), the signal is sent
    now. Returns whether the request was made: False off Linux, where it does nothing.

    Examples
    --------
    >>> import os, sys
    >>> die_with_parent(os.getppid(), 0) == sys.platform.startswith("linux")  # signal 0 clears the request
    True
    """
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        return False
    if os.getppid() != parent:
        os.kill(os.getpid(), sig)
    return True
