"""Worker threads for the market solvers: blocks of Monte-Carlo scenarios run side by side
(the compiled kernel and NumPy's array loops release the GIL, so threads use every core
without copying the arrays to other processes)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

__all__ = ["THREADS_ENV", "map_ordered", "threads"]

THREADS_ENV = "CRITMIN_THREADS"
"""Environment variable: the number of worker threads (default: the CPUs this process may
use, at most 8; 1 runs everything in the calling thread)."""

_POOL: tuple[int, int, ThreadPoolExecutor] | None = None     # (pid, workers, pool)


def threads() -> int:
    """Worker threads: $CRITMIN_THREADS, else the CPUs this process may use, at most 8."""
    env = os.environ.get(THREADS_ENV, "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            from critmin.market.model import MarketError
            raise MarketError(f"${THREADS_ENV}={env!r}: give a whole number of threads") \
                from None
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:                # not on Linux
        n = os.cpu_count() or 1
    return max(1, min(n, 8))


def _pool(n: int) -> ThreadPoolExecutor:
    global _POOL
    pid = os.getpid()                     # a forked worker cannot use its parent's threads
    if _POOL is None or _POOL[:2] != (pid, n):
        _POOL = (pid, n, ThreadPoolExecutor(max_workers=n, thread_name_prefix="critmin-market"))
    return _POOL[2]


def map_ordered(fn, items) -> list:
    """[fn(x) for x in items], on the worker threads when there are several items and
    threads() > 1; results in the order of items, the first exception re-raised."""
    items = list(items)
    n = threads()
    if n == 1 or len(items) < 2:
        return [fn(x) for x in items]
    return list(_pool(n).map(fn, items))
