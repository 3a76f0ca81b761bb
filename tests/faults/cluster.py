"""A three-node RabbitMQ cluster of the test's own, for the quorum-queue fault tests.

Every node has its own name (unique per run), AMQP and distribution ports (free ephemeral
ports, so never the shared broker's 5672/25672), data and log folders under the test's
temporary folder and one Erlang cookie of its own; nothing of the shared broker — its node,
its cookie, its configuration — is read or touched. ``close`` stops every node and then kills
any beam process left with one of *these* node names.

The scripts are run directly, not through a distribution's wrapper that switches to the
``rabbitmq`` user (and so to that user's cookie and home).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from tests.faults.rig import free_port

#: how long a node may take to boot (or a CLI command to answer)
BOOT_TIMEOUT_S = 90


def sbin() -> Path | None:
    """The folder of RabbitMQ's own scripts, or None when RabbitMQ is not installed."""
    override = os.environ.get("WEBHOOKSD_TEST_RABBITMQ_SBIN")
    if override:
        return Path(override)
    found = shutil.which("rabbitmq-server")
    if found is None:
        return None
    # a wrapper (Debian's) sits next to the real scripts; a plain install resolves to itself
    return Path(os.path.realpath(found)).parent


@dataclass(frozen=True, slots=True)
class Node:
    name: str
    amqp_port: int
    dist_port: int
    base: Path

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.amqp_port}/?reconnect_interval=0.5"


class Cluster:
    """Three clustered nodes; ``stop``/``start`` one, ``leader`` of a queue, ``close`` all."""

    def __init__(self, root: Path, size: int = 3) -> None:
        scripts = sbin()
        assert scripts is not None, "RabbitMQ is not installed"
        self.scripts = scripts
        self.root = root
        self.home = root / "home"
        self.home.mkdir(parents=True)
        cookie = self.home / ".erlang.cookie"
        cookie.write_text(uuid.uuid4().hex.upper())
        cookie.chmod(0o400)
        run = uuid.uuid4().hex[:6]
        self.nodes = [
            Node(f"whq{run}n{i}@localhost", free_port(), free_port(), root / f"n{i}")
            for i in range(1, size + 1)
        ]
        for node in self.nodes:
            self._configure(node)

    def _configure(self, node: Node) -> None:
        node.base.mkdir()
        (node.base / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = 127.0.0.1:{node.amqp_port}\n"
            "loopback_users = none\n"
            # a stopped peer must not make the others pause (the default, ignore)
            "cluster_partition_handling = ignore\n"
        )
        (node.base / "enabled_plugins").write_text("[].\n")  # no management listener
        (node.base / "rabbitmq-env.conf").write_text("")  # not the system's NODENAME

    def _env(self, node: Node) -> dict[str, str]:
        keep = ("PATH", "LANG", "LC_ALL")
        env = {k: v for k, v in os.environ.items() if k in keep}
        env.update(
            HOME=str(self.home),
            RABBITMQ_NODENAME=node.name,
            RABBITMQ_NODE_PORT=str(node.amqp_port),
            RABBITMQ_DIST_PORT=str(node.dist_port),
            RABBITMQ_MNESIA_BASE=str(node.base / "mnesia"),
            RABBITMQ_LOG_BASE=str(node.base / "log"),
            RABBITMQ_CONFIG_FILE=str(node.base / "rabbitmq.conf"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(node.base / "advanced.config"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(node.base / "enabled_plugins"),
            RABBITMQ_CONF_ENV_FILE=str(node.base / "rabbitmq-env.conf"),
            RABBITMQ_PID_FILE=str(node.base / "pid"),
            ERL_EPMD_ADDRESS="127.0.0.1",
        )
        return env

    def ctl(self, node: Node, *args: str, tool: str = "rabbitmqctl") -> str:
        """Run a CLI command against ``node``; raise with its output if it fails."""
        proc = subprocess.run(
            [str(self.scripts / tool), "-n", node.name, *args],
            env=self._env(node),
            capture_output=True,
            text=True,
            timeout=BOOT_TIMEOUT_S + 30,
            check=False,
        )
        if proc.returncode:
            raise AssertionError(
                f"{tool} {' '.join(args)} on {node.name}:\n{proc.stdout}{proc.stderr}"
            )
        return proc.stdout

    def boot(self, node: Node) -> None:
        """Start ``node`` detached (returns at once; ``await_startup`` waits for it)."""
        subprocess.run(
            [str(self.scripts / "rabbitmq-server"), "-detached"],
            env=self._env(node),
            check=True,
            timeout=30,
        )

    def start(self, node: Node) -> None:
        """Start a node (again) and wait until it serves."""
        self.boot(node)
        self.await_startup(node)

    def await_startup(self, node: Node) -> None:
        """``await_startup`` fails at once while the VM has not yet registered its name: ask
        again until it waits for real (a condition polled, bounded by BOOT_TIMEOUT_S)."""
        deadline = time.monotonic() + BOOT_TIMEOUT_S
        while True:
            try:
                self.ctl(node, "await_startup", "--timeout", str(BOOT_TIMEOUT_S))
                return
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def stop(self, node: Node) -> None:
        """Stop a node's Erlang VM, as a node that goes down."""
        self.ctl(node, "stop")

    def form(self) -> None:
        """Boot every node, then join the others to the first one."""
        for node in self.nodes:
            self.boot(node)
        for node in self.nodes:
            self.await_startup(node)
        first = self.nodes[0]
        for node in self.nodes[1:]:
            self.ctl(node, "stop_app")
            self.ctl(node, "join_cluster", first.name)
            self.ctl(node, "start_app")
        running = self.ctl(first, "cluster_status", "--formatter", "json")
        for node in self.nodes:
            assert node.name in running, running

    def leader(self, queue: str, via: Node, vhost: str = "/") -> Node:
        """The node leading the quorum queue ``queue`` (asked of the running node ``via``)."""
        listing = self.ctl(
            via, "list_queues", "-p", vhost, "name", "leader", "--quiet", "--no-table-headers"
        )
        for line in listing.splitlines():
            name, _, leader = line.partition("\t")
            if name == queue:
                return next(n for n in self.nodes if n.name == leader.strip())
        raise AssertionError(f"no quorum queue {queue!r} on {via.name}:\n{listing}")

    def close(self) -> None:
        """Stop every node; kill what is left of ours (by our node names only)."""
        for node in self.nodes:
            with contextlib.suppress(AssertionError, subprocess.SubprocessError):
                self.ctl(node, "stop")
        for pid in self.leftovers():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        # a VM's helpers (erl_child_setup, inet_gethost) exit a moment after it: wait for that
        deadline = time.monotonic() + 10
        while self.leftovers() and time.monotonic() < deadline:
            time.sleep(0.1)

    def leftovers(self) -> list[int]:
        """Processes still running as one of our nodes (RabbitMQ passes the node name to its
        VM in the environment, not on the command line)."""
        ours = {f"RABBITMQ_NODENAME={node.name}".encode() for node in self.nodes}
        found: list[int] = []
        me = os.getpid()
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit() or int(proc.name) == me:
                continue
            try:
                environ = set((proc / "environ").read_bytes().split(b"\0"))
            except OSError:
                continue
            if environ & ours:
                found.append(int(proc.name))
        return found
