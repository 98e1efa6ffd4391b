"""Run one forked child per mutant, ``jobs`` at a time, from a process that has already
imported and collected what every child needs (as mutmut's own workers do)."""
from __future__ import annotations

import os
import signal
from typing import Callable

KILLED, SURVIVED, TIMEOUT = 1, 0, 36  # mutmut's codes


def verdicts(names: list[str], jobs: int, timeout: float,
             child: Callable[[], int]) -> dict[str, int]:
    """Each name's verdict: ``child()`` run in a fork with ``MUTANT_UNDER_TEST`` set to the
    name and its output discarded; a non-zero exit kills the mutant, and so does the alarm
    after ``timeout`` seconds (a mutant that loops), counted as a timeout."""
    null = os.open(os.devnull, os.O_WRONLY)
    queue, running, results = list(names), {}, {}
    while queue or running:
        while queue and len(running) < jobs:
            name = queue.pop()
            pid = os.fork()
            if pid == 0:
                os.dup2(null, 1)
                os.dup2(null, 2)
                os.environ["MUTANT_UNDER_TEST"] = name
                signal.alarm(int(timeout))
                os._exit(child())
            running[pid] = name
        pid, status = os.wait()
        results[running.pop(pid)] = (
            TIMEOUT if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGALRM
            else KILLED if os.waitstatus_to_exitcode(status) else SURVIVED)
    return results
