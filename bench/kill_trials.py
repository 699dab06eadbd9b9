"""SIGKILL a worker at each phase of a shared-batch run; a new worker must finish every job with
nothing lost, nothing paid twice and no job given another's recipe.

Each trial starts from nothing: a fresh system database (a SQLite file, or a new PostgreSQL
database), both emulators served from this process (the OpenAI one on a clock this script
moves, 20 emulator seconds per real second, so every batch takes about 6 s), and one
``batchcook worker`` process. It submits J jobs with distinct prompts
(``batchcook create --file``, no ``--wait``), SIGKILLs the worker at the trial's phase, starts
another and waits until every job has ended. Phases:

  before_upload   parts written and the round joined, nothing uploaded yet
  upload_create   a batch's input file uploaded but its batch not created by the worker
                  (A: the create request is in flight and lands after the kill;
                   B: the upload is stored but its answer withheld: the create is never sent)
  after_create    a batch created, its answer withheld (A: the first one, B: the second)
  following       batches in flight, followed (killed 0-2 s after the jobs saw them)
  routing         batches ended, a result download answered late (A: the first, B: second)
  page_write      a page being written (A: page created, answer withheld; B: image sent,
                  page not yet created), for a random one of the J jobs
  comment         the ready comment posted, its answer withheld (A: first job, B: random)
  random          (only with --phase random) 0-20 s after submitting, wherever that lands

The kill points are requests the emulators hold (an ASGI wrapper answers late, or acts
late): the kill lands while the worker waits on one. What the emulators held at the kill is
printed as the phase it hit. Trials alternate the restart: the same executor id (DBOS
recovers its workflows at start) or a new one (the sweep's failover resumes them after
``BATCHCOOK_EXECUTOR_TIMEOUT``, here 4 s).

Checked per trial: jobs lost (not succeeded), custom ids paid twice (in two completed
batches: batches still running at the end are run to completion first, so an uncancelled
surplus batch counts), jobs with other than one Notion page, jobs whose page is not theirs
(title from another prompt — the emulator's filler titles are the prompt's first words —
a cover image that is not their own image line's, or a record naming another page), and
pages with other than one "ready" comment. Exit 1 on any violation. Reported apart, not a
violation: lines a surplus batch answered before it was cancelled whose custom id another
batch answered too (paid twice, but only what ran before the cancel: the README's "one paid
batch per slice" limit).

Usage: python bench/kill_trials.py [--trials 5] [--jobs 10] [--database both|sqlite|postgres]
       [--phase NAME ...] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from dbos import DBOSClient

from batchcook.jobs import Job
from batchcook.testing.notion_emulator import NotionEmulator
from batchcook.testing.openai_emulator import BatchPlan, ManualClock, OpenAIEmulator
from batchcook.testing.polling import poll
from batchcook.testing.server import serve

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PHASES = (
    "before_upload",
    "upload_create",
    "after_create",
    "following",
    "routing",
    "page_write",
    "comment",
)
RANDOM = "random"  # opt-in (--phase random): a kill 0-20 s after the jobs were submitted
BATCH = BatchPlan(validating=10, in_progress=100, finalizing=10)  # 120 s on the emulator
CLOCK_RATE = 20.0  # emulator seconds per real second: a batch takes about 6 s
HOLD_SECONDS = 3.0  # how long a held request waits (the kill lands meanwhile)
EXECUTOR_TIMEOUT = 4
FINISH_TIMEOUT = 240.0  # after the restart, for every job to end
GRACE = 5.0  # the second worker runs on after the jobs end (sweep ticks: surplus cancels)
FOODS = ["kiwi", "leek", "okra", "plum", "kale", "fig", "yam", "pear", "lime", "date"]
STYLES = ["smoky", "tangy", "crisp", "braised", "zesty", "roasted", "creamy", "spiced"]
TERMINAL = {"succeeded", "failed"}


# --- the emulators' front door: a request log, and one request held for the kill ----------


@dataclass
class Seen:
    app: str
    method: str
    path: str
    acted: bool = False  # the emulator acted (its answer started)
    ended: bool = False


@dataclass
class Hold:
    """Hold the ``nth`` request matching ``app``/``method``/``pattern`` for ``seconds``:
    ``before`` the emulator acts (it acts after the kill) or ``after`` it acted (the
    answer is lost). ``reached`` is set when the request is held."""

    app: str
    method: str
    pattern: str
    nth: int = 1
    when: str = "after"
    label: str = ""
    seconds: float = HOLD_SECONDS
    reached: threading.Event = field(default_factory=threading.Event)
    count: int = 0

    def take(self, seen: Seen) -> bool:
        if (seen.app, seen.method) != (self.app, self.method):
            return False
        if not re.fullmatch(self.pattern, seen.path):
            return False
        self.count += 1
        return self.count == self.nth


class Tap:
    """ASGI wrapper around an emulator: logs every request; holds the one ``hold`` names."""

    def __init__(self, name: str, app: Any) -> None:
        self.name = name
        self.app = app
        self.log: list[Seen] = []
        self.hold: Hold | None = None
        self.lock = threading.Lock()

    def in_flight(self) -> list[Seen]:
        """Copies: a held download ends as soon as its client dies."""
        with self.lock:
            return [dataclasses.replace(s) for s in self.log if not s.ended]

    def count(self, method: str, pattern: str, acted: bool = True) -> int:
        with self.lock:
            return sum(
                1
                for s in self.log
                if s.method == method and re.fullmatch(pattern, s.path) and (s.acted or not acted)
            )

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        seen = Seen(self.name, scope["method"], scope["path"])
        with self.lock:
            self.log.append(seen)
            hold = self.hold if self.hold is not None and self.hold.take(seen) else None
        if hold is not None and hold.when == "before":
            # Read the whole body first: after the kill the server would report a disconnect.
            first: list[Any] = []
            while True:
                message = await receive()
                first.append(message)
                if message["type"] != "http.request" or not message.get("more_body"):
                    break
            hold.reached.set()
            await asyncio.sleep(hold.seconds)
            original = receive

            async def replay() -> Any:
                return first.pop(0) if first else await original()

            receive = replay

        async def tapped(message: Any) -> None:
            if message["type"] == "http.response.start":
                seen.acted = True
                if hold is not None and hold.when == "after":
                    hold.reached.set()
                    await asyncio.sleep(hold.seconds)
            await send(message)

        try:
            await self.app(scope, receive, tapped)
        finally:
            seen.ended = True


class Ticker:
    """Moves the OpenAI emulator's manual clock ``rate`` times faster than real time."""

    def __init__(self, clock: ManualClock, rate: float) -> None:
        self.clock, self.rate = clock, rate
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="ticker", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopped.wait(0.05):
            self.clock.advance(self.rate * 0.05)

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(1)


# --- processes and databases ----------------------------------------------------------------


def postgres_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


@contextmanager
def fresh_database(backend: str, tmp: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp / 'system.sqlite'}"
        return
    name = f"batchcook_kill_{uuid.uuid4().hex[:10]}"
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def worker_env(
    database_url: str, tmp: Path, openai_url: str, notion_url: str, notion: Any
) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BATCHCOOK_", "NOTION_", "OPENAI_", "DBOS"))
    }
    env.update(
        {
            "OPENAI_API_KEY": "sk-kill-trials",
            "OPENAI_BASE_URL": f"{openai_url}/v1",
            "NOTION_TOKEN": notion.token,
            "NOTION_BASE_URL": notion_url,
            "NOTION_RECIPES_DATABASE_ID": notion.recipes_database_id,
            "NOTION_USER_ID": notion.user_id,
            "BATCHCOOK_DATABASE_URL": database_url,
            "BATCHCOOK_DATA_DIR": str(tmp / "data"),
            "BATCHCOOK_POLL_INTERVAL": "0.5",
            "BATCHCOOK_MAX_POLL_INTERVAL": "2",
            "BATCHCOOK_POLL_TIMEOUT": "300",
            "BATCHCOOK_BATCH_WINDOW": "2",
            "BATCHCOOK_QUEUE_POLL_SECONDS": "0.1",
            "BATCHCOOK_SWEEP_SCHEDULE": "*/2 * * * * *",
            "BATCHCOOK_EXECUTOR_TIMEOUT": str(EXECUTOR_TIMEOUT),
            "BATCHCOOK_WORKER_CONCURRENCY": "50",
            "BATCHCOOK_DATABASE_POOL_SIZE": "5",
            "BATCHCOOK_IMAGE_SIZE": "1024x1024",
            "BATCHCOOK_IMAGE_QUALITY": "low",
            "BATCHCOOK_OPENAI_MAX_RETRIES": "2",
            "BATCHCOOK_NOTION_RETRY_DELAY": "0.05",
            "BATCHCOOK_NOTION_REQUESTS_PER_SECOND": "100",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def batchcook(*args: str) -> list[str]:
    return [sys.executable, "-m", "batchcook", *args]


def start_worker(env: dict[str, str], executor: str, log: Path) -> subprocess.Popen[bytes]:
    out = log.open("wb")
    proc = subprocess.Popen(
        batchcook("worker"),
        env={**env, "DBOS__VMID": executor},
        cwd=log.parent,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    out.close()
    wait_for(
        lambda: (
            f"worker {executor} on" in log.read_text(errors="replace") or proc.poll() is not None
        ),
        f"worker {executor} to start",
        60,
    )
    if proc.poll() is not None:
        raise RuntimeError(f"worker {executor} exited: {log.read_text(errors='replace')[-2000:]}")
    return proc


def stop_worker(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def wait_for(check: Callable[[], Any], what: str, timeout: float, interval: float = 0.02) -> Any:
    return poll(check, what, timeout, interval)


class Reader:
    """Job records from the system database, as any process reads them."""

    def __init__(self, database_url: str) -> None:
        self.client = DBOSClient(system_database_url=database_url, lazy=True)

    def job(self, job_id: str) -> Job | None:
        try:
            record = self.client.get_event(job_id, "job", timeout_seconds=0)
        except Exception as error:  # before the first worker made the schema
            if "no such table" in str(error) or "does not exist" in str(error):
                return None
            raise
        return None if record is None else Job.model_validate(record)

    def statuses(self, ids: list[str]) -> Counter[str]:
        return Counter((j.status if j else "queued") for j in map(self.job, ids))

    def close(self) -> None:
        self.client.destroy()


# --- a trial -------------------------------------------------------------------------------


@dataclass
class Trial:
    backend: str
    phase: str
    index: int
    variant: str = ""
    restart: str = ""
    hit: str = ""
    at_kill: str = ""
    killed_after: float = 0.0
    finished_after: float = 0.0
    jobs: int = 0
    lost: list[str] = field(default_factory=list)
    doubled: list[str] = field(default_factory=list)
    surplus_paid: list[str] = field(default_factory=list)  # not a violation: see the docstring
    pages_wrong: list[str] = field(default_factory=list)
    crossed: list[str] = field(default_factory=list)
    comments_wrong: list[str] = field(default_factory=list)
    batches: int = 0
    cancelled: int = 0
    notes: list[str] = field(default_factory=list)
    dir: str = ""

    @property
    def violations(self) -> int:
        return sum(
            len(x)
            for x in (
                self.lost,
                self.doubled,
                self.pages_wrong,
                self.crossed,
                self.comments_wrong,
            )
        )


def plan_kill(phase: str, index: int, jobs: int, rng: random.Random) -> tuple[str, Hold | None]:
    """The trial's variant and the request to hold (None: the kill is timed by polling)."""
    b = index % 2 == 1
    if phase == "before_upload":
        return ("B: all jobs joined" if b else "A: first job joined"), None
    if phase == "upload_create":
        if b:
            return "B: upload answered late", Hold("openai", "POST", "/v1/files", 1, "after")
        return "A: create in flight", Hold("openai", "POST", "/v1/batches", 1, "before")
    if phase == "after_create":
        nth = 2 if b else 1
        return f"{'B' if b else 'A'}: create #{nth} answered late", Hold(
            "openai", "POST", "/v1/batches", nth, "after"
        )
    if phase == "following":
        return "0-2 s into following", None
    if phase == RANDOM:
        return "0-20 s after submitting", None
    if phase == "routing":
        nth = 2 if b else 1
        return f"{'B' if b else 'A'}: download #{nth} answered late", Hold(
            "openai", "GET", r"/v1/files/[^/]+/content", nth, "after"
        )
    if phase == "page_write":
        nth = rng.randint(1, jobs)
        if b:
            return f"B: image send #{nth} answered late", Hold(
                "notion", "POST", r"/v1/file_uploads/[^/]+/send", nth, "after"
            )
        return f"A: page create #{nth} answered late", Hold("notion", "POST", "/v1/pages", nth)
    if phase == "comment":
        nth = rng.randint(2, max(jobs, 2)) if b else 1
        return f"{'B' if b else 'A'}: comment #{nth} answered late", Hold(
            "notion", "POST", "/v1/comments", nth
        )
    raise ValueError(phase)


def detect(
    openai: OpenAIEmulator,
    taps: dict[str, Tap],
    held: list[Seen],
    statuses: Counter[str],
    jobs: int,
) -> str:
    """Which phase the kill hit, from the requests in flight at the kill (``held``) and
    what the emulators and job records held then."""
    rank = {p: i for i, p in enumerate(PHASES)}
    found: list[str] = []
    for s in held:
        if s.app == "notion" and s.path == "/v1/comments" and s.method == "POST":
            found.append("comment")
        elif s.app == "notion" and s.method in ("POST", "PATCH") and "/comments" not in s.path:
            found.append("page_write")
        elif s.app == "openai" and s.path.endswith("/content"):
            found.append("routing")
        elif s.app == "openai" and (s.method, s.path) == ("POST", "/v1/batches"):
            found.append("after_create" if s.acted else "upload_create")
        elif s.app == "openai" and (s.method, s.path) == ("POST", "/v1/files"):
            found.append("upload_create" if s.acted else "before_upload")
    if found:
        return max(found, key=rank.__getitem__)
    uploads = taps["openai"].count("POST", "/v1/files")
    creates = taps["openai"].count("POST", "/v1/batches")
    if uploads == 0:
        return "before_upload"
    if uploads > creates:
        return "upload_create"
    openai.state.advance_all()
    batches = list(openai.state.batches.values())
    if any(b.status not in ("completed", "failed", "expired", "cancelled") for b in batches):
        return "following" if statuses.get("generating") else "after_create"
    if not statuses.get("writing") and not statuses.get("succeeded"):
        return "routing"  # results being stored or read; no page begun
    if statuses.get("succeeded", 0) < jobs:
        return "page_write"
    return "after_end"


def describe(openai: OpenAIEmulator, notion: NotionEmulator, held: list[Seen]) -> str:
    openai.state.advance_all()
    batches = Counter(b.status for b in openai.state.batches.values())
    files = sum(1 for f in openai.state.files.values() if f.purpose == "batch")
    names = sorted({f"{s.method} {s.path}" for s in held})
    return (
        f"files {files}, batches {dict(batches) or 0}, pages {len(notion.pages())}, "
        f"comments {len(notion.workspace.comments)}"
        + (f", in flight: {'; '.join(names)}" if names else "")
    )


def expected_title(prompt: str) -> str:
    """The emulator's filler title: the prompt's first eight words, title-cased."""
    return " ".join(prompt.split()[:8]).title()


def plain(rich: list[dict[str, Any]]) -> str:
    return "".join(
        str(r.get("plain_text") or (r.get("text") or {}).get("content") or "") for r in rich
    )


def run_trial(
    backend: str, phase: str, index: int, jobs: int, rng: random.Random, base: Path, keep: bool
) -> Trial:
    tmp = Path(tempfile.mkdtemp(prefix=f"{backend}-{phase}-{index}-", dir=base))
    trial = Trial(backend, phase, index, dir=str(tmp))
    tag = uuid.uuid4().hex[:6]
    prompts = [
        f"{rng.choice(STYLES)} {FOODS[i % len(FOODS)]} dish {i} of trial {tag}" for i in range(jobs)
    ]
    trial.variant, hold = plan_kill(phase, index, jobs, rng)
    same = (index // 2) % 2 == 0
    trial.restart = "same id" if same else "new id"
    clock = ManualClock()
    openai = OpenAIEmulator(clock=clock, fixtures=None)  # filler: titles from the prompt
    openai.faults.default_batch = BATCH
    notion = NotionEmulator(rate=None)
    taps = {"openai": Tap("openai", openai.app), "notion": Tap("notion", notion.app)}
    ticker = Ticker(clock, CLOCK_RATE)
    procs: list[subprocess.Popen[bytes]] = []
    with ExitStack() as stack:
        openai_url = stack.enter_context(serve(taps["openai"]))
        notion_url = stack.enter_context(serve(taps["notion"]))
        database_url = stack.enter_context(fresh_database(backend, tmp))
        stack.callback(ticker.stop)
        env = worker_env(database_url, tmp, openai_url, notion_url, notion)
        reader = Reader(database_url)
        stack.callback(reader.close)

        def cleanup() -> None:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(10)

        stack.callback(cleanup)
        first = start_worker(env, "kt-1", tmp / "worker-1.log")
        procs.append(first)
        if hold is not None:
            taps[hold.app].hold = hold
        (tmp / "prompts.txt").write_text("\n".join(prompts) + "\n")
        started = time.monotonic()
        created = subprocess.run(
            batchcook("create", "--file", "prompts.txt"),
            env=env,
            cwd=tmp,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if created.returncode != 0:
            raise RuntimeError(f"create --file failed: {created.stderr[-2000:]}")
        ids = created.stdout.split()
        assert len(ids) == jobs, created.stdout
        trial.jobs = len(ids)
        prompt_of = dict(zip(ids, prompts, strict=True))

        kill_at = _wait_for_kill_point(phase, index, hold, reader, ids, taps, rng)
        if kill_at:
            trial.notes.append(kill_at)
        held = taps["openai"].in_flight() + taps["notion"].in_flight()
        first.kill()  # SIGKILL: no shutdown code runs
        first.wait(10)
        trial.killed_after = time.monotonic() - started
        statuses = reader.statuses(ids)  # as the dead worker left them
        trial.hit = detect(openai, taps, held, statuses, jobs)
        trial.at_kill = f"jobs {dict(statuses)}; " + describe(openai, notion, held)
        taps["openai"].hold = taps["notion"].hold = None

        executor = "kt-1" if same else "kt-2"
        second = start_worker(env, executor, tmp / "worker-2.log")
        procs.append(second)
        try:
            wait_for(
                lambda: all(j is not None and j.status in TERMINAL for j in map(reader.job, ids)),
                "every job to end",
                FINISH_TIMEOUT,
                interval=0.5,
            )
        except TimeoutError as error:
            trial.notes.append(str(error))
        trial.finished_after = time.monotonic() - started - trial.killed_after
        time.sleep(GRACE)
        records = {j: reader.job(j) for j in ids}
        stop_worker(second)
        ticker.stop()
        openai.advance(3600)  # anything still running (an uncancelled surplus) completes
        openai.state.advance_all()
        _check(trial, records, prompt_of, openai, notion)
    if trial.violations == 0 and not keep:
        shutil.rmtree(tmp, ignore_errors=True)
        trial.dir = ""
    return trial


def _wait_for_kill_point(
    phase: str,
    index: int,
    hold: Hold | None,
    reader: Reader,
    ids: list[str],
    taps: dict[str, Tap],
    rng: random.Random,
) -> str:
    """Return when the worker should die (a note when the planned point was missed)."""
    timeout = 90.0
    if hold is not None:
        if not hold.reached.wait(timeout):
            return f"missed: {hold.label or hold.pattern} #{hold.nth} never came"
        time.sleep(0.05)  # the worker is waiting on the held answer
        return ""
    if phase == "before_upload":
        wanted = len(ids) if index % 2 else 1

        def joined() -> bool:
            done = reader.statuses(ids)
            return done["submitted"] + done["generating"] >= wanted

        try:
            wait_for(joined, "jobs to join a round", timeout, interval=0.01)
        except TimeoutError as error:
            return f"missed: {error}"
        return ""
    if phase == "following":
        try:
            wait_for(
                lambda: reader.statuses(ids)["generating"] > 0, "jobs generating", timeout, 0.05
            )
        except TimeoutError as error:
            return f"missed: {error}"
        time.sleep(rng.uniform(0.0, 2.0))
        return ""
    if phase == RANDOM:
        time.sleep(rng.uniform(0.0, 20.0))
        return ""
    raise ValueError(phase)


def _check(
    trial: Trial,
    records: dict[str, Job | None],
    prompt_of: dict[str, str],
    openai: OpenAIEmulator,
    notion: NotionEmulator,
) -> None:
    ids = list(prompt_of)
    for job_id, record in records.items():
        if record is None or record.status != "succeeded":
            why = "not ended" if record is None or record.status not in TERMINAL else ""
            if record is not None and record.error:
                why = f"{record.error.step}: {record.error.message[:200]}"
            trial.lost.append(f"{job_id} ({record.status if record else 'no record'}) {why}")

    # Paid twice: a custom id in two completed batches (their input files). Apart: lines a
    # cancelled batch answered before its cancel whose custom id another batch answered too.
    batches = list(openai.state.batches.values())
    trial.batches = len(batches)
    trial.cancelled = sum(1 for b in batches if b.status == "cancelled")
    in_batches: Counter[str] = Counter()
    answered: dict[str, list[str]] = {}  # custom id -> batches with a 200 line for it
    images: dict[str, set[str]] = {}
    for b in batches:
        output = openai.state.files.get(b.output_file_id or "")
        for raw_line in output.data.decode().splitlines() if output else []:
            line = json.loads(raw_line) if raw_line.strip() else {}
            if line and line["response"]["status_code"] == 200:
                done = f"{b.counts['completed']}/{b.counts['total']}"
                answered.setdefault(line["custom_id"], []).append(f"{b.id} {b.status} {done}")
        if b.status != "completed":
            continue
        stored = openai.state.files.get(b.input_file_id)
        lines = stored.data.decode().splitlines() if stored else []
        custom_ids = [json.loads(line)["custom_id"] for line in lines if line.strip()]
        if not stored:
            custom_ids = [r.custom_id for r in b.results]
        in_batches.update(custom_ids)
        for r in b.results:
            if r.status_code == 200 and "data" in r.body:
                raw = base64.b64decode(r.body["data"][0]["b64_json"])
                images.setdefault(r.custom_id, set()).add(hashlib.sha256(raw).hexdigest())
    trial.doubled = sorted(c for c, n in in_batches.items() if n > 1)
    trial.surplus_paid = sorted(
        f"{c}: answered in {', '.join(where)}"
        for c, where in answered.items()
        if len(where) > 1 and c not in trial.doubled
    )

    # Pages: one per job, the job's own.
    with notion.workspace.lock:
        pages = [p for p in notion.workspace.pages.values() if p.data_source_id and not p.in_trash]
        uploads = dict(notion.workspace.uploads)
        comments = list(notion.workspace.comments.values())
    by_job: dict[str, list[Any]] = {}
    for page in pages:
        job_id = plain(page.values.get("Batchcook Job") or [])
        by_job.setdefault(job_id, []).append(page)
    for job_id in ids:
        n = len(by_job.get(job_id, []))
        if n != 1:
            trial.pages_wrong.append(f"{job_id}: {n} pages")
    for job_id in sorted(set(by_job) - set(ids)):
        trial.pages_wrong.append(f"{len(by_job[job_id])} page(s) of unknown job {job_id!r}")
    for job_id in ids:
        record = records[job_id]
        for page in by_job.get(job_id, []):
            wrong = []
            title = plain(page.values.get("Name") or [])
            if title != expected_title(prompt_of[job_id]):
                wrong.append(f"title {title!r} for prompt {prompt_of[job_id]!r}")
            cover = uploads.get((page.cover or {}).get("id", ""))
            digest = hashlib.sha256(cover.content or b"").hexdigest() if cover else None
            if digest not in images.get(f"{job_id}-image", set()):
                owners = [c for c, d in images.items() if digest in d]
                wrong.append(f"cover is not its image (matches {owners or 'none'})")
            if record is not None and record.title != expected_title(prompt_of[job_id]):
                wrong.append(f"record title {record.title!r}")
            if record is not None and record.page_id and record.page_id != page.id:
                wrong.append(f"record names page {record.page_id}, not {page.id}")
            if wrong:
                trial.crossed.append(f"{job_id}: " + "; ".join(wrong))
            ready = [
                c for c in comments if c.page_id == page.id and "is ready" in plain(c.rich_text)
            ]
            if len(ready) != 1:
                trial.comments_wrong.append(f"{job_id}: {len(ready)} ready comments")


# --- the run --------------------------------------------------------------------------------


def summarize(trials: list[Trial]) -> str:
    header = (
        "| phase | database | trials | hit | lost | doubled | pages≠1 | cross-wired | "
        "comments≠1 | batches (cancelled) | lines paid in a cancelled surplus |"
    )
    lines = [header, "|" + "---|" * 11]
    order = (*PHASES, RANDOM)
    keys = sorted({(t.phase, t.backend) for t in trials}, key=lambda k: (order.index(k[0]), k[1]))
    for phase, backend in keys:
        group = [t for t in trials if (t.phase, t.backend) == (phase, backend)]
        hits: Any = sum(t.hit == phase for t in group)
        if phase == RANDOM:
            hits = ", ".join(f"{h} {n}" for h, n in Counter(t.hit for t in group).most_common())
        lines.append(
            f"| {phase} | {backend} | {len(group)} | {hits} | "
            f"{sum(len(t.lost) for t in group)} | {sum(len(t.doubled) for t in group)} | "
            f"{sum(len(t.pages_wrong) for t in group)} | {sum(len(t.crossed) for t in group)} | "
            f"{sum(len(t.comments_wrong) for t in group)} | "
            f"{sum(t.batches for t in group)} ({sum(t.cancelled for t in group)}) | "
            f"{sum(len(t.surplus_paid) for t in group)} |"
        )
    jobs = sum(t.jobs for t in trials)
    lines.append(
        f"| **all** | | {len(trials)} | {sum(t.hit == t.phase for t in trials)} | "
        f"{sum(len(t.lost) for t in trials)} of {jobs} jobs | "
        f"{sum(len(t.doubled) for t in trials)} | {sum(len(t.pages_wrong) for t in trials)} | "
        f"{sum(len(t.crossed) for t in trials)} | {sum(len(t.comments_wrong) for t in trials)} | "
        f"{sum(t.batches for t in trials)} ({sum(t.cancelled for t in trials)}) | "
        f"{sum(len(t.surplus_paid) for t in trials)} |"
    )
    return "\n".join(lines)


def report(t: Trial) -> None:
    verdict = "ok" if t.violations == 0 else f"{t.violations} VIOLATION(S)"
    print(
        f"{t.backend:<8} {t.phase:<13} #{t.index} [{t.variant}; restart {t.restart}] "
        f"hit {t.hit}; killed at {t.killed_after:.1f} s, all ended {t.finished_after:.1f} s "
        f"later; {t.batches} batches ({t.cancelled} cancelled): {verdict}",
        flush=True,
    )
    print(f"    at kill: {t.at_kill}", flush=True)
    for note in t.notes:
        print(f"    note: {note}", flush=True)
    for name in ("lost", "doubled", "pages_wrong", "crossed", "comments_wrong", "surplus_paid"):
        for item in getattr(t, name)[:10]:
            print(f"    {name}: {item}", flush=True)
    if t.dir:
        print(f"    kept: {t.dir}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5, help="trials per phase and database")
    parser.add_argument("--jobs", type=int, default=10, help="jobs per trial")
    parser.add_argument("--database", choices=("both", "sqlite", "postgres"), default="both")
    parser.add_argument("--phase", action="append", choices=(*PHASES, RANDOM), help="(repeatable)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--keep", action="store_true", help="keep every trial's directory")
    args = parser.parse_args()
    # SIGTERM unwinds like Ctrl-C: each trial's cleanup kills its worker processes.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    backends = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    if "postgres" in backends and not postgres_available():
        if args.database == "postgres":
            raise SystemExit("PostgreSQL is not reachable on 127.0.0.1:5432")
        print("PostgreSQL is not reachable on 127.0.0.1:5432: SQLite only", flush=True)
        backends.remove("postgres")
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    print(
        f"kill trials: {args.trials} per phase, {args.jobs} jobs each, seed {seed}, "
        f"databases {', '.join(backends)}",
        flush=True,
    )
    base = Path(tempfile.mkdtemp(prefix="kill-trials-"))
    trials: list[Trial] = []
    started = time.monotonic()
    for backend in backends:
        for phase in args.phase or PHASES:
            for index in range(args.trials):
                trial = run_trial(backend, phase, index, args.jobs, rng, base, args.keep)
                trials.append(trial)
                report(trial)
    print(f"\n{len(trials)} trials in {time.monotonic() - started:.0f} s\n")
    print(summarize(trials))
    if not any(t.dir for t in trials):
        shutil.rmtree(base, ignore_errors=True)
    sys.exit(1 if any(t.violations for t in trials) else 0)


if __name__ == "__main__":
    main()
