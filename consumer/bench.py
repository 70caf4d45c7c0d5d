"""``botwatch bench``: botwatch end to end on a real broker, beside a naive baseline, in one run.

What is measured, and how
-------------------------
The input is ``--events`` Twitter API v1.1 tweets (about 0.9 KB each) of the
synthetic generator's population of ``--accounts`` accounts, with its review
labels. It is generated once and cached as framed records in the system's
temporary directory (generation is slower than everything else here), then
preloaded into fresh topics of 6 partitions (names start with
``<tweets-topic>-bench-<run id>``) by an idempotent lz4 producer with large
batches. The broker is the one at ``--bootstrap`` if it answers, else a local
single-node broker started for the bench in a temporary directory and stopped
at the end; that directory is in memory (``/dev/shm``) where there is room, or
under ``--broker-dir`` (see :data:`MEMORY_DIR`).

On a machine with two or more cores, every consumer measured runs pinned to
the last core (``os.sched_setaffinity`` on the subprocess before it starts
its Kafka threads), and the bench's own broker is pinned to the other cores.
The bench process runs on the other cores too while throughput is measured,
so the consumer's core runs the consumer alone (plus whatever else the
machine runs); during the latency run its paced producer and flag reader may
run on either core (step 2).

1. **Throughput**, in the same run, of ``botwatch consume`` with exactly-once
   and with at-least-once delivery (each run with its own consumer group,
   state, training and flag topics over the same preloaded input), and of the
   naive baseline (``benchmarks/baseline.py``: per-message ``poll()``,
   ``json.loads``, botwatch's 37 features from ``river.stats`` objects and
   Python containers, ``predict_proba_one`` on every tweet, a ``produce`` per
   flag, no transactions), in ``--rounds`` rounds
   (3): each round runs the three once, one after the other, so that a slow
   spell of the machine falls on the three runs of one round rather than on
   one consumer. Each throughput figure is the median of its rounds' (of an
   even count, the lower middle; for the exactly-once cost, the higher), the
   ratio to the baseline the median of each round's own ratio, and the JSON
   lists every round's (``events_per_s_runs``, ...). Each consumer's
   ``botwatch_events_consumed_total`` for the tweets and the labels topic is
   scraped from its ``/metrics`` every 0.5 s. The window runs from the first
   sample that counts any event to the last sample before the count of all
   events (tweets and labels) stops growing; the rate is the tweets counted
   in it over its length. So the window leaves out start-up (imports, model
   restore, group join) and the tail (final commit, idle exit), and holds all
   the work on the input: most of the stream's labels fall after its last
   tweet in event time, and the work on them takes botwatch 1.5 to 2.1 s (when
   the window ended with the tweets, whether that work fell inside it
   depended on which tweet was processed last). The window is also cut at
   the sample where the tweet count reaches its total, to the sampling
   period: ``tweet_phase_events_per_s`` over ``tweet_phase_s``, then
   ``label_tail_s`` of work on labels alone. The baseline reads the whole
   input too (at about 10,000 tweets/s, about a minute), and its window is
   measured the same way: stopped after 20 s, as it was, it read the
   stream's first 190,000 tweets, where an account's first tweet (the
   dearest: its objects are made) is far more common than over the whole
   stream, and ran slower than over all of it.
2. **Event-to-flag latency at half load**: a fresh input topic pair, a paced
   producer sending the same stream's tweets (not its labels, see
   :func:`pace`) at half of botwatch's median rate for 20 s, botwatch started
   with ``--checkpoint-interval 0.05`` (flags become visible to
   ``read_committed`` readers only when their transaction commits, so the
   checkpoint interval is part of the latency) and the model the
   measured run ended with (a fresh model flags nobody): the bench learns that
   run's training log and hands the model over as a snapshot
   (``--snapshot-dir``), since a consumer learns an example only once its
   stream reaches the example's time, and the replay's start holds none. A
   ``read_committed`` reader takes each flag off ``bot-flags``; the latency of
   a review or block flag is the time it was read minus the time the tweet
   that made the account's count reach the flag's ``tweets_seen`` was handed
   to the producer (it is paced in steps of :data:`PACE_AHEAD`, and the flags
   are parsed after the run, to take little CPU). The producer and the reader
   are not pinned: the scheduler runs them where there is room. At half load
   the consumer leaves about half of its core idle while the broker's core is
   near its limit; pinned to the broker's core they took a sixth of it and
   the flags waited, pinned to the consumer's the consumer fell behind when
   the machine slowed. The producer is warmed first (connection, metadata
   and idempotence id, with one record to a topic of its own): a cold one held
   the first second's tweets back for 0.3 to 1.1 s, which is the bench's
   start-up, not botwatch's. ``clear`` flags (withdrawals) are left out. If
   botwatch has not drained its backlog 15 s after the producer stops, it is
   stopped (SIGTERM: it commits and closes); the flags it never made are
   missing, so the figures are then a lower bound (``latency_backlog_drained``).
   ``p50_latency_ms`` and ``p99_latency_ms`` (the floor) cover every flag;
   ``steady_p50_latency_ms`` and ``steady_p99_latency_ms`` leave out the
   tweets sent in the first 3 s, as the throughput windows leave out start-up.
3. **Bytes per tracked account**, in-process: the exactly-once run's
   changelog is restored the way the service restores its state
   (``restore_partitions``, ``Detector.install`` and the account-to-partition
   map) while ``tracemalloc`` traces; the memory still allocated at the end,
   divided by the accounts restored. That is the state botwatch held per
   account at the end of its run (dict entries, keys, state arrays). The
   model and one batch's buffers do not grow with accounts and are left out.
   (Feeding the decoded stream to a detector under ``tracemalloc`` instead
   would take minutes: tracing slows allocation-heavy code down 7-fold.)
4. **Restore**: 1,000,000 account-state records (real states from step 3,
   cycled, under distinct 19-digit account ids) produced to a compacted
   6-partition changelog; then ``consumer.recovery.restore_partitions`` over
   all 6 partitions, timed in this process, pinned to the consumer's core.

``--json`` prints one JSON object; otherwise a table. Progress goes to stderr.
"""

from __future__ import annotations

import contextlib
import gc
import math
import os
import re
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
import urllib.request
import uuid
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Iterator

import orjson

from consumer import config

REPO = Path(__file__).resolve().parents[1]
BASELINE_SCRIPT = REPO / "benchmarks" / "baseline.py"

PARTITIONS = 6
SEED = 1
BATCH_SIZE = 1000  # botwatch's default --batch-size: the bench measures what an operator runs
SAMPLE_INTERVAL = 0.5
IDLE_EXIT = 3.0
BASELINE_MAX_SECONDS = 300.0  # a guard only: the baseline reads the whole input (see the module doc)
LATENCY_SECONDS = 20.0
#: The latency run's --checkpoint-interval: what an operator who wants flags soon sets. At 0.05 s the loop starts
#: the next commit about as soon as the last returns. Against 0.1 s, in latency-only runs taking turns on one
#: broker, p99 over every flag fell from 190-302 ms (median 213) to 146-361 (median 156); at full load the
#: shorter interval costs about a fifth of the rate (README, Latency).
LATENCY_CHECKPOINT = 0.05
LATENCY_GRACE = 15.0  # seconds botwatch may take to drain a backlog after the paced producer stops
LATENCY_WARMUP = 3.0  # seconds of the paced run left out of the steady-state latency figures
RESTORE_ACCOUNTS = 1_000_000
RUN_TIMEOUT = 600.0
KIB = 1024

#: The floors of issues 8 and 5: (key, comparison, bound).
FLOORS = (
    ("events_per_s", ">=", 40_000.0),
    ("ratio", ">=", 3.0),
    ("p99_latency_ms", "<=", 250.0),
    ("bytes_per_account", "<=", float(KIB)),
    ("exactly_once_cost", "<=", 0.15),
    ("restore_seconds", "<=", 30.0),
)


class BenchError(Exception):
    """The bench cannot go on; the message says why."""


class Say:
    """Progress lines on stderr, stamped with the seconds since the bench started."""

    def __init__(self, on: bool):
        self.on = on
        self.started = time.monotonic()

    def __call__(self, message: str) -> None:
        if self.on:
            print(f"[bench {time.monotonic() - self.started:6.1f}s] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------- the input

_FRAME = struct.Struct("<BHId")  # kind, key length, value length, event time
_KINDS = ("tweets", "labels")


def cache_file(events: int, accounts: int) -> Path:
    # named after the generator's source too: a changed generator must not be benchmarked with an old stream
    import producers.generate as generate

    version = zlib.crc32(Path(generate.__file__).read_bytes())
    return (Path(tempfile.gettempdir()) / "botwatch-bench"
            / f"stream-{events}-{accounts}-seed{SEED}-v1-{version:08x}.bin")


def ensure_cache(events: int, accounts: int, say: Say) -> Path:
    """The generated stream, framed on disk; generated on first use (a temporary name, then renamed)."""
    from producers.generate import Generator

    path = cache_file(events, accounts)
    if path.exists():
        say(f"input: cached stream {path}")
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    say(f"input: generating {events:,} v1.1 tweets of {accounts:,} accounts into {path} (once) ...")
    partial = path.with_name(f".{os.getpid()}-{path.name}")
    tweets = 0
    with open(partial, "wb", buffering=1 << 20) as f:
        for r in Generator(accounts=accounts, tweets=events, seed=SEED).events():
            write_record(f, r)
            tweets += r.topic == "tweets"
            if r.topic == "tweets" and tweets % 100_000 == 0:
                say(f"input: {tweets:,} tweets generated")
    partial.rename(path)
    return path


def write_record(f, r) -> None:
    """Append one :class:`producers.records.Record` to an open cache file (read back by :func:`read_stream`)."""
    f.write(_FRAME.pack(_KINDS.index(r.topic), len(r.key), len(r.value), r.ts))
    f.write(r.key)
    f.write(r.value)


def read_stream(path: Path) -> Iterator:
    """The cached records, in stream order, as :class:`producers.records.Record`."""
    from producers.records import Record

    with open(path, "rb", buffering=1 << 20) as f:
        while header := f.read(_FRAME.size):
            kind, key_len, value_len, ts = _FRAME.unpack(header)
            yield Record(_KINDS[kind], f.read(key_len), f.read(value_len), ts)


# ------------------------------------------------------------------ the broker

def _answers(client_config: dict) -> bool:
    from confluent_kafka.admin import AdminClient

    host, _, port = client_config["bootstrap.servers"].split(",")[0].rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=1.0).close()
    except (OSError, ValueError):
        return False
    try:
        return bool(AdminClient({**client_config, "log_level": 0}).list_topics(timeout=5).brokers)
    except Exception:
        return False


#: Where the bench's own broker keeps its logs unless ``--broker-dir`` says: in memory, where there is room. Its
#: topics are made for the run and deleted with it, and on the development machine's virtual disk the first
#: writes to a run's fresh partition files stalled the broker for tens of milliseconds each: the markers of the
#: latency run's first transactions (one write to each of 14 partitions) took 0.3 to 1.0 s, against 16 ms at most
#: in memory (README, Performance). That is the disk under a throwaway broker, not what the bench measures.
MEMORY_DIR = Path("/dev/shm")
MEMORY_ROOM = 4 * 2**30  # four times what a bench's logs reached at most (1.1 GiB, sampled every 2 s)


def broker_parent(requested: str = "") -> str | None:
    """The directory the bench's own broker's temporary directory goes in: ``requested`` if given, else
    :data:`MEMORY_DIR` where it has :data:`MEMORY_ROOM` free, else None (the system's temporary directory)."""
    if requested:
        return requested
    try:
        free = os.statvfs(MEMORY_DIR)
    except OSError:
        return None
    return str(MEMORY_DIR) if free.f_bavail * free.f_frsize >= MEMORY_ROOM else None


@contextlib.contextmanager
def bench_broker(client_config: dict, say: Say, parent: str = ""):
    """(bootstrap, description, pid of a broker we started or None): the given broker, or a fresh local one
    whose logs go under :func:`broker_parent`."""
    from consumer.kafka.broker import LocalBroker, free_port

    if _answers(client_config):
        yield client_config["bootstrap.servers"], f"existing broker at {client_config['bootstrap.servers']}", None
        return
    where = broker_parent(parent)
    if where is not None and not Path(where).is_dir():
        raise BenchError(f"--broker-dir {where}: no such directory")
    with tempfile.TemporaryDirectory(prefix="botwatch-bench-kafka-", dir=where) as tmp:
        broker = LocalBroker(Path(tmp), "127.0.0.1", free_port())
        say(f"broker: nothing answers at {client_config['bootstrap.servers']}; starting a local broker at "
            f"{broker.bootstrap} in {tmp}")
        broker.start()
        try:
            yield (broker.bootstrap, f"local broker started for the bench at {broker.bootstrap}, its logs in {tmp}",
                   broker.running_pid())
        finally:
            say("broker: stopping the bench's broker")
            broker.stop()


# --------------------------------------------------------------------- pinning

def cpu_plan() -> tuple[int | None, set[int]]:
    """(the consumer's core, the other cores); no pinning on a single core."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, set(cpus)
    return cpus[-1], set(cpus[:-1])


def pin_process(pid: int, cpus: set[int]) -> None:
    """Pin every thread of ``pid`` (a JVM has dozens already running)."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(int(tid), cpus)


# ---------------------------------------------------------------------- topics

@dataclass(frozen=True)
class Topics:
    tweets: str
    labels: str
    flags: str
    dlq: str
    state: str
    training: str
    group: str

    def specs(self, names: set[str]):
        """The :func:`consumer.kafka.topics.topic_specs` of those of our topics named in ``names``."""
        from consumer.kafka.topics import topic_specs

        ns = SimpleNamespace(partitions=PARTITIONS, tweets_topic=self.tweets, labels_topic=self.labels,
                             flags_topic=self.flags, dlq_topic=self.dlq, state_topic=self.state,
                             training_topic=self.training)
        return [s for s in topic_specs(ns) if s.topic in names]


def topics_for(prefix: str, tag: str, **shared: str) -> Topics:
    """One consumer run's topics: its own outputs, state and training log; inputs by default shared."""
    names = {"tweets": f"{prefix}-tweets", "labels": f"{prefix}-labels", "flags": f"{prefix}-{tag}-flags",
             "dlq": f"{prefix}-{tag}-dlq", "state": f"{prefix}-{tag}-state", "training": f"{prefix}-{tag}-training",
             "group": f"{prefix}-{tag}"}
    return Topics(**{**names, **shared})


def create(client_config: dict, specs) -> None:
    from consumer.kafka.topics import create_topics

    create_topics(client_config, list(specs))


def delete_topics(client_config: dict, prefix: str) -> None:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(client_config)
    names = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix)]
    if not names:
        return
    for future in admin.delete_topics(names, operation_timeout=30).values():
        with contextlib.suppress(Exception):  # best effort: a topic left behind is only disk space
            future.result(30)


# --------------------------------------------------------------------- preload

@dataclass
class Stream:
    tweets: int = 0
    labels: int = 0
    tweet_bytes: int = 0
    accounts: set = field(default_factory=set)


def preload(client_config: dict, path: Path, t: Topics, say: Say) -> Stream:
    """The cached stream into the input topics, every record acknowledged."""
    from producers.kafka_sink import KafkaSink

    stream = Stream()
    started = time.monotonic()
    with KafkaSink(client_config, {"tweets": t.tweets, "labels": t.labels}) as sink:
        for r in read_stream(path):
            sink.send(r)
            if r.topic == "tweets":
                stream.tweets += 1
                stream.tweet_bytes += len(r.value)
                stream.accounts.add(r.key)
                if stream.tweets % 100_000 == 0:
                    say(f"preload: {stream.tweets:,} tweets sent")
            else:
                stream.labels += 1
    say(f"preload: {stream.tweets:,} tweets ({stream.tweet_bytes / stream.tweets:,.0f} B mean) of "
        f"{len(stream.accounts):,} accounts and {stream.labels:,} labels in {time.monotonic() - started:.1f}s")
    return stream


# ------------------------------------------------------------ watching a run

@dataclass
class Sample:
    t: float  # monotonic seconds
    events: float  # tweets counted by the consumer
    cpu: float  # process CPU seconds
    work: float  # tweets and labels counted: the measured window runs while this grows


@dataclass
class Throughput:
    events_per_s: float
    window_s: float
    window_events: float
    total_events: float
    cpu_share: float  # CPU seconds per second over the window: ~1.0 means the pinned core was the limit
    # the window cut where the tweet count reached its total (to a sample: SAMPLE_INTERVAL): the tweet phase,
    # then the tail of work on labels after the last tweet (learning, rescans), which the rate above includes
    tweet_phase_s: float
    tweet_phase_events_per_s: float
    tail_s: float


def metric(text: str, name: str) -> float | None:
    """The value of the sample ``name`` (with its labels) in a Prometheus text exposition."""
    prefix = name + " "
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line[len(prefix):].split()[0])
    return None


def histogram_quantile(text: str, name: str, q: float) -> float | None:
    """The upper bound of the bucket holding quantile ``q`` of histogram ``name`` (seconds), or None."""
    buckets = []
    for m in re.finditer(rf'^{name}_bucket{{le="([^"]+)"}} (\S+)$', text, re.M):
        buckets.append((float(m.group(1)), float(m.group(2))))
    if not buckets or buckets[-1][1] == 0:
        return None
    total = buckets[-1][1]
    return next(le for le, count in buckets if count >= q * total)


def throughput(samples: list[Sample]) -> Throughput:
    """Tweets per second over the samples taken while the count of all work (tweets and labels) was growing
    (see the module doc)."""
    if not samples or samples[-1].events <= 0:
        raise BenchError("the consumer counted no events")
    final = samples[-1].work
    growing = [s for s in samples if 0 < s.work < final]
    if len(growing) >= 2 and growing[-1].t - growing[0].t >= 1.0 and growing[-1].events > growing[0].events:
        a, b = growing[0], growing[-1]
    else:  # too short a run for an interior window (or one in which a stalled count did not grow, as when the
        # consumer's core is taken by others): bound it by the samples around it (an underestimate)
        a = next((s for s in reversed(samples) if s.work == 0), samples[0])
        a = Sample(a.t, 0.0, a.cpu, 0.0)
        b = next(s for s in samples if s.work == final)
    dt = max(b.t - a.t, 1e-9)
    done = next((s for s in samples if s.t >= a.t and s.events == samples[-1].events), b)  # the last tweet counted
    phase = min(max(done.t - a.t, 1e-9), dt)
    return Throughput((b.events - a.events) / dt, dt, b.events - a.events, samples[-1].events, (b.cpu - a.cpu) / dt,
                      phase, (min(done.events, b.events) - a.events) / phase, dt - phase)


class Watcher(threading.Thread):
    """Scrapes a subprocess's /metrics every :data:`SAMPLE_INTERVAL` until the process exits."""

    def __init__(self, proc: subprocess.Popen, port: int, counters: tuple[str, ...]):
        super().__init__(name="bench-watcher", daemon=True)
        self.proc, self.port, self.counters = proc, port, counters
        self.samples: list[Sample] = []
        self.last_text = ""
        self.peak_rss = 0

    def run(self) -> None:
        deadline = time.monotonic() + RUN_TIMEOUT
        while self.proc.poll() is None and time.monotonic() < deadline:
            text = scrape(self.port)
            if text is not None:
                self.last_text = text
                counts = [metric(text, c) or 0.0 for c in self.counters]  # tweets first
                self.samples.append(Sample(time.monotonic(), counts[0], metric(text, "process_cpu_seconds_total") or 0.0,
                                           sum(counts)))
                self.peak_rss = max(self.peak_rss, vm_rss(self.proc.pid))
            time.sleep(SAMPLE_INTERVAL)  # the sampling period, not synchronisation
        if self.proc.poll() is None:
            self.proc.kill()


def scrape(port: int, path: str = "/metrics") -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
            return r.read().decode()
    except OSError:
        return None


def vm_rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def start(cmd: list[str], env: dict, log: Path, cpu: int | None) -> subprocess.Popen:
    """Start ``cmd`` with output to ``log``, pinned to ``cpu`` before it starts any thread of its own."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT)
    if cpu is not None:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(proc.pid, {cpu})
    return proc


def metrics_port(proc: subprocess.Popen, log: Path, timeout: float = 120.0) -> int:
    """The port the process logged (``metrics on http://ADDR:PORT/metrics``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = re.search(rb"metrics on http://[^:/]+:(\d+)/metrics", log.read_bytes())
        if m:
            return int(m.group(1))
        if proc.poll() is not None:
            raise BenchError(f"{' '.join(map(str, proc.args[1:4]))} exited with code {proc.returncode}:\n{tail(log)}")
        time.sleep(0.05)  # waiting for the process to start, not synchronisation
    proc.kill()
    raise BenchError(f"no metrics endpoint after {timeout:.0f}s:\n{tail(log)}")


def tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def finish(proc: subprocess.Popen, watcher: Watcher, log: Path) -> None:
    watcher.join(RUN_TIMEOUT + 10)
    code = proc.wait(30)
    if code != 0:
        raise BenchError(f"{' '.join(map(str, proc.args[1:4]))} exited with code {code}:\n{tail(log)}")


# --------------------------------------------------------------- botwatch runs

def _env_value(value) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def consumer_env(settings, bootstrap: str, t: Topics, delivery: str, checkpoint: float) -> dict:
    """The environment of a ``botwatch consume`` run: the bench's detection options, this run's topics."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOTWATCH_")}
    consume_options = {o.name: o for o in config.options_for("consume")}
    for name, value in settings.values.items():
        if name in consume_options:
            env[consume_options[name].env] = _env_value(value)
    for key, value in settings.kafka.items():  # pass-through client settings (security)
        env["BOTWATCH_KAFKA_" + key.upper().replace(".", "_")] = value
    env.update({
        "BOTWATCH_BOOTSTRAP": bootstrap, "BOTWATCH_TWEETS_TOPIC": t.tweets, "BOTWATCH_LABELS_TOPIC": t.labels,
        "BOTWATCH_FLAGS_TOPIC": t.flags, "BOTWATCH_DLQ_TOPIC": t.dlq, "BOTWATCH_STATE_TOPIC": t.state,
        "BOTWATCH_TRAINING_TOPIC": t.training, "BOTWATCH_GROUP": t.group, "BOTWATCH_TRANSACTIONAL_ID": t.group,
        "BOTWATCH_DELIVERY": delivery, "BOTWATCH_CHECKPOINT_INTERVAL": str(checkpoint),
        "BOTWATCH_BATCH_SIZE": str(BATCH_SIZE), "BOTWATCH_EXIT_WHEN_IDLE": str(IDLE_EXIT),
        "BOTWATCH_METRICS_PORT": "0", "BOTWATCH_OFFSET_RESET": "earliest", "BOTWATCH_PRINT_FLAGS": "false",
        "BOTWATCH_SNAPSHOT_DIR": "",
    })
    return env


CONSUME = [sys.executable, "-m", "consumer.cli", "consume"]
TAGS = {"exactly-once": "eos", "at-least-once": "alo"}  # topic and group name part of each run


def counters_of(t: Topics, labels: bool = True) -> tuple[str, ...]:
    """The consumed-events counters of a run's inputs, tweets first: tweets and labels, or tweets only."""
    return tuple(f'botwatch_events_consumed_total{{topic="{topic}"}}'
                 for topic in ((t.tweets, t.labels) if labels else (t.tweets,)))


@dataclass
class Run:
    throughput: Throughput
    peak_rss: int  # bytes, the consumer's largest VmRSS seen


def measure_botwatch(ctx: "Context", t: Topics, delivery: str) -> Run:
    """One ``botwatch consume`` over the preloaded input, to the end of it."""
    create(ctx.client, t.specs({t.flags, t.dlq, t.state, t.training}))
    log = ctx.tmp / f"{t.group}.log"
    proc = start(CONSUME, consumer_env(ctx.settings, ctx.bootstrap, t, delivery, 1.0), log, ctx.cpu)
    watcher = Watcher(proc, metrics_port(proc, log), counters_of(t))
    watcher.start()
    finish(proc, watcher, log)
    tp = throughput(watcher.samples)
    ctx.say(f"botwatch {delivery}: {tp.events_per_s:,.0f} events/s over {tp.window_s:.1f}s "
            f"({tp.window_events:,.0f} of {tp.total_events:,.0f} tweets), CPU {tp.cpu_share:.0%} of one core; "
            f"the tweets at {tp.tweet_phase_events_per_s:,.0f}/s for {tp.tweet_phase_s:.1f}s, then {tp.tail_s:.1f}s "
            f"of label work")
    return Run(tp, watcher.peak_rss)


def measure_baseline(ctx: "Context", t: Topics) -> Run:
    """The naive consumer over the same input, all of it (stopped after :data:`BASELINE_MAX_SECONDS` at most)."""
    create(ctx.client, t.specs({t.flags}))
    log = ctx.tmp / f"{t.group}.log"
    cmd = [sys.executable, str(BASELINE_SCRIPT), "--bootstrap", ctx.bootstrap, "--tweets-topic", t.tweets,
           "--labels-topic", t.labels, "--flags-topic", t.flags, "--group", t.group,
           "--threshold", str(ctx.settings.review_threshold), "--max-seconds", str(BASELINE_MAX_SECONDS),
           "--exit-when-idle", str(IDLE_EXIT)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOTWATCH_")}
    proc = start(cmd, env, log, ctx.cpu)
    watcher = Watcher(proc, metrics_port(proc, log), counters_of(t))
    watcher.start()
    finish(proc, watcher, log)
    tp = throughput(watcher.samples)
    ctx.say(f"baseline: {tp.events_per_s:,.0f} events/s over {tp.window_s:.1f}s, CPU {tp.cpu_share:.0%} of one core")
    return Run(tp, watcher.peak_rss)


# ------------------------------------------------------------------- latency

class FlagReader(threading.Thread):
    """Reads every committed flag as soon as it is visible; notes (wall time read, flag)."""

    def __init__(self, client_config: dict, topic: str):
        from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

        super().__init__(name="bench-flag-reader", daemon=True)
        self.consumer = Consumer({**client_config, "group.id": f"bench-reader-{uuid.uuid4().hex[:8]}",
                                  "enable.auto.commit": False, "isolation.level": "read_committed",
                                  # a long poll: the broker answers as soon as a commit makes flags readable,
                                  # and a short one only spent the CPU the consumer and the broker wait for
                                  "fetch.wait.max.ms": 100, "fetch.queue.backoff.ms": 1})
        # assign, not subscribe: no group join to wait for
        self.consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
        self.read: list[tuple[float, bytes]] = []  # parsed after the run: see flags
        self.stopping = False
        self.last_read = time.monotonic()

    def run(self) -> None:
        try:
            while not self.stopping:
                msgs = self.consumer.consume(1000, 0.02)
                now = time.time()
                for m in msgs:
                    if m.error() is None:
                        self.read.append((now, m.value()))
                        self.last_read = time.monotonic()
        finally:
            self.consumer.close()

    @property
    def flags(self) -> list[tuple[float, dict]]:
        """(wall time read, flag) of every flag read. Parsed once the run is over, not as read: this thread shares
        the cores with the consumer and the broker, and a start-up's thousands of flags a second took CPU from
        the work they wait for."""
        return [(at, orjson.loads(value)) for at, value in self.read]


@dataclass
class Paced:
    produced: dict[str, list[float]]  # account id -> wall time each of its tweets was handed to the producer
    sent: int
    seconds: float
    progress: list[tuple[float, int]]  # (monotonic time, tweets sent by then)
    started_at: float = 0.0  # wall time the first tweet was sent

    def sent_by(self, t: float) -> int:
        return max((n for when, n in self.progress if when <= t), default=0)


#: How far ahead of its schedule the paced producer may get before it sleeps. The bench shares the cores with
#: what it measures, and what CPU it takes the flags wait for: at 2 ms the loop woke 500 times a second at
#: 20,000 tweets/s. With 10 ms, the accounts' lists made after the run and the flags parsed after it
#: (FlagReader.flags), the bench's share of a core fell from 0.25-0.28 to 0.16-0.17. The tweets of 10 ms go
#: out together, each stamped when handed to the producer (whose linger.ms of 5 batches them anyway).
PACE_AHEAD = 0.01


def warm_producer(ctx: "Context", t: Topics):
    """A producer that has its connection, the input topics' metadata and its idempotence id already.

    A fresh producer gets those with its first records: measured here, tweets handed to a cold producer in
    its first second reached a consumer 0.3 to 1.1 s later, a warm one's 40 to 130 ms. That is the bench's
    start-up, not botwatch's latency, so one record goes to a topic of its own first and is waited for."""
    from confluent_kafka import Producer
    from confluent_kafka.admin import NewTopic

    producer = Producer({**ctx.client, "linger.ms": 5, "compression.type": "lz4", "enable.idempotence": True,
                         "queue.buffering.max.messages": 1_000_000})
    warmup = f"{t.tweets}-warmup"
    create(ctx.client, [NewTopic(warmup, 1, 1)])
    for topic in (t.tweets, t.labels):
        producer.list_topics(topic, timeout=30)
    producer.produce(warmup, b"warm-up")
    if producer.flush(30):
        raise BenchError("the paced producer could not deliver its warm-up record")
    return producer


def first_tweets(path: Path, tweets: int) -> list[tuple[bytes, bytes]]:
    """The cached stream's first ``tweets`` tweets, as (value, key)."""
    records = []
    for r in read_stream(path):
        if r.topic == "tweets":
            if len(records) == tweets:
                break
            records.append((r.value, r.key))
    return records


def pace(ctx: "Context", t: Topics, rate: float, seconds: float) -> Paced:
    """Send the cached stream's tweets to ``t`` at ``rate`` tweets/s for ``seconds`` (or until they run out).

    Its labels are left out: learning them makes the model score every account again each time its examples
    reach a power of two, and the flags of such a rescan were caused by no tweet (they were counted from the
    account's last tweet: seconds, when a fast run's half rate reached the stream's end, where its labels lie).
    The tweets are read from the cache before the clock starts: read while sending, they took CPU from the
    consumer and the broker, and so from the latency measured."""
    tweets = first_tweets(ctx.path, math.ceil(rate * seconds) + 1)
    producer = warm_producer(ctx, t)
    paced = Paced({}, 0, 0.0, [], started_at=time.time())
    keys, sent_at = [], []  # of each tweet sent: the accounts' lists are made after the run (see PACE_AHEAD)
    started = time.monotonic()
    for value, key in tweets:
        now = time.monotonic()
        if now - started >= seconds:
            break
        due = started + len(sent_at) / rate
        if due > now + PACE_AHEAD:
            time.sleep(due - now)  # pacing to the rate, not synchronisation
        producer.produce(t.tweets, value, key)
        sent_at.append(time.time())
        keys.append(key)
        if len(sent_at) % 500 == 0:
            producer.poll(0)
            paced.progress.append((time.monotonic(), len(sent_at)))
    paced.seconds = time.monotonic() - started
    paced.sent = len(sent_at)
    paced.progress.append((time.monotonic(), paced.sent))
    for key, at in zip(keys, sent_at):
        paced.produced.setdefault(key.decode(), []).append(at)
    if producer.flush(60):
        raise BenchError("the paced producer could not deliver its tweets")
    return paced


def stop_after(proc: subprocess.Popen, seconds: float) -> bool:
    """Let ``proc`` exit by itself within ``seconds``, else SIGTERM it (it commits and closes); whether it did."""
    deadline = time.monotonic() + seconds
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)  # waiting for the idle exit, not synchronisation
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        return False
    return True


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def warm_snapshot(ctx: "Context", training_topic: str, directory: Path) -> str:
    """A model snapshot of the run just measured: its training log learned to the end, written to ``directory``.

    The latency run replays the stream from its start, where it holds no labels, and a detector learns an
    example only once the stream reaches the example's time; fed only the log, its model would stay empty
    through the whole paced run and flag nobody. Restored from this snapshot it starts with the model the
    measured run ended with. Returns that model's version."""
    from consumer.detector import build_detector
    from consumer.recovery import TrainingLog
    from consumer.snapshot import snapshot_path, write_snapshot

    detector = build_detector(ctx.settings)
    log = TrainingLog(ctx.client, training_topic, incarnation="bench")
    try:
        log.restore(detector, "", None)
    finally:
        log.close()
    if detector._unlearned:
        detector.catch_up(math.nextafter(max(ts for ts, *_ in detector._unlearned), math.inf))
    directory.mkdir(parents=True, exist_ok=True)
    write_snapshot(snapshot_path(directory, log.position - 1), {"detector": detector.model_state(), "clocks": log.clocks},
                   model_version=detector.model.version, kind=detector.model.kind, training_offset=log.position - 1)
    return detector.model.version


def measure_latency(ctx: "Context", warm: Topics, rate: float, delivery: str) -> dict:
    """Event-to-flag latency at ``rate`` tweets/s (see the module doc)."""
    t = topics_for(ctx.prefix + "-lat", "latency", training=warm.training)  # fresh input, warm model
    create(ctx.client, t.specs({t.tweets, t.labels, t.flags, t.dlq, t.state}))
    snapshots = ctx.tmp / "latency-snapshots"
    version = warm_snapshot(ctx, warm.training, snapshots)
    ctx.say(f"latency: model {version}, learned from the measured run's training log, as a snapshot")
    log = ctx.tmp / f"{t.group}.log"
    env = consumer_env(ctx.settings, ctx.bootstrap, t, delivery, LATENCY_CHECKPOINT)
    env["BOTWATCH_SNAPSHOT_DIR"] = str(snapshots)
    proc = start(CONSUME, env, log, ctx.cpu)
    port = metrics_port(proc, log)
    deadline = time.monotonic() + 120
    while scrape(port, "/readyz") is None:  # partitions assigned and the model restored
        if proc.poll() is not None or time.monotonic() > deadline:
            raise BenchError(f"botwatch did not get ready for the latency run:\n{tail(log)}")
        time.sleep(0.1)  # waiting for start-up, not synchronisation
    watcher = Watcher(proc, port, counters_of(t, labels=False))
    ctx.say(f"latency: sending tweets at {rate:,.0f}/s for {LATENCY_SECONDS:.0f}s "
            f"(checkpoint interval {LATENCY_CHECKPOINT}s)")
    # The paced producer and the flag reader (about a sixth of a core) go wherever the scheduler finds room:
    # pinned to either core, they made that core the queue (see the module doc, step 2).
    with ctx.on_cores(ctx.others | {ctx.cpu}):
        reader = FlagReader(ctx.client, t.flags)
        watcher.start()
        reader.start()
        paced = pace(ctx, t, rate, LATENCY_SECONDS)
    kept_up = stop_after(proc, LATENCY_GRACE + IDLE_EXIT)
    finish(proc, watcher, log)
    while time.monotonic() - reader.last_read < 1.0:  # every flag is committed by now: drain what is in flight
        time.sleep(0.1)
    reader.stopping = True
    reader.join(10)

    latencies, steady = [], []  # steady: the flags of tweets sent after the first LATENCY_WARMUP seconds
    by_second: dict[int, list[float]] = {}  # by the second of the run their tweet was sent in
    for read_at, flag in reader.flags:
        times = paced.produced.get(flag["account_id"])
        if flag["action"] != "clear" and times and 1 <= flag["tweets_seen"] <= len(times):
            sent_at = times[flag["tweets_seen"] - 1]
            latencies.append(read_at - sent_at)
            by_second.setdefault(int(sent_at - paced.started_at), []).append(read_at - sent_at)
            if sent_at >= paced.started_at + LATENCY_WARMUP:
                steady.append(read_at - sent_at)
    if not latencies:
        raise BenchError(f"no review or block flag in the latency run ({len(reader.read)} flags in all)")
    # how far the consumer fell behind the producer: a backlog means the latency is queueing, not processing
    backlog = max((paced.sent_by(s.t) - s.events for s in watcher.samples), default=0)
    service_p99 = histogram_quantile(watcher.last_text, "botwatch_event_to_flag_latency_seconds", 0.99)
    result = {"rate": paced.sent / paced.seconds, "tweets": paced.sent, "flags": len(latencies),
              "p50_ms": 1000 * percentile(latencies, 0.5), "p99_ms": 1000 * percentile(latencies, 0.99),
              "steady_p50_ms": 1000 * percentile(steady, 0.5) if steady else None,
              "steady_p99_ms": 1000 * percentile(steady, 0.99) if steady else None,
              "max_ms": 1000 * max(latencies), "max_backlog": max(backlog, 0), "drained": kept_up,
              "consumer_events_per_s": throughput(watcher.samples).events_per_s,
              "service_p99_ms_bucket": None if service_p99 is None else 1000 * service_p99}
    ctx.say(f"latency: {len(latencies):,} flags, p50 {result['p50_ms']:.0f} ms, p99 {result['p99_ms']:.0f} ms "
            f"at {result['rate']:,.0f} tweets/s; consumer {result['consumer_events_per_s']:,.0f} events/s, "
            f"backlog at most {result['max_backlog']:,.0f} tweets")
    if steady:
        ctx.say(f"latency after the first {LATENCY_WARMUP:.0f}s: {len(steady):,} flags, "
                f"p50 {result['steady_p50_ms']:.0f} ms, p99 {result['steady_p99_ms']:.0f} ms")
    ctx.say("latency by the second the tweet was sent in (flags, p50 / p99 ms): " + ", ".join(
        f"{second}s {len(v):,} {1000 * percentile(v, 0.5):.0f}/{1000 * percentile(v, 0.99):.0f}"
        for second, v in sorted(by_second.items())))
    return result


# -------------------------------------------------------------------- memory

def measure_memory(ctx: "Context", state_topic: str):
    """(bytes per tracked account, accounts, their states): the state botwatch held at the end of a run,
    rebuilt from that run's changelog the way the service rebuilds it, under ``tracemalloc``."""
    from consumer.detector import build_detector
    from consumer.recovery import restore_partitions

    detector = build_detector(ctx.settings)
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        partition_of: dict[str, int] = {}  # the service keeps this beside the detector: account -> input partition
        states = restore_partitions(ctx.client, state_topic, list(range(PARTITIONS)), timeout=600)
        for partition, restored in states.items():  # as Service._restore does
            for account_id in restored.accounts:
                partition_of[account_id] = partition
            detector.install(restored.accounts, restored.dirty, restored.stream_time, restored.pending_labels)
        del states, restored
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    accounts = len(detector.accounts)
    if not accounts:
        raise BenchError(f"the changelog {state_topic} holds no account")
    ctx.say(f"memory: {retained / accounts:,.0f} B per account ({accounts:,} accounts, tracemalloc)")
    return retained / accounts, accounts, list(detector.accounts.values())


# ------------------------------------------------------------------- restore

def account_key(k: int) -> bytes:
    # a recent account's id: 19 digits, the longest Twitter hands out
    return str(1_600_000_000_000_000_000 + k * 7919).encode()


def measure_restore(ctx: "Context", templates: list[bytes], n: int) -> dict:
    """Write ``n`` account states to a fresh compacted changelog, then time restoring all its partitions."""
    from confluent_kafka import Producer

    from consumer.recovery import restore_partitions

    t = topics_for(ctx.prefix, "restore")
    create(ctx.client, t.specs({t.state}))
    producer = Producer({**ctx.client, "enable.idempotence": True, "linger.ms": 50, "batch.size": 1 << 20,
                         "compression.type": "lz4", "queue.buffering.max.messages": 1_000_000,
                         "queue.buffering.max.kbytes": 1 << 20})
    started = time.monotonic()
    for k in range(n):
        while True:
            try:
                producer.produce(t.state, templates[k % len(templates)], account_key(k))
                break
            except BufferError:
                producer.poll(0.05)
        if k % 10_000 == 0:
            producer.poll(0)
    if producer.flush(300):
        raise BenchError("the changelog records were not all delivered")
    ctx.say(f"restore: {n:,} account states ({len(templates[0])} B each) written in "
            f"{time.monotonic() - started:.1f}s; restoring {PARTITIONS} partitions ...")
    with ctx.on_cores({ctx.cpu}):
        started = time.perf_counter()
        states = restore_partitions(ctx.client, t.state, list(range(PARTITIONS)), timeout=600)
        seconds = time.perf_counter() - started
    restored = sum(len(s.accounts) for s in states.values())
    del states
    gc.collect()
    ctx.say(f"restore: {restored:,} accounts in {seconds:.1f}s ({restored / seconds:,.0f} accounts/s)")
    return {"accounts": restored, "seconds": seconds, "accounts_per_s": restored / seconds}


# ---------------------------------------------------------------------- the run

@dataclass
class Context:
    settings: object
    say: Say
    client: dict
    bootstrap: str
    path: Path
    tmp: Path
    prefix: str
    cpu: int | None
    others: set[int]

    @contextlib.contextmanager
    def on_cores(self, cpus: set):
        """This thread, and the threads it starts meanwhile, on ``cpus`` (left as it is on a single core)."""
        before = os.sched_getaffinity(0)
        if self.cpu is not None:
            os.sched_setaffinity(0, cpus)
        try:
            yield
        finally:
            os.sched_setaffinity(0, before)


def bench(settings, say: Say) -> dict:
    path = ensure_cache(settings.events, settings.accounts, say)
    cpu, others = cpu_plan()
    run_id = uuid.uuid4().hex[:8]
    prefix = f"{settings.tweets_topic}-bench-{run_id}"
    client = settings.client_config()
    with bench_broker(client, say, settings.broker_dir) as (bootstrap, broker_note, broker_pid), \
            tempfile.TemporaryDirectory(prefix="botwatch-bench-") as tmp:
        client = {**client, "bootstrap.servers": bootstrap}
        ctx = Context(settings, say, client, bootstrap, path, Path(tmp), prefix, cpu, others)
        if broker_pid is not None and cpu is not None:
            pin_process(broker_pid, others)
        main = topics_for(prefix, "main")
        create(client, main.specs({main.tweets, main.labels}))
        stream = preload(client, path, main, say)
        try:
            return measure_all(ctx, stream, broker_note)
        finally:
            if broker_pid is None:  # someone else's broker: leave it as we found it
                delete_topics(client, prefix)


def round_tag(tag: str, k: int) -> str:
    """The topic and group name part of round ``k``'s run (the first round's is the tag itself)."""
    return tag if k == 0 else f"{tag}{k + 1}"


def median_run(runs: list[Run]) -> Run:
    """The run whose rate is the median (of an even count, the lower of the two in the middle)."""
    return sorted(runs, key=lambda r: r.throughput.events_per_s)[(len(runs) - 1) // 2]


def measure_all(ctx: Context, stream: Stream, broker_note: str) -> dict:
    settings, say = ctx.settings, ctx.say
    affinity = os.sched_getaffinity(0)
    if ctx.cpu is not None:
        os.sched_setaffinity(0, ctx.others)  # keep the harness off the consumer's core
    try:
        # in rounds, each consumer once a round: a slow spell of the machine falls on one round's runs of all three
        deliveries = (settings.delivery, *sorted({"exactly-once", "at-least-once"} - {settings.delivery}))
        runs: dict[str, list[Run]] = {delivery: [] for delivery in deliveries}
        baselines: list[Run] = []
        for k in range(settings.rounds):
            of = f" (round {k + 1} of {settings.rounds})" if settings.rounds > 1 else ""
            for delivery in deliveries:
                say(f"botwatch {delivery}{of}: consuming {stream.tweets:,} tweets ...")
                runs[delivery].append(measure_botwatch(ctx, topics_for(ctx.prefix, round_tag(TAGS[delivery], k)),
                                                       delivery))
            say(f"baseline{of}: consuming {stream.tweets:,} tweets ...")
            baselines.append(measure_baseline(ctx, topics_for(ctx.prefix, round_tag("naive", k))))
        # the first round's training log: every round's run learns the same model from the same labels
        latency = measure_latency(ctx, topics_for(ctx.prefix, TAGS[settings.delivery]),
                                  median_run(runs[settings.delivery]).throughput.events_per_s / 2, settings.delivery)
    finally:
        os.sched_setaffinity(0, affinity)
    say("memory: restoring the exactly-once run's changelog under tracemalloc ...")
    bytes_per_account, mem_accounts, states = measure_memory(ctx, topics_for(ctx.prefix, TAGS["exactly-once"]).state)
    from consumer.state import encode_account

    templates = [encode_account(state, None) for state in states]
    del states
    restore = measure_restore(ctx, templates, getattr(settings, "restore_accounts", RESTORE_ACCOUNTS))
    return report(ctx, stream, runs, baselines, latency, bytes_per_account, mem_accounts, restore, broker_note)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def rates(runs: list[Run]) -> list[float]:
    return [run.throughput.events_per_s for run in runs]


def report(ctx, stream, runs, baselines, latency, bytes_per_account, mem_accounts, restore, broker_note) -> dict:
    """The figures, each throughput figure the median of its rounds' (see the module doc), every round's listed."""
    primary_runs = runs[ctx.settings.delivery]
    primary, baseline = median_run(primary_runs), median_run(baselines)
    eos, alo = median_run(runs["exactly-once"]).throughput, median_run(runs["at-least-once"]).throughput
    ratios = [botwatch / naive for botwatch, naive in zip(rates(primary_runs), rates(baselines))]
    costs = [1.0 - e / a for e, a in zip(rates(runs["exactly-once"]), rates(runs["at-least-once"]))]
    r = {
        "events_per_s": round(primary.throughput.events_per_s, 1),
        "baseline_events_per_s": round(baseline.throughput.events_per_s, 1),
        "ratio": round(statistics.median_low(ratios), 2),
        "p50_latency_ms": round(latency["p50_ms"], 1),
        "p99_latency_ms": round(latency["p99_ms"], 1),
        "steady_p50_latency_ms": _round(latency["steady_p50_ms"]),
        "steady_p99_latency_ms": _round(latency["steady_p99_ms"]),
        "latency_warmup_s": LATENCY_WARMUP,
        "bytes_per_account": round(bytes_per_account, 1),
        "events": stream.tweets,
        "accounts": len(stream.accounts),
        "delivery": ctx.settings.delivery,
        "exactly_once_events_per_s": round(eos.events_per_s, 1),
        "at_least_once_events_per_s": round(alo.events_per_s, 1),
        "exactly_once_cost": round(statistics.median_high(costs), 3),  # (lower is better: the higher middle)
        "restore_accounts": restore["accounts"],
        "restore_seconds": round(restore["seconds"], 2),
        "restore_accounts_per_s": round(restore["accounts_per_s"], 1),
        "labels": stream.labels,
        "mean_tweet_bytes": round(stream.tweet_bytes / stream.tweets, 1),
        "window_s": round(primary.throughput.window_s, 2),
        "window_events": int(primary.throughput.window_events),
        "tweet_phase_events_per_s": round(primary.throughput.tweet_phase_events_per_s, 1),
        "tweet_phase_s": round(primary.throughput.tweet_phase_s, 2),
        "label_tail_s": round(primary.throughput.tail_s, 2),
        "cpu_share": round(primary.throughput.cpu_share, 3),
        "baseline_window_s": round(baseline.throughput.window_s, 2),
        "baseline_cpu_share": round(baseline.throughput.cpu_share, 3),
        "consumer_peak_rss_mb": round(primary.peak_rss / 2**20, 1),
        "latency_rate": round(latency["rate"], 1),
        "latency_tweets": latency["tweets"],
        "latency_flags": latency["flags"],
        "latency_max_ms": round(latency["max_ms"], 1),
        "latency_max_backlog": int(latency["max_backlog"]),
        "latency_backlog_drained": latency["drained"],
        "latency_consumer_events_per_s": round(latency["consumer_events_per_s"], 1),
        "latency_checkpoint_interval_s": LATENCY_CHECKPOINT,
        "service_p99_latency_ms_bucket": latency["service_p99_ms_bucket"],
        "rounds": len(primary_runs),
        "events_per_s_runs": [round(v, 1) for v in rates(primary_runs)],
        "baseline_events_per_s_runs": [round(v, 1) for v in rates(baselines)],
        "ratio_runs": [round(v, 2) for v in ratios],
        "exactly_once_events_per_s_runs": [round(v, 1) for v in rates(runs["exactly-once"])],
        "at_least_once_events_per_s_runs": [round(v, 1) for v in rates(runs["at-least-once"])],
        "exactly_once_cost_runs": [round(v, 3) for v in costs],
        "memory_accounts": mem_accounts,
        "batch_size": BATCH_SIZE,
        "consumer_cpu": ctx.cpu,
        "broker": broker_note,
    }
    r["floors_met"] = {key: (r[key] >= bound if op == ">=" else r[key] <= bound) for key, op, bound in FLOORS}
    return r


# ---------------------------------------------------------------------- output

def table(r: dict) -> str:
    floors = {key: f"{op} {bound:,g}" for key, op, bound in FLOORS}
    met = r["floors_met"]

    def of_rounds(key: str, fmt: str = "{:,.0f}", before: str = "") -> str:
        """Each round's figure, where there are several."""
        runs = r[f"{key}_runs"]
        return f"{before}the median of rounds " + ", ".join(fmt.format(v) for v in runs) if len(runs) > 1 else ""

    rows = [
        ("botwatch, events/s, one core", f"{r['events_per_s']:,.0f}", "events_per_s",
         f"{r['delivery']}, {r['window_s']:.1f}s window, CPU {r['cpu_share']:.0%}"
         + of_rounds("events_per_s", before="; ")),
        ("  its tweets alone, events/s", f"{r['tweet_phase_events_per_s']:,.0f}", None,
         f"{r['tweet_phase_s']:.1f}s, then {r['label_tail_s']:.1f}s of label work after the last tweet"),
        ("naive baseline, events/s, one core", f"{r['baseline_events_per_s']:,.0f}", None,
         f"{r['baseline_window_s']:.1f}s window, CPU {r['baseline_cpu_share']:.0%}"
         + of_rounds("baseline_events_per_s", before="; ")),
        ("botwatch / baseline", f"{r['ratio']:.2f}x", "ratio", of_rounds("ratio", "{:.2f}x")),
        ("exactly-once, events/s", f"{r['exactly_once_events_per_s']:,.0f}", None,
         of_rounds("exactly_once_events_per_s")),
        ("at-least-once, events/s", f"{r['at_least_once_events_per_s']:,.0f}", None,
         of_rounds("at_least_once_events_per_s")),
        ("cost of exactly-once", f"{100 * r['exactly_once_cost']:.1f}%", "exactly_once_cost",
         of_rounds("exactly_once_cost", "{:.1%}")),
        ("event-to-flag p50, ms", f"{r['p50_latency_ms']:,.0f}", None,
         f"at {r['latency_rate']:,.0f} tweets/s, {r['latency_flags']:,} flags"),
        ("event-to-flag p99, ms", f"{r['p99_latency_ms']:,.0f}", "p99_latency_ms",
         f"checkpoint interval {r['latency_checkpoint_interval_s']}s, botwatch at "
         f"{r['latency_consumer_events_per_s']:,.0f} events/s, backlog up to {r['latency_max_backlog']:,}"
         + ("" if r["latency_backlog_drained"] else " (not drained: a lower bound)")),
        (f"  p50 / p99 after the first {r['latency_warmup_s']:.0f}s, ms",
         "-" if r["steady_p99_latency_ms"] is None
         else f"{r['steady_p50_latency_ms']:,.0f} / {r['steady_p99_latency_ms']:,.0f}", None,
         "start-up left out, as in the throughput windows"),
        ("bytes per tracked account", f"{r['bytes_per_account']:,.0f}", "bytes_per_account",
         f"tracemalloc, {r['memory_accounts']:,} accounts"),
        ("restore, seconds", f"{r['restore_seconds']:,.1f}", "restore_seconds",
         f"{r['restore_accounts']:,} accounts, {r['restore_accounts_per_s']:,.0f}/s"),
    ]
    lines = [f"botwatch bench: {r['events']:,} v1.1 tweets ({r['mean_tweet_bytes']:,.0f} B mean) of "
             f"{r['accounts']:,} accounts, {r['labels']:,} labels; {r['broker']}; consumer pinned to "
             + (f"CPU {r['consumer_cpu']}" if r["consumer_cpu"] is not None else "the only CPU"),
             "",
             f"{'':38}{'value':>12}  {'floor':>10}  {'':4}  notes"]
    for name, value, key, note in rows:
        floor = floors.get(key, "") if key else ""
        verdict = ("ok" if met[key] else "MISS") if key else ""
        lines.append(f"{name:38}{value:>12}  {floor:>10}  {verdict:4}  {note}")
    return "\n".join(lines)


def run(settings) -> int:
    say = Say(settings.progress)
    try:
        result = bench(settings, say)
    except BenchError as e:
        print(f"botwatch bench: {e}", file=sys.stderr)
        return 1
    if settings.json:
        print(orjson.dumps(result).decode())
    else:
        print(table(result))
    return 0
