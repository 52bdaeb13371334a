"""Preload-then-fork for render jobs on one machine: a server process imports Manim and the scene once,
then forks a child per render job, as gunicorn's `preload_app` does; the job itself only connects, hands
over its request and waits.

Why: a render job is a fresh process, and importing Manim and the scene costs ~2 s of a ~5 s preview
render. A forked child starts with all of it loaded (its pages shared copy-on-write).

  - The first job to find no server starts one and waits for it (of servers started at once by parallel
    jobs, the one that binds the name first stays); a server exits IDLE_SECONDS after its last request.
    Renders never depend on it: whenever no server can be had, the job renders in its own process, as
    it does with ATTNPIPE_RENDER_SERVER=off.
  - A server serves only jobs that would render as it does: its socket's name hashes the attnpipe and
    Manim code it loaded (paths, sizes, mtimes), the interpreter, the environment and the working folder.
    After a code edit, or in another environment or workflow folder, a job finds (and starts) another
    server.
  - The child takes on the job's working folder, environment and umask, writes the job's log, and hands
    its exit status back. Stopping the job (SIGTERM, SIGINT, or SIGKILL: the child sees the connection
    close) stops the child, which cleans up as an in-process render does.
  - Off inside a SLURM job: each job there runs on its own, and a server would outlive its allocation.

The socket is in Linux's abstract namespace (no file to leave behind or to outgrow the 107 bytes of a
socket path), so each side checks the other's user (SO_PEERCRED): a server renders only for its own user,
and a job hands its render only to a server of its own user. Elsewhere no server starts: renders run in
the job's own process.
"""

import errno
import hashlib
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback
from importlib.util import find_spec
from pathlib import Path

IDLE_SECONDS = 20.0  # a sweep's renders come back to back; an idle server holds ~150 MB
START_SECONDS = 60.0  # how long a job waits for a starting server before rendering on its own
VOLATILE_ENV = {"_", "PWD", "OLDPWD", "SHLVL"}  # set by shells per command; no render reads them
FORKED = False  # True in a server's child


def enabled() -> bool:
    return os.environ.get("ATTNPIPE_RENDER_SERVER", "on") != "off" and "SLURM_JOB_ID" not in os.environ


def socket_name() -> str:
    """This code's and environment's server: a name in the abstract namespace."""
    # the working folder too: Manim reads a manim.cfg there when it is imported
    stamp = [sys.executable, sys.version, os.getcwd(),
             sorted((k, v) for k, v in os.environ.items() if k not in VOLATILE_ENV)]
    for package in ("attnpipe", "manim", "manimpango"):  # found, not imported: the job must not pay for it
        root = Path(find_spec(package).origin).parent
        for path in sorted(root.rglob("*.py")) if package == "attnpipe" else [root / "__init__.py"]:
            st = path.stat()
            stamp.append([str(path), st.st_size, st.st_mtime_ns])
    return f"\0attnpipe-render-{os.getuid()}-{hashlib.sha256(json.dumps(stamp).encode()).hexdigest()[:16]}"


def _same_user(conn: socket.socket) -> bool:
    """Whether the process at the other end runs as this user."""
    credentials = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", credentials)[1] == os.getuid()  # (pid, uid, gid)


# --- the job's side ---------------------------------------------------------------------------------


def submit(request: dict) -> int | None:
    """Have a forked child of this environment's server run `request` (the job's `render_job` arguments);
    its exit status, or None if no server could be had (nothing was run: render here instead)."""
    name = socket_name()
    try:
        conn = _connect(name) or _start_and_connect(name)
    except _Foreign:
        return None  # another user holds the name: never hand a render to it
    if conn is None:
        return None
    with conn, conn.makefile("rb") as replies:
        try:
            request = {**request, "cwd": os.getcwd(), "env": dict(os.environ), "umask": _umask()}
            conn.sendall(json.dumps(request).encode() + b"\n")
            started = replies.readline()
        except OSError:
            started = b""
        reply = json.loads(started) if started else {}
        if "pid" not in reply:
            return None  # the server went away, or its child failed before it began: nothing ran
        child = reply["pid"]
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, lambda signum, frame: _stop(child))
        try:
            finished = replies.readline()
        except OSError:
            finished = b""
    return json.loads(finished)["exit"] if finished else 1  # no report: the child was killed


def _stop(child: int) -> None:
    """Ask the job's child to stop: it unwinds (removing its temporaries), then reports its exit."""
    try:
        os.kill(child, signal.SIGTERM)
    except ProcessLookupError:
        pass


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class _Foreign(Exception):
    """The name is held by another user's process."""


def _connect(name: str) -> socket.socket | None:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(name)
    except OSError:
        conn.close()
        return None
    if not _same_user(conn):
        conn.close()
        raise _Foreign(name)
    return conn


def _start_and_connect(name: str) -> socket.socket | None:
    """Start a server under `name` and connect once it listens (to it, or to one another job started)."""
    deadline, server, started = time.monotonic() + START_SECONDS, None, 0.0
    while time.monotonic() < deadline:
        if (conn := _connect(name)) is not None:
            return conn
        status = server.poll() if server else 0
        if status not in (None, 0):
            return None  # it failed to start: render here
        # none started yet, or ours found the name taken: by a server starting (wait for it), or, rarely, by
        # one that was just leaving (start another, at most once a second)
        if status == 0 and time.monotonic() - started > 1.0:
            server = subprocess.Popen([sys.executable, "-m", __name__, name.lstrip("\0")], stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            started = time.monotonic()
        time.sleep(0.02)
    return None


# --- the server's side ------------------------------------------------------------------------------


def serve(name: str) -> None:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(name)  # first: of servers started at once, one goes on
    except OSError as error:
        sys.exit(0 if error.errno == errno.EADDRINUSE else 1)

    from ..stages import render

    render.preload()  # Manim, the scene, the glyph cache's fingerprint: what every child would redo
    listener.listen(64)  # jobs connect only now
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children reap themselves
    listener.settimeout(IDLE_SECONDS)
    while True:
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            break
        if _same_user(conn) and os.fork() == 0:
            try:
                listener.close()
                _child(conn, render.render_job)
            finally:
                os._exit(1)  # a child never returns into this loop
        conn.close()
    listener.close()


def _child(conn: socket.socket, render_job) -> None:
    """Run one job's request in this forked process; never returns."""
    global FORKED
    FORKED, code = True, 1
    try:
        conn.settimeout(None)
        request = json.loads(conn.makefile("rb").readline())
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        os.umask(request["umask"])
        signal.signal(signal.SIGTERM, _exit_cleanly)
        conn.sendall(json.dumps({"pid": os.getpid()}).encode() + b"\n")
        threading.Thread(target=_stop_when_job_gone, args=(conn,), daemon=True).start()
        render_job(request["settings"], request["inputs"], request["outputs"], request["log"])
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    except BaseException:
        traceback.print_exc()  # into the job's log once render_job has it on stderr
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # done: the job closing now must not unwind this
        try:
            sys.stdout.flush(), sys.stderr.flush()
            conn.sendall(json.dumps({"exit": code}).encode() + b"\n")
        except (OSError, ValueError):
            pass
        os._exit(code)


def _exit_cleanly(signum, frame):
    raise SystemExit(128 + signum)  # unwinds: temporary files and folders are removed on the way out


def _stop_when_job_gone(conn: socket.socket) -> None:
    """The job sends nothing after its request: end of stream means it is gone (killed, even by SIGKILL)."""
    try:
        while conn.recv(1):
            pass
    except OSError:
        pass
    os.kill(os.getpid(), signal.SIGTERM)


if __name__ == "__main__":
    from attnpipe.render import forkserver  # the module the children's code sees (this one is __main__)

    forkserver.serve("\0" + sys.argv[1])  # (an argument cannot hold the NUL)
