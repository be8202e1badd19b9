"""The processes under test: gunicorn (uvicorn workers) and the settlement Celery worker,
started as `make run` starts them, plus RSS sampling from /proc."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


class Proc:
    def __init__(self, name: str, args: list[str], env: dict, log_dir: Path):
        self.name, self.args, self.env = name, args, env
        self.log_path = log_dir / f"{name}.log"
        self.popen: subprocess.Popen | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(self.args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True)

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, timeout: float = 30) -> None:
        if self.running:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        self.popen = None

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def pids(self) -> list[int]:
        """The master and its direct children (gunicorn workers, Celery pool processes)."""
        if not self.running:
            return []
        pid = self.popen.pid
        out = [pid]
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                out += [int(p) for p in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
        except OSError:
            pass
        return out


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError):
        return 0.0


class Web(Proc):
    """The web server as `make run` ships it: config/gunicorn.conf.py, access log on."""

    def __init__(self, env: dict, log_dir: Path, port: int, processes: int, nice: int = 0):
        env = {**env, "PORT": str(port), "WEB_CONCURRENCY": str(processes), "ACCESS_LOG": "1"}
        super().__init__("web", (["nice", "-n", str(nice)] if nice else []) +
                         [str(BIN / "gunicorn"), "config.asgi:application", "-c", "config/gunicorn.conf.py"],
                         env, log_dir)
        self.url = f"http://127.0.0.1:{port}"

    def start(self) -> None:
        super().start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if not self.running:
                raise RuntimeError(f"web exited:\n{self.tail()}")
            try:
                if httpx.get(f"{self.url}/health/", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"web not ready:\n{self.tail()}")


class WsgiBaseline(Web):
    """The yardstick: the same Django application under plain gunicorn sync workers
    (config/wsgi.py), as many processes as the shipped server, no access log."""

    def __init__(self, env: dict, log_dir: Path, port: int, processes: int):
        Proc.__init__(self, "wsgi-baseline", [str(BIN / "gunicorn"), "config.wsgi:application", "-w", str(processes),
                                              "-b", f"127.0.0.1:{port}", "--no-control-socket"], env, log_dir)
        self.url = f"http://127.0.0.1:{port}"


class Worker(Proc):
    def __init__(self, env: dict, log_dir: Path, processes: int, pool: str = "prefork", name: str = "worker"):
        self.node = f"bench-settlement-{os.getpid()}-{name}@localhost"
        self.nodes = [self.node]
        super().__init__(name, [str(BIN / "celery"), "-A", "config", "worker", "-Q", "settlement", "-P", pool,
                                "-c", str(processes), "-n", self.node, "--include", "bench.tasks",
                                "--without-mingle", "--without-gossip",
                                "--loglevel", "WARNING"], env, log_dir)

    def start(self) -> None:
        super().start()
        from config.celery import app

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if not self.running:
                raise RuntimeError(f"worker exited:\n{self.tail()}")
            try:
                with app.connection_for_write() as connection:
                    if app.control.ping(destination=[self.node], timeout=0.5, connection=connection):
                        return
            except Exception:
                time.sleep(0.2)
        raise RuntimeError(f"worker not ready:\n{self.tail()}")


class SoloWorkers:
    """`processes` settlement workers of the solo pool: each consumes and runs its own
    messages in one process (no hand-over from a consumer process to a pool child)."""

    name = "worker"

    def __init__(self, env: dict, log_dir: Path, processes: int):
        self.members = [Worker(env, log_dir, 1, pool="solo", name=f"worker-{i + 1}") for i in range(processes)]
        self.nodes = [w.node for w in self.members]

    @property
    def running(self) -> bool:
        return all(w.running for w in self.members)

    def start(self) -> None:
        for w in self.members:
            if not w.running:
                w.start()

    def stop(self, timeout: float = 30) -> None:
        for w in self.members:
            w.stop(timeout)

    def pids(self) -> list[int]:
        return [pid for w in self.members for pid in w.pids()]

    def tail(self, lines: int = 30) -> str:
        return "\n".join(w.tail(lines) for w in self.members)
