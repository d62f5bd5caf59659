"""The scheduler with real worker processes: launching, failures, and workers that are gone."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import timedelta

from loralab.jobs import Scheduler, assign_devices, is_worker_alive
from loralab.services import jobs as service
from loralab.store.events import events_after
from loralab.store.jobs import add_job, claim_queued_jobs, lock_job, new_job_id, reading
from loralab.store.tables import utcnow

from .jobs_support import job_row, wait_status, worker_log


def _queued(db, kind: str, config: dict | None = None):
    with db.write() as session:
        return add_job(session, job_id=new_job_id(), kind=kind, config=config or {})


def test_failed_job_keeps_reason_exit_code_and_traceback(db, settings):
    # A row of a kind this release does not know (left by a newer one): the worker fails it.
    job = _queued(db, "no-such-kind")
    scheduler = Scheduler(db, settings, poll_seconds=0.2).start()
    try:
        row = wait_status(db, job.id, ("failed", "completed", "interrupted"), timeout=60)
    finally:
        scheduler.stop()

    assert row.status == "failed", worker_log(settings, job.id)
    assert "no-such-kind" in row.reason
    assert row.exit_code == 1
    assert row.attempts == 1
    with reading(db) as session:
        events = events_after(session, job.id, 0)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    types = [e.type for e in events]
    assert types[0] == "status" and types[-1] == "status"
    assert "failed" in types
    errors = [e.data["message"] for e in events if e.type == "log" and e.data["level"] == "error"]
    assert any("Traceback" in message for message in errors)
    assert "Traceback" in worker_log(settings, job.id)


def _running_job_without_worker(db, **fields):
    with db.write() as session:
        add_job(session, job_id=new_job_id(), kind="train", config={})
    with db.write() as session:
        (job,) = claim_queued_jobs(session, 1)
        for key, value in fields.items():
            setattr(job, key, value)
    return job


def test_job_whose_worker_pid_is_gone_is_interrupted(db, settings):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    job = _running_job_without_worker(db, pid=dead.pid)

    Scheduler(db, settings).check_running()

    row = job_row(db, job.id)
    assert row.status == "interrupted"
    assert f"pid {dead.pid}" in row.reason
    assert row.exit_code is None  # not our child: its exit status is unknown


def test_job_without_heartbeat_is_interrupted(db, settings):
    stale = utcnow() - timedelta(seconds=settings.heartbeat_timeout_seconds + 5)
    job = _running_job_without_worker(db, heartbeat_at=stale)

    Scheduler(db, settings).check_running()

    row = job_row(db, job.id)
    assert row.status == "interrupted"
    assert "heartbeat" in row.reason


def test_running_job_with_fresh_heartbeat_is_left_alone(db, settings):
    job = _running_job_without_worker(db)  # claimed just now: no pid yet, heartbeat fresh

    Scheduler(db, settings).check_running()

    assert job_row(db, job.id).status == "running"


def test_training_waits_for_the_device_while_light_jobs_run_beside_it(db, settings):
    for _ in range(3):
        with db.write() as session:
            add_job(session, job_id=new_job_id(), kind="train", config={})
        _queued(db, "validate")
    scheduler = Scheduler(db, settings)  # settings.max_concurrent_jobs == 1

    started = scheduler.launch_queued()
    assert len(started) == 3
    assert scheduler.launch_queued() == []
    with reading(db) as session:
        running = sorted(r.kind for r in service.store.list_jobs(session, "running"))
    assert running == ["train", "validate", "validate"]


def test_each_device_job_is_pinned_to_its_own_gpu(db, settings):
    two_gpus = settings.model_copy(update={"gpus": 2, "max_concurrent_jobs": None})
    trains = [_queued(db, "train").id for _ in range(3)]
    light = _queued(db, "validate").id
    scheduler = Scheduler(db, two_gpus)

    started = scheduler.launch_queued()
    assert set(started) == {trains[0], trains[1], light}  # the third run waits for a GPU
    pins = {job_id: job_row(db, job_id).devices for job_id in started}
    assert sorted([pins[trains[0]], pins[trains[1]]]) == ["0", "1"]
    assert pins[light] is None  # light work gets no GPU
    for job_id in (trains[0], trains[1]):
        assert f"on GPU {pins[job_id]}" in worker_log(two_gpus, job_id)  # CUDA_VISIBLE_DEVICES
    assert scheduler.launch_queued() == []

    # The first run ends: the waiting one gets the GPU it freed, and only that one.
    wait_status(db, trains[0], ("failed", "completed", "interrupted"), timeout=60)
    wait_status(db, trains[1], ("failed", "completed", "interrupted"), timeout=60)
    with db.write() as session:
        lock_job(session, trains[1]).status = "running"  # still holds its GPU
    assert scheduler.launch_queued() == [trains[2]]
    assert job_row(db, trains[2]).devices == pins[trains[0]]


def test_workers_see_only_their_gpus():
    from loralab.config import Settings
    from loralab.jobs import worker_env

    settings = Settings(data_dir="/tmp/x")
    assert worker_env(settings, "1")["CUDA_VISIBLE_DEVICES"] == "1"
    assert worker_env(settings, "")["CUDA_VISIBLE_DEVICES"] == ""  # light jobs: none
    assert assign_devices(4, ["0", "2,3", None], 3) == ["1"]
    assert assign_devices(0, [None], 2) == [None, None]  # CPU: unpinned


def _stubborn_worker(job_id: str) -> subprocess.Popen:
    """A process that looks like the job's worker (same command line) and ignores SIGTERM."""
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(120)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "loralab.jobs.worker", job_id],
        start_new_session=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "ready"
    return proc


def test_worker_that_ignores_a_cancel_is_killed_after_the_grace_period(db, settings):
    job = _running_job_without_worker(db)
    proc = _stubborn_worker(job.id)
    try:
        assert is_worker_alive(proc.pid, job.id)
        with db.write() as session:
            row = lock_job(session, job.id)
            row.pid = proc.pid
        assert service.cancel_job(db, job.id).cancel_requested  # SIGTERM: ignored
        with db.write() as session:
            row = lock_job(session, job.id)
            row.cancel_requested_at = utcnow() - timedelta(
                seconds=settings.cancel_grace_seconds + 1
            )
            row.heartbeat_at = utcnow()

        Scheduler(db, settings).check_running()

        assert proc.wait(timeout=10) == -signal.SIGKILL
        row = job_row(db, job.id)
        assert row.status == "stopped"
        assert "did not stop" in row.reason
    finally:
        if proc.poll() is None:
            proc.kill()


def test_hung_worker_without_heartbeat_is_killed_and_interrupted(db, settings):
    job = _running_job_without_worker(db)
    proc = _stubborn_worker(job.id)
    try:
        assert is_worker_alive(proc.pid, job.id)
        stale = utcnow() - timedelta(seconds=settings.heartbeat_timeout_seconds + 1)
        with db.write() as session:
            row = lock_job(session, job.id)
            row.pid, row.heartbeat_at = proc.pid, stale

        Scheduler(db, settings).check_running()

        assert proc.wait(timeout=10) == -signal.SIGKILL
        row = job_row(db, job.id)
        assert row.status == "interrupted" and "heartbeat" in row.reason
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_queued_job_starts_a_round_at_once_not_at_the_next_poll(db, settings):
    import threading

    from loralab.jobs import wake_schedulers

    scheduler = Scheduler(db, settings, poll_seconds=60)
    rounds = threading.Semaphore(0)
    scheduler.tick = rounds.release  # count the rounds, launch nothing
    scheduler.start()
    try:
        assert rounds.acquire(timeout=10)  # the first round, at start
        wake_schedulers()  # what queueing a job (submit, resume) calls
        assert rounds.acquire(timeout=5)  # long before poll_seconds
    finally:
        scheduler.stop()
