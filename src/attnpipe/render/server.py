"""The render server: preload-then-fork for render jobs on one machine. A server process imports what its
target module's preload() names (Manim and the scene: render.job) once, then forks a child per job that
calls target.job(**args, forked=True), as gunicorn's `preload_app` does; the job itself only connects,
hands over its arguments and waits. The server knows nothing of renders beyond that target.

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
  - Every wait of a job is bounded: connecting, the server's start, its answer. A server that is stopped
    (SIGSTOP), a process of this user on the name that is no server or never answers, one that binds the
    name and never listens: the job renders in its own process, at once or after at most READY_SECONDS.

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
CONNECT_SECONDS = 5.0  # connecting and handing over the request (a listening server's kernel queue takes it)
START_SECONDS = 10.0  # from starting a server to its listening: it binds and listens before importing Manim
READY_SECONDS = 30.0  # from connecting to the forked child's answer: a fresh server first imports Manim (~2-5 s)
VOLATILE_ENV = {"_", "PWD", "OLDPWD", "SHLVL"}  # set by shells per command; no render reads them
SWITCH = "ATTNPIPE_RENDER_SERVER"
SPELLINGS = {"on": True, "1": True, "true": True, "yes": True, "off": False, "0": False, "false": False, "no": False}


def switch() -> bool:
    """ATTNPIPE_RENDER_SERVER as a bool (on unless set off); ValueError, one line, for a value it cannot be."""
    value = os.environ.get(SWITCH, "on")
    if value.strip().lower() not in SPELLINGS:
        raise ValueError(f"{SWITCH}: expected on or off (or 1/0, true/false, yes/no), got {value!r}")
    return SPELLINGS[value.strip().lower()]


def enabled() -> bool:
    return switch() and "SLURM_JOB_ID" not in os.environ


def socket_name(target: str) -> str:
    """This code's and environment's server for `target`: a name in the abstract namespace."""
    # the working folder too: Manim reads a manim.cfg there when it is imported
    stamp = [target, sys.executable, sys.version, os.getcwd(),
             sorted((k, v) for k, v in os.environ.items() if k not in VOLATILE_ENV)]
    for package in ("attnpipe", "manim", "manimpango"):  # found, not imported: the job must not pay for it
        root = Path(find_spec(package).origin).parent
        for path in sorted(root.rglob("*.py")) if package == "attnpipe" else [root / "__init__.py"]:
            st = path.stat()
            stamp.append([str(path), st.st_size, st.st_mtime_ns])
    return f"\0attnpipe-render-{os.getuid()}-{hashlib.sha256(json.dumps(stamp).encode()).hexdigest()[:16]}"


def _credentials(conn: socket.socket) -> tuple[int, int, int]:
    """(pid, uid, gid) of the process at the other end."""
    return struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))


def _same_user(conn: socket.socket) -> bool:
    """Whether the process at the other end runs as this user."""
    return _credentials(conn)[1] == os.getuid()


# --- the job's side ---------------------------------------------------------------------------------


def submit(target: str, args: dict, name: str | None = None) -> int | None:
    """Have a forked child of this environment's server for `target` (a module with job() and preload()) run
    target.job(**args); its exit status, or None if no server could be had in time (nothing was run: run it
    here instead)."""
    name = name or socket_name(target)
    try:
        conn = _connect(name) or _start_and_connect(name, target)
    except _Foreign:
        return None  # another user holds the name, or no server of ours: never hand a render to it
    if conn is None:
        return None
    with conn:
        child = _hand_over(conn, {"args": args})
        if child is None:
            return None  # no answer in time, the server went away, or its child failed before it began: nothing ran
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, lambda signum, frame: _stop(child))
        return _wait_for(conn, child)


def _hand_over(conn: socket.socket, request: dict) -> int | None:
    """Send the request; the pid of the child the server forked for it, or None when none answers in time."""
    request = {**request, "cwd": os.getcwd(), "env": dict(os.environ), "umask": _umask()}
    reply = b""
    try:
        conn.settimeout(CONNECT_SECONDS)
        conn.sendall(json.dumps(request).encode() + b"\n")
        reply = _read_line(conn, time.monotonic() + READY_SECONDS)
    except (OSError, ValueError):
        pass
    try:
        child = int(json.loads(reply)["pid"]) if reply else None
    except (ValueError, KeyError, TypeError):
        return None
    if child is None or _parent_of(child) not in (_peer_pid(conn), None):  # the server's child (or one done already)
        return None
    return child


def _read_line(conn: socket.socket, deadline: float, child: int | None = None) -> bytes:
    """One line from the server, waiting until `deadline`, or while `child` lives; b"" if none comes."""
    data = b""
    while not data.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            return b""
        conn.settimeout(min(left, 1.0))
        try:
            chunk = conn.recv(4096)
        except TimeoutError:
            if child is not None and not _alive(child):
                conn.settimeout(1.0)  # its report may be on its way
                try:
                    return data + conn.recv(4096)
                except (TimeoutError, OSError):
                    return b""
            continue
        if not chunk:
            return b""
        data += chunk
    return data


def _wait_for(conn: socket.socket, child: int) -> int:
    """The child's exit status, once it reports; 1 if it ends without a report (killed). As long as it renders:
    an in-process render is not bounded either, but a child that is gone is noticed within a second."""
    finished = _read_line(conn, float("inf"), child)
    try:
        return int(json.loads(finished)["exit"])
    except (ValueError, KeyError, TypeError):
        return 1


def _proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name: state, parent pid, ..."""
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _alive(pid: int) -> bool:
    stat = _proc_stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")


def _parent_of(pid: int) -> int | None:
    stat = _proc_stat(pid)
    return int(stat[1]) if stat else None


def _peer_pid(conn: socket.socket) -> int:
    return _credentials(conn)[0]


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
    """The name is held by another user's process, or by a process that is no render server or is stopped."""


def _connect(name: str) -> socket.socket | None:
    """A connection to the server on `name`; None where nothing listens there."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(CONNECT_SECONDS)  # a listener whose queue is full would hold a blocking connect
    try:
        conn.connect(name)
    except OSError:  # refused, or timed out
        conn.close()
        return None
    if not _same_user(conn) or not _serving(_peer_pid(conn)):
        conn.close()
        raise _Foreign(name)
    return conn


def _serving(pid: int) -> bool:
    """Whether `pid` is a render server that can answer: running this module, and not stopped (SIGSTOP,
    a debugger), which would hold the job until it is continued."""
    stat = _proc_stat(pid)
    try:
        command = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
    except OSError:
        return False
    return stat is not None and stat[0] not in ("T", "t", "Z", "X") and __spec__.name.encode() in command


def _start_and_connect(name: str, target: str) -> socket.socket | None:
    """Start a server under `name` and connect once it listens (to it, or to one another job started). A server
    listens as soon as it holds the name, so a name held by a process that does not listen (ours found it taken,
    twice) is no server: render here."""
    deadline, server, started, taken = time.monotonic() + START_SECONDS, None, 0.0, 0
    while time.monotonic() < deadline:
        if (conn := _connect(name)) is not None:
            return conn
        status = server.poll() if server else 0
        if status not in (None, 0):
            return None  # it failed to start: render here
        if server is not None and status == 0:
            server, taken = None, taken + 1  # it found the name taken, and the holder does not listen
            if taken >= 2:
                return None
        # none started yet, or ours found the name taken by one just leaving: start another, at most once a second
        if server is None and time.monotonic() - started > 1.0:
            server = subprocess.Popen([sys.executable, "-m", __spec__.name, name.lstrip("\0"), target],
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      start_new_session=True)
            started = time.monotonic()
        time.sleep(0.02)
    return None


# --- the server's side ------------------------------------------------------------------------------


def serve(name: str, job, preload) -> None:
    """Serve under `name`: `preload()` once, then for each request a forked child that calls
    `job(**request["args"], forked=True)` in the job's folder, environment and umask."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(name)  # first: of servers started at once, one goes on
    except OSError as error:
        sys.exit(0 if error.errno == errno.EADDRINUSE else 1)

    # Listening at once: a job that connects while Manim is imported below waits for its answer (READY_SECONDS),
    # and a name that is held but refuses connections is never a server starting.
    listener.listen(64)
    preload()  # Manim, the scene, the glyph cache's fingerprint: what every child would redo
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
                _child(conn, job)
            finally:
                os._exit(1)  # a child never returns into this loop
        conn.close()
    listener.close()


def _child(conn: socket.socket, job) -> None:
    """Run one job's request in this forked process; never returns."""
    code = 1
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
        job(**request["args"], forked=True)
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    except BaseException:
        traceback.print_exc()  # into the job's log once the job has it on stderr
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
    import importlib

    # the module the children's code sees (this one is __main__); the module whose job(), preload() it serves
    from attnpipe.render import server

    target = importlib.import_module(sys.argv[2])
    server.serve("\0" + sys.argv[1], target.job, target.preload)  # (an argument cannot hold the NUL)
