"""A throw-away single-node SLURM cluster on 127.0.0.1 for tests and benchmarks (root only).

Debian's `munge slurmctld slurmd slurm-client` run without systemd or cgroups: munge with its own key and
socket, slurmctld and slurmd in the foreground (`-D`) as background processes, process tracking by
/proc (`proctrack/linuxproc`), no task plugin, no accounting. Everything lives in one folder; the
config is linked at /etc/slurm/slurm.conf because the `srun` inside a job drops SLURM_CONF. `stop()`
ends exactly the daemons `start()` started (by PID) and restores whatever was at /etc/slurm/slurm.conf.
"""

import fcntl
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Self

SLURM_CONF = Path("/etc/slurm/slurm.conf")
LOCK = Path("/tmp/attnpipe-slurm-cluster.lock")  # one cluster at a time: they share /etc/slurm/slurm.conf
ACTIVE = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED"}
BINARIES = ["munged", "slurmctld", "slurmd", "sbatch", "squeue", "srun", "sinfo", "scontrol", "scancel"]


def missing_requirements() -> str | None:
    """Why this machine cannot host the cluster, or None."""
    if os.geteuid() != 0:
        return "needs root (daemons, /etc/slurm/slurm.conf)"
    missing = [b for b in BINARIES if shutil.which(b) is None]
    if missing:
        return f"SLURM/munge binaries absent: {', '.join(missing)} (./run.sh test installs them)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _memory_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    raise RuntimeError("no MemTotal in /proc/meminfo")


class SlurmCluster:
    def __init__(self, folder: Path, cpus: int | None = None, min_job_age: int = 3600):
        self.folder = Path(folder)
        self.node = socket.gethostname().split(".")[0]
        # At least 2: profiles/slurm asks up to 2 CPUs per job (config_overrides lets a 1-core machine say so).
        self.cpus = cpus or max(2, os.cpu_count() or 1)
        self.min_job_age = min_job_age  # squeue lists a finished job for MinJobAge s (checks read it afterwards)
        self.processes: dict[str, subprocess.Popen] = {}
        self._saved_conf: Path | None = None
        self._linked = False
        self._lock = None

    # --- set-up -----------------------------------------------------------------------------------------
    def _write_files(self) -> None:
        f = self.folder
        for sub in ("munge", "state", "spool", "log"):
            (f / sub).mkdir(parents=True, exist_ok=True)
        (f / "munge").chmod(0o755)  # munged refuses a socket folder others may write to
        key = f / "munge/munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        self.munge_socket = f / "munge/munge.socket"
        conf = f"""\
ClusterName=attnpipe-test
SlurmctldHost={self.node}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.munge_socket}
StateSaveLocation={f / "state"}
SlurmdSpoolDir={f / "spool"}
SlurmctldPidFile={f / "slurmctld.pid"}
SlurmdPidFile={f / "slurmd.pid"}
SlurmctldLogFile={f / "log/slurmctld.log"}
SlurmdLogFile={f / "log/slurmd.log"}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
MinJobAge={self.min_job_age}
SlurmctldTimeout=30
SlurmdTimeout=30
SlurmdParameters=config_overrides
NodeName={self.node} NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory={_memory_mb() * 9 // 10} State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""
        self.conf = f / "slurm.conf"
        self.conf.write_text(conf)

    def _link_conf(self) -> None:
        SLURM_CONF.parent.mkdir(parents=True, exist_ok=True)
        if SLURM_CONF.is_symlink() and (not SLURM_CONF.exists() or "attnpipe-test" in SLURM_CONF.read_text()):
            # a test cluster killed before stop() (a timed-out benchmark) left its link: it is no live one (this
            # cluster holds the lock), and restored it would make every `scontrol` (which the SLURM executor plugin
            # runs at each Snakemake start) wait ~9 s for a controller that is not there
            SLURM_CONF.unlink()
        if SLURM_CONF.exists() or SLURM_CONF.is_symlink():
            self._saved_conf = self.folder / "slurm.conf.saved"
            os.rename(SLURM_CONF, self._saved_conf)
        SLURM_CONF.symlink_to(self.conf)
        self._linked = True

    def _spawn(self, name: str, argv: list[str]) -> None:
        with open(self.folder / f"log/{name}.out", "wb") as log:  # the daemon keeps its own copy of the fd
            self.processes[name] = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, "SLURM_CONF": str(self.conf)}, start_new_session=True,
            )

    def _wait(self, what: str, ready, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.processes.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited ({proc.returncode}) while waiting for {what}:\n{self.logs()}")
            if ready():
                return
            time.sleep(0.3)
        raise RuntimeError(f"timed out after {timeout} s waiting for {what}:\n{self.logs()}")

    def _node_idle(self) -> bool:
        proc = subprocess.run(["sinfo", "--noheader", "--format=%t"], check=False, capture_output=True, text=True)
        return proc.returncode == 0 and proc.stdout.strip() == "idle"

    def _acquire_lock(self, timeout: float = 900) -> None:
        self._lock = open(LOCK, "w")  # noqa: SIM115 (held open until stop(): the open file holds the flock)
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError as busy:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"another test cluster held {LOCK} for {timeout} s") from busy
                time.sleep(1)

    def start(self) -> Self:
        try:
            self._acquire_lock()
            self._write_files()
            self._link_conf()
            f = self.folder
            self._spawn("munged", [
                "munged", "--foreground", "--force", f"--socket={self.munge_socket}",
                f"--key-file={f / 'munge/munge.key'}", f"--pid-file={f / 'munge/munged.pid'}",
                f"--seed-file={f / 'munge/munged.seed'}", f"--log-file={f / 'log/munged.log'}",
            ])
            self._wait("munge socket", self.munge_socket.exists)
            self._spawn("slurmctld", ["slurmctld", "-D", "-i", "-f", str(self.conf)])
            self._spawn("slurmd", ["slurmd", "-D", "-N", self.node, "-f", str(self.conf)])
            self._wait("node idle", self._node_idle)
        except BaseException:
            self.stop()
            raise
        return self

    # --- tear-down --------------------------------------------------------------------------------------
    def stop(self) -> None:
        """Cancel what is left in the queue, stop every daemon started here by PID (slurmd first, munge
        last) and restore slurm.conf."""
        if self.processes.get("slurmctld") and self.processes["slurmctld"].poll() is None:
            user = pwd.getpwuid(os.geteuid()).pw_name
            subprocess.run(["scancel", "--full", f"--user={user}"], check=False, capture_output=True, timeout=30)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and any(j["state"] in ACTIVE for j in self._jobs_or_none()):
                time.sleep(0.5)
        for name in ("slurmd", "slurmctld", "munged"):
            proc = self.processes.pop(name, None)
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._linked:
            SLURM_CONF.unlink(missing_ok=True)
            self._linked = False
            if self._saved_conf is not None:
                os.rename(self._saved_conf, SLURM_CONF)
                self._saved_conf = None
        if self._lock is not None:
            self._lock.close()  # releases the flock
            self._lock = None

    def logs(self) -> str:
        parts = []
        for p in sorted((self.folder / "log").glob("*")):
            parts.append(f"--- {p.name}\n" + p.read_text(errors="replace")[-3000:])
        return "\n".join(parts)

    def _jobs_or_none(self) -> list[dict]:
        try:
            return self.jobs()
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            return []

    def jobs(self) -> list[dict]:
        """Every job slurmctld still remembers (MinJobAge): id, name, state, comment."""
        proc = subprocess.run(
            ["squeue", "--states=all", "--noheader", "--format=%i|%j|%T|%k"],
            capture_output=True, text=True, check=True, timeout=30,
        )
        rows = [line.split("|", 3) for line in proc.stdout.splitlines() if line.strip()]
        return [dict(zip(("id", "name", "state", "comment"), row)) for row in rows]

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
