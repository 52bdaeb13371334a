"""Render jobs on one machine are forked from a render server that imported Manim once (render.server):
the same bytes as a render in the job's own process, one server per code and environment, and a job that
is stopped stops its render, which leaves nothing behind."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import combinations, copy_workflow, read_config, snakemake, write_config

FORKED = "(forked from the render server)"
JOB = "attnpipe.render.job"  # the module the render server serves (its job() and preload())


def test_a_sweeps_renders_are_forked_and_equal_a_render_of_its_own(built_default, built_copy):
    logs = sorted((built_default / "logs/render").rglob("*.log"))
    assert len(logs) == len(combinations(built_default))
    assert all(FORKED in log.read_text() for log in logs)
    folder = built_copy / "results/seed/2024"
    (folder / "attention.mp4").unlink()
    snakemake(built_copy, "--cores", "1", env={"ATTNPIPE_RENDER_SERVER": "off"}, check=True)
    log = (built_copy / "logs/render/seed/2024.log").read_text()
    assert "rendered seed/2024" in log and FORKED not in log
    for name in ("attention.mp4", "attention.png"):
        assert (folder / name).read_bytes() == (built_default / "results/seed/2024" / name).read_bytes(), name


def socket_of(workdir: Path, env: dict, cwd: Path | None = None) -> str:
    code = f"from attnpipe.render import server; print(repr(server.socket_name({JOB!r})))"
    env = {**os.environ, "PYTHONPATH": str(workdir / "src"), **env}
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd or workdir, env=env, check=True, capture_output=True,
                          text=True)
    return proc.stdout


def test_another_code_or_environment_gets_another_server(built_copy, tmp_path):
    before = socket_of(built_copy, {})
    assert before.startswith(f"'\\x00attnpipe-render-{os.getuid()}-")
    assert socket_of(built_copy, {}) == before
    assert socket_of(built_copy, {"ATTNPIPE_CACHE_DIR": str(tmp_path)}) != before
    assert socket_of(built_copy, {"PWD": str(tmp_path)}) == before  # set by shells, read by no render
    assert socket_of(built_copy, {}, cwd=tmp_path) != before  # Manim reads the folder's manim.cfg
    scene = built_copy / "src/attnpipe/render/scene.py"
    scene.write_text(scene.read_text() + "\n# edited\n")
    assert socket_of(built_copy, {}) != before


def processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every process."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):
            continue
        found[int(entry.name)] = (int(stat.rsplit(")", 1)[1].split()[1]), cmdline)
    return found


def cwd(pid: int) -> Path | None:
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        return None


def environ(pid: int) -> list[bytes]:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return []


def wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while not (found := condition()):
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        time.sleep(0.05)
    return found


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_a_stopped_job_stops_its_render_and_leaves_nothing(built_copy, tmp_path, sig):
    cfg = read_config(built_copy)
    cfg["render"] = {**cfg.get("render", {}), "preset": "publish"}  # long enough to stop it midway
    write_config(built_copy, cfg)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "PYTHONPATH": str(built_copy / "src"), "TMPDIR": str(tmp), "XDG_RUNTIME_DIR": ""}
    target = "results/seed/012/attention.mp4"
    sweep = subprocess.Popen([sys.executable, "-m", "snakemake", "--cores", "1", target], cwd=built_copy, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def render_child():  # the job (Snakemake's script) and the server's child rendering for it
            procs = processes()
            jobs = [pid for pid, (_, cmd) in procs.items()
                    if ".snakemake/scripts/" in cmd and "render" in cmd and cwd(pid) == built_copy]  # this test's
            servers = {pid for pid, (_, cmd) in procs.items() if "attnpipe.render.server" in cmd
                       and f"TMPDIR={tmp}".encode() in environ(pid)}  # this test's server (its own TMPDIR)
            children = [pid for pid, (ppid, _) in procs.items() if ppid in servers]
            return (jobs[0], children[0]) if jobs and children else None

        job, child = wait_for(render_child, 120, "the render job and its forked child")
        time.sleep(2)  # well into the render
        os.kill(job, sig)
        wait_for(lambda: child not in processes(), 20, "the forked render to stop")
        assert sweep.wait(timeout=120) != 0
    finally:
        if sweep.poll() is None:
            sweep.kill()
    folder = built_copy / "results/seed/012"
    assert not (folder / "attention.mp4").exists()  # Snakemake removes a failed job's outputs
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".")], "temporaries left in results/"
    assert not list(tmp.glob("attnpipe-render-*")), "the render's media folder was left behind"



@pytest.mark.parametrize("server", ["on", "off"])
def test_a_render_whose_snakemake_is_killed_stops_without_writing(tmp_path, server):
    """kill -9 of Snakemake alone: its render went on and wrote attention.mp4 and .png some seconds later, for a
    workflow that would never record them. The job (and the server's child rendering for it) stops instead."""
    workdir = copy_workflow(tmp_path / "wf")
    cfg = read_config(workdir)
    cfg["render"] = {**cfg.get("render", {}), "preset": "publish"}  # long enough to kill Snakemake midway
    write_config(workdir, cfg)
    snakemake(workdir, "numeric", "--cores", "2", check=True)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "PYTHONPATH": str(workdir / "src"), "TMPDIR": str(tmp), "XDG_RUNTIME_DIR": "",
           "ATTNPIPE_RENDER_SERVER": server}
    folder = workdir / "results/seed/012"
    sweep = subprocess.Popen([sys.executable, "-m", "snakemake", "--cores", "1", "results/seed/012/attention.mp4"],
                             cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def render_job():
            jobs = [pid for pid, (ppid, cmd) in processes().items() if ppid == sweep.pid and "render" in cmd]
            return jobs[0] if jobs else None

        def server_children():  # this test's server's (its own TMPDIR) forked renders
            procs = processes()
            servers = {pid for pid, (_, cmd) in procs.items() if "attnpipe.render.server" in cmd
                       and f"TMPDIR={tmp}".encode() in environ(pid)}
            return [pid for pid, (ppid, _) in procs.items() if ppid in servers]

        job = wait_for(render_job, 120, "the render job")
        time.sleep(3)  # into the render
        os.kill(sweep.pid, signal.SIGKILL)
        sweep.wait()
        wait_for(lambda: job not in processes(), 30, "the render job to stop")
        # the job may end before its render does (gone before the child's pid came back): the child stops on
        # its own (the connection closed) and unwinds, removing its media folder
        wait_for(lambda: not server_children(), 30, "the server's child rendering for it to stop")
        time.sleep(2)  # a render that went on would be writing now
    finally:
        if sweep.poll() is None:
            sweep.kill()
    written = [p.name for p in folder.iterdir() if p.name.startswith(("attention.mp4", "attention.png", "."))]
    assert written == [], "a render wrote for a workflow that is gone"
    assert not list(tmp.glob("attnpipe-render-*")), "the render's media folder was left behind"


SYSTEM_PYTHON = "/usr/bin/python3"  # one another user may run (the venv's may sit in root's home)


@pytest.mark.skipif(os.getuid() != 0 or not os.access(SYSTEM_PYTHON, os.X_OK), reason="needs root and Debian's python3")
def test_a_server_renders_for_its_own_user_only():
    name = f"attnpipe-test-{os.getpid()}"
    server = subprocess.Popen([sys.executable, "-m", "attnpipe.render.server", name, JOB])
    probe = ("import socket, sys, time\n"
             "for _ in range(600):\n"
             "    s = socket.socket(socket.AF_UNIX)\n"
             "    try:\n"
             f"        s.connect('\\0{name}'); break\n"
             "    except OSError: s.close(); time.sleep(0.05)\n"
             "s.sendall(b'{\"cwd\": \"/\", \"env\": {}, \"umask\": 18}\\n')\n"
             "try: print(s.makefile('rb').readline().decode() or 'closed')\n"
             "except OSError: print('closed')\n")
    try:
        for user, expected in ((65534, "closed"), (0, '{"pid"')):  # nobody: closed unheard; root: a child
            reply = subprocess.run([SYSTEM_PYTHON, "-c", probe], user=user, capture_output=True, text=True, timeout=60)
            assert reply.stdout.startswith(expected), (user, reply.stdout, reply.stderr)
    finally:
        server.terminate()
        server.wait()


@pytest.mark.skipif(os.getuid() != 0 or not os.access(SYSTEM_PYTHON, os.X_OK), reason="needs root and Debian's python3")
def test_a_job_never_hands_its_render_to_another_users_server():
    from attnpipe.render import server as render_server

    name = render_server.socket_name(JOB)  # this process's: the name a render job here would use
    squatter = ("import socket, sys, time\n"
                "s = socket.socket(socket.AF_UNIX)\n"
                f"s.bind({name!r}); s.listen(8); print('ready', flush=True)\n"
                "while True: c, _ = s.accept(); c.sendall(b'{\"pid\": 1}\\n')\n")
    other = subprocess.Popen([SYSTEM_PYTHON, "-c", squatter], user=65534, stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline() == "ready\n"
        start = time.monotonic()
        assert render_server.submit(JOB, NO_RENDER) is None
        assert time.monotonic() - start < 5  # refused at once, no wait for a server of its own
    finally:
        other.kill()
        other.wait()


@pytest.mark.parametrize("value, on", [("on", True), ("ON", True), ("1", True), ("true", True), ("Yes", True),
                                       ("off", False), ("OFF", False), ("0", False), ("false", False), ("no", False)])
def test_the_switch_takes_the_usual_spellings(monkeypatch, value, on):
    from attnpipe.render import server as render_server

    monkeypatch.setenv("ATTNPIPE_RENDER_SERVER", value)
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    assert render_server.enabled() is on


def test_the_switch_refuses_what_it_cannot_be(monkeypatch):
    from attnpipe.render import server as render_server

    monkeypatch.setenv("ATTNPIPE_RENDER_SERVER", "maybe")
    with pytest.raises(ValueError, match="ATTNPIPE_RENDER_SERVER: expected on or off .*, got 'maybe'"):
        render_server.enabled()


NO_RENDER = {"settings": {}, "inputs": {}, "outputs": {}, "log": os.devnull}


def squat(name: str, script: str, *args: str) -> subprocess.Popen:
    """A process of this user holding the abstract socket `name`; prints 'ready' once it does."""
    code = ("import socket, sys, time\n"
            "s = socket.socket(socket.AF_UNIX)\n"
            f"s.bind({name!r})\n{script}\n"
            "print('ready', flush=True)\n"
            "time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "ready\n"
    return proc


@pytest.mark.parametrize("holder", ["binds, never listens", "listens, no server", "a server's name, never answers",
                                    "a server, stopped"])
def test_a_name_held_by_what_does_not_answer_costs_a_bounded_wait(monkeypatch, holder):
    from attnpipe.render import server as render_server

    monkeypatch.setattr(render_server, "READY_SECONDS", 3.0)  # the bound a server's answer waits for (30 s)
    name = f"\0attnpipe-test-{os.getpid()}-{holder.replace(' ', '')}"
    if holder == "a server, stopped":  # the real server, stopped once it listens
        proc = subprocess.Popen([sys.executable, "-m", "attnpipe.render.server", name[1:], JOB])
        wait_for(lambda: render_server._connect(name), 30, "the server to listen").close()
        os.kill(proc.pid, signal.SIGSTOP)
    else:
        listen = "" if holder == "binds, never listens" else "s.listen(8)"
        # a process whose command line names the server module, as a server's does
        proc = squat(name, listen, *(["attnpipe.render.server"] if "server's" in holder else []))
    try:
        start = time.monotonic()
        assert render_server.submit(JOB, NO_RENDER, name) is None  # nothing ran: the job renders in its own process
        assert time.monotonic() - start < {"a server's name, never answers": 8}.get(holder, 5)
    finally:
        proc.kill()
        proc.wait()


def test_a_render_completes_beside_a_stopped_server(built_copy, tmp_path):
    """The sweep's own server, stopped (SIGSTOP) while it waits for the next render: that render is done in
    its job's own process, without waiting for it."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {"TMPDIR": str(tmp)}  # this test's server: its own TMPDIR (the name hashes the environment)
    results = built_copy / "results/seed"
    (results / "012/attention.png").unlink()
    snakemake(built_copy, "--cores", "1", "results/seed/012/attention.png", env=env, check=True)
    servers = [pid for pid, (_, cmd) in processes().items() if "attnpipe.render.server" in cmd
               and f"TMPDIR={tmp}".encode() in environ(pid)]
    assert len(servers) == 1
    os.kill(servers[0], signal.SIGSTOP)
    try:
        (results / "2024/attention.png").unlink()
        start = time.monotonic()
        snakemake(built_copy, "--cores", "1", "results/seed/2024/attention.png", env=env, check=True)
        assert time.monotonic() - start < 90  # a render of its own (it waited 3 min, until SIGCONT, before)
        log = (built_copy / "logs/render/seed/2024.log").read_text()
        assert "rendered seed/2024" in log and FORKED not in log
    finally:
        os.kill(servers[0], signal.SIGKILL)
