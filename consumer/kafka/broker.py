"""A local single-node Apache Kafka broker (KRaft, combined broker+controller).

The jars come from Maven Central through ``deploy/kafka/pom.xml`` (the Kafka
version is pinned there) and are resolved once into :data:`JARS_CACHE`
(``~/.cache/botwatch/kafka-jars``), shared by every broker directory. Storage is
formatted on first start. The broker listens on loopback only.

State on disk, all under ``dir``::

    data/            log.dirs (formatted once)
    server.properties
    broker.pid       pid of the running broker, written by start()
    broker.log       the broker's own log
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

POM = Path(__file__).resolve().parents[2] / "deploy" / "kafka" / "pom.xml"
LOG4J = Path(__file__).resolve().parents[2] / "deploy" / "kafka" / "log4j2.yaml"
#: Where the broker's jars are resolved once and reused by every broker directory.
JARS_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "botwatch" / "kafka-jars"


class BrokerError(Exception):
    """The local broker cannot be started or stopped; the message says why."""


def _port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not a broker
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


@dataclass
class LocalBroker:
    """One broker process, identified by its data directory.

    Parameters
    ----------
    dir
        Directory for jars, data, configuration, pid and log.
    host, port
        Where clients connect (the PLAINTEXT listener).
    """

    dir: Path
    host: str = "127.0.0.1"
    port: int = 9092

    @classmethod
    def from_bootstrap(cls, dir: str | Path, bootstrap: str) -> "LocalBroker":
        host, _, port = bootstrap.split(",")[0].rpartition(":")
        if not host or not port.isdigit():
            raise BrokerError(f"--bootstrap {bootstrap!r}: expected host:port, e.g. 127.0.0.1:9092")
        return cls(Path(dir), host, int(port))

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.dir / "broker.pid"

    @property
    def log_file(self) -> Path:
        return self.dir / "broker.log"

    # ------------------------------------------------------------------ jars

    def jars(self) -> Path:
        """The broker's class path directory, resolved with Maven on first use."""
        jars = JARS_CACHE
        marker = jars / ".complete"
        if marker.exists() and marker.read_text() == POM.read_text():
            return jars
        mvn = shutil.which("mvn")
        if mvn is None:
            raise BrokerError("Maven (mvn) is needed once to fetch the Kafka broker's jars; install it (apt-get install maven)")
        if jars.exists():
            shutil.rmtree(jars)
        jars.mkdir(parents=True)
        print(f"botwatch: resolving the Kafka broker's jars into {jars} (once)", file=sys.stderr)
        result = subprocess.run(
            [mvn, "-q", "-B", "-f", str(POM), "dependency:copy-dependencies",
             f"-DoutputDirectory={jars}", "-DincludeScope=runtime"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        if result.returncode != 0:
            raise BrokerError(f"mvn could not resolve the broker's jars:\n{result.stdout[-3000:]}")
        marker.write_text(POM.read_text())
        return jars

    # --------------------------------------------------------------- process

    def running_pid(self) -> int | None:
        """Pid of our broker if it is running, else None."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        if _alive(pid) and "kafka.Kafka" in _cmdline(pid):
            return pid
        return None

    def _java(self) -> str:
        home = os.environ.get("JAVA_HOME")
        java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
        if not java or not Path(java).exists():
            raise BrokerError("Java 17 or newer is needed to run the Kafka broker; install it (apt-get install openjdk-17-jre-headless)")
        out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
        try:
            major = int(out.split('"')[1].split(".")[0])
        except (IndexError, ValueError):
            major = 0
        if major < 17:
            raise BrokerError(f"{java} is Java {major or '?'}; Kafka 4 needs Java 17 or newer (set JAVA_HOME)")
        return java

    def _write_properties(self, controller_port: int) -> Path:
        props = self.dir / "server.properties"
        props.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@{self.host}:{controller_port}",
                    f"listeners=PLAINTEXT://{self.host}:{self.port},CONTROLLER://{self.host}:{controller_port}",
                    f"advertised.listeners=PLAINTEXT://{self.host}:{self.port}",
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=PLAINTEXT",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    f"log.dirs={self.dir / 'data'}",
                    "num.partitions=1",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=6",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "transaction.state.log.num.partitions=6",
                    "group.initial.rebalance.delay.ms=0",
                    "auto.create.topics.enable=false",
                    # a single-node broker: let transactions time out quickly after a crash
                    "transaction.abort.timed.out.transaction.cleanup.interval.ms=5000",
                    "",
                ]
            )
        )
        return props

    def start(self, timeout: float = 90.0) -> bool:
        """Start the broker; False if ours was already running. Raises BrokerError."""
        if self.running_pid() is not None:
            return False
        if _port_open(self.host, self.port):
            raise BrokerError(
                f"port {self.bootstrap} is taken by another process, not by the broker in {self.dir}; "
                "stop it or choose another --bootstrap"
            )
        self.dir.mkdir(parents=True, exist_ok=True)
        java = self._java()
        classpath = str(self.jars() / "*")
        props = self._write_properties(free_port(self.host))
        if not (self.dir / "data" / "meta.properties").exists():
            fmt = subprocess.run(
                [java, "-cp", classpath, "kafka.tools.StorageTool", "format", f"--cluster-id={_cluster_id()}", "-c", str(props)],
                capture_output=True, text=True,
            )
            if fmt.returncode != 0:
                raise BrokerError(f"formatting {self.dir / 'data'} failed:\n{fmt.stdout}{fmt.stderr}")
        with open(self.log_file, "ab") as log:
            proc = subprocess.Popen(
                [java, "-Xms256m", "-Xmx1g", "-XX:+UseG1GC", f"-Dlog4j2.configurationFile={LOG4J}",
                 f"-Dkafka.logs.dir={self.dir}", "-cp", classpath, "kafka.Kafka", str(props)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # survives the shell that started it; stop() ends it
            )
        self.pid_file.write_text(str(proc.pid))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise BrokerError(f"the broker exited with code {proc.returncode}; see {self.log_file}")
            if self._answers():
                return True
            time.sleep(0.2)
        self.stop()
        raise BrokerError(f"the broker did not answer a metadata request within {timeout:.0f}s; see {self.log_file}")

    def _answers(self) -> bool:
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})
        try:
            return bool(admin.list_topics(timeout=1.0).brokers)
        except Exception:
            return False

    def stop(self, timeout: float = 60.0) -> bool:
        """Stop our broker cleanly (SIGTERM, then SIGKILL after ``timeout``); False if none ran."""
        pid = self.running_pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return True

    def status(self) -> str:
        pid = self.running_pid()
        if pid is None:
            return f"not running (data in {self.dir})"
        return f"running at {self.bootstrap}, pid {pid}, data in {self.dir}, log {self.log_file}"


def _cluster_id() -> str:
    """A random cluster id as Kafka writes them. One in 64 begins with "-", so it is passed as ``--cluster-id=``:
    after a separate ``-t`` the argument parser takes it for an option."""
    import base64

    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
