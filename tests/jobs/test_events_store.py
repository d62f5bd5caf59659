"""Job events in the store: contiguous seqs under concurrent writers, batching by the worker's
Reporter, and a worker that lost its job writing nothing."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from loralab.jobs import StoreReporter
from loralab.store.events import NewEvent, add_events, events_after
from loralab.store.jobs import add_job, claim_queued_jobs, lock_job, new_job_id, reading
from loralab.store.tables import JobRow


def _running_job(db) -> JobRow:
    with db.write() as session:
        job = add_job(session, job_id=new_job_id(), kind="train", config={})
    with db.write() as session:
        (claimed,) = claim_queued_jobs(session, 1)
    assert claimed.id == job.id
    return claimed


@dataclass(frozen=True)
class FakeStep:
    """Shaped like loralab.training's StepProgress.to_dict() (no torch needed here)."""

    step: int
    total_steps: int
    loss: float
    time: float = 0.0
    extra: dict = field(default_factory=dict)

    def to_dict(self):
        return {
            "type": "step",
            "time": self.time or 1_700_000_000.0 + self.step,
            "step": self.step,
            "total_steps": self.total_steps,
            "epoch": self.step / self.total_steps,
            "loss": self.loss,
            "learning_rate": 1e-4,
            "eta_seconds": float(self.total_steps - self.step),
            **self.extra,
        }


@dataclass(frozen=True)
class FakeCheckpoint:
    step: int

    def to_dict(self):
        return {"type": "checkpoint", "time": 1_700_000_000.0, "step": self.step, "path": "x"}


def test_seqs_stay_contiguous_with_concurrent_writers(db):
    job = _running_job(db)
    per_thread, threads = 40, 4

    def write(tag: int) -> None:
        for i in range(per_thread):
            with db.write() as session:
                row = lock_job(session, job.id)
                add_events(session, row, [NewEvent("log", {"message": f"{tag}-{i}"})])

    workers = [threading.Thread(target=write, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()

    with reading(db) as session:
        events = events_after(session, job.id, 0)
        last_seq = session.get(JobRow, job.id).last_seq
    seqs = [e.seq for e in events]
    # seq 1 and 2 are the queued and running status events.
    assert seqs == list(range(1, 2 + per_thread * threads + 1))
    assert last_seq == seqs[-1]


def test_reporter_batches_steps_and_keeps_the_row_current(db):
    job = _running_job(db)
    reporter = StoreReporter(db, job.id, job.attempts, flush_seconds=60)
    writes = []
    original = reporter._write

    def counting_write(*args, **kwargs):
        writes.append(len(args[0]))
        return original(*args, **kwargs)

    reporter._write = counting_write
    for step in range(1, 101):
        reporter.report(FakeStep(step=step, total_steps=200, loss=2.0 - step / 100))
    assert writes == []  # nothing urgent yet, and the interval has not passed
    reporter.report(FakeCheckpoint(step=100))  # a checkpoint is written at once, with the backlog
    assert writes == [101]
    reporter.report(FakeStep(step=101, total_steps=200, loss=float("nan")))
    reporter.flush()

    with reading(db) as session:
        row = session.get(JobRow, job.id)
        events = events_after(session, job.id, 2)
    assert [e.type for e in events] == ["step"] * 100 + ["checkpoint", "step"]
    assert [e.data["step"] for e in events if e.type == "step"] == list(range(1, 102))
    assert events[-1].data["loss"] is None  # NaN is stored as null (PostgreSQL JSON refuses NaN)
    assert row.step == 101 and row.total_steps == 200
    assert 0.5 < row.progress < 0.51
    assert row.eta_seconds == 99.0
    assert row.metrics["loss"] == 1.0  # the last finite loss is kept
    assert row.last_seq == events[-1].seq


def test_reporter_of_a_superseded_attempt_writes_nothing(db):
    job = _running_job(db)
    lost = threading.Event()
    reporter = StoreReporter(db, job.id, job.attempts, flush_seconds=0, on_lost=lost.set)
    with db.write() as session:
        row = lock_job(session, job.id)
        row.attempts += 1  # the server gave the job to another worker

    reporter.report(FakeStep(step=1, total_steps=10, loss=1.0))
    assert lost.is_set() and reporter.lost
    assert reporter.close("completed") is False
    with reading(db) as session:
        row = session.get(JobRow, job.id)
        types = [e.type for e in events_after(session, job.id, 0)]
    assert types == ["status", "status"]
    assert row.status == "running"


def test_heartbeat_writes_a_queued_step_at_once_at_a_bounded_rate(db):
    from loralab.jobs import Heartbeat

    job = _running_job(db)
    reporter = StoreReporter(db, job.id, job.attempts, flush_seconds=60, min_write_seconds=0.2)
    writes: list[tuple[float, int]] = []
    original = reporter._write

    def timed_write(*args, **kwargs):
        writes.append((time.monotonic(), len(args[0])))
        return original(*args, **kwargs)

    reporter._write = timed_write
    beat = Heartbeat(
        db, job.id, job.attempts, interval=60, stop=threading.Event(), reporter=reporter
    )
    beat.start()
    try:
        time.sleep(0.3)  # the last write is older than min_write_seconds
        queued = time.monotonic()
        reporter.report(FakeStep(step=1, total_steps=100, loss=1.0))
        deadline = time.monotonic() + 5
        while not writes and time.monotonic() < deadline:
            time.sleep(0.005)
        # Written by the heartbeat thread, long before flush_seconds and the next event.
        assert writes and writes[0][1] == 1 and writes[0][0] - queued < 0.15
        for step in range(2, 41):  # 40 steps a second for a second: batched, 0.2 s apart
            reporter.report(FakeStep(step=step, total_steps=100, loss=1.0))
            time.sleep(0.025)
        time.sleep(0.3)
    finally:
        beat.close()
    gaps = [b[0] - a[0] for a, b in zip(writes, writes[1:], strict=False)]
    assert sum(n for _, n in writes) == 40
    assert len(writes) <= 8 and min(gaps) >= 0.19
    with reading(db) as session:
        steps = [e.data["step"] for e in events_after(session, job.id, 2)]
    assert steps == list(range(1, 41))
