"""A render ends with its workflow: a job whose Snakemake is gone (kill -9 of Snakemake alone) stops without writing
its outputs, instead of finishing them for a workflow that will never record them.

The workflow is the process that started the job (Snakemake runs a `script:` job as its own child), named by its
pid and its start time (a pid can be taken again). hold() watches it from a thread, at WATCH_SECONDS, and ends the
render through SIGTERM, which unwinds it (temporaries removed); check(), called just before each output is renamed
into place, closes the gap between two looks.
"""

import os
import signal
import threading
import time

WATCH_SECONDS = 0.5
_held: tuple[int, str] | None = None  # (pid, start time) of the workflow


def workflow() -> tuple[int, str] | None:
    """The process that started this one, as hold() takes it: (pid, start time)."""
    pid = os.getppid()
    started = _start_time(pid)
    return (pid, started) if started is not None else None


def hold(process: tuple[int, str] | list | None) -> None:
    """Watch `process` (from workflow()): once it is gone, this process gets SIGTERM (once)."""
    global _held
    if process is None or _held is not None:
        return
    _held = (int(process[0]), str(process[1]))
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:  # a render in the job's own process: unwind too
        signal.signal(signal.SIGTERM, _exit_cleanly)
    threading.Thread(target=_watch, daemon=True).start()


def alive() -> bool:
    """Whether the held workflow is still running (True when none is held)."""
    return _held is None or _start_time(_held[0]) == _held[1]


def check() -> None:
    """Stop here, before an output is put in place, when the workflow is gone."""
    if not alive():
        raise SystemExit(f"attnpipe: the workflow that started this render (pid {_held[0]}) is gone: nothing written")


def _watch() -> None:
    while alive():
        time.sleep(WATCH_SECONDS)
    os.kill(os.getpid(), signal.SIGTERM)


def _exit_cleanly(signum, frame):
    raise SystemExit(128 + signum)


def _start_time(pid: int) -> str | None:
    """A running process's start time (/proc/<pid>/stat field 22); None when it is gone or a zombie."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in ("Z", "X") else fields[19]
