"""The job worker: ``python -m loralab.jobs.worker JOB_ID``.

Started detached by the server's launcher. It finds the store through ``LORALAB_DATA_DIR`` and
``LORALAB_DATABASE_URL``, reads the job's validated config from its row, runs it with a
``StoreReporter`` and a heartbeat thread, and records how it ended:

- ``completed`` when the work finished;
- ``stopped`` when a cancel (SIGTERM, or ``cancel_requested`` in the store) stopped it after a
  checkpoint;
- ``failed`` with the reason on the job and the traceback in the log (``logs/worker.log`` and
  an ``error`` log event).

Exit status: 0 completed or stopped, 1 failed, 3 when the job is not this worker's to run.
The training stack is imported here, inside the functions, never by the server.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import traceback

from loralab.config import Settings
from loralab.errors import LoralabError
from loralab.jobs.heartbeat import Heartbeat
from loralab.jobs.kinds import Outcome, WorkContext
from loralab.jobs.remote_code import refuse_remote_code
from loralab.jobs.reporter import StoreReporter
from loralab.store import Database
from loralab.store.db import reading
from loralab.store.jobs import get_job
from loralab.store.tables import JobRow

__all__ = ["main", "run_job"]

EXIT_FAILED = 1
EXIT_NOT_MINE = 3


def _install_stop_signals(stop: threading.Event) -> None:
    def _on_signal(signum, _frame):
        # os.write, not print: print in a handler can hit a half-written stdout buffer.
        note = f"received {signal.Signals(signum).name}: stopping after a checkpoint\n"
        os.write(sys.stderr.fileno(), note.encode())
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)


def run_job(
    job: JobRow, reporter: StoreReporter, stop: threading.Event, settings: Settings | None = None
) -> Outcome:
    """Run the job's work by its ``kind`` (from the registry); returns how it ended.

    Raises whatever the work raises (the caller records it as ``failed``).
    """
    from loralab.jobs.registry import JOB_KINDS

    kind = JOB_KINDS.get(job.kind)
    if kind is None:
        raise LoralabError(
            f"This worker cannot run jobs of kind '{job.kind}'.", code="unknown_job_kind"
        )
    settings = settings or Settings()
    # Checked again here: the server that queued the job may have allowed it, this one not.
    refuse_remote_code(settings, job.config or {})
    ctx = WorkContext(job=job, reporter=reporter, stop=stop, settings=settings)
    outcome = kind.run(ctx)
    return outcome if isinstance(outcome, Outcome) else Outcome(str(outcome))


def _cancel_requested(db: Database, job_id: str) -> bool:
    with reading(db) as session:
        job = get_job(session, job_id)
    return bool(job and job.cancel_requested)


def _failure(exc: BaseException) -> tuple[str, str]:
    """The reason for the job row and the traceback for the log."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    if isinstance(exc, LoralabError):
        return str(exc), text
    return f"{type(exc).__name__}: {exc}", text


def main(argv: list[str] | None = None) -> int:
    """Run one job to its end; returns the process exit status."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m loralab.jobs.worker JOB_ID", file=sys.stderr)
        return 2
    job_id = args[0]
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    logging.getLogger("loralab").setLevel(logging.INFO)
    stop = threading.Event()
    _install_stop_signals(stop)

    settings = Settings()
    db = Database(settings.resolved_database_url)
    with reading(db) as session:
        job = get_job(session, job_id)
    if job is None or job.status != "running":
        state = "missing" if job is None else job.status
        print(f"job {job_id} is {state}, not running: nothing to do", file=sys.stderr)
        return EXIT_NOT_MINE

    reporter = StoreReporter(db, job_id, job.attempts, metrics=job.metrics, on_lost=stop.set)
    heartbeat = Heartbeat(
        db,
        job_id,
        job.attempts,
        interval=settings.heartbeat_seconds,
        stop=stop,
        reporter=reporter,
    )
    heartbeat.start()
    print(f"worker pid {os.getpid()} running job {job_id} (attempt {job.attempts})")
    status, reason, exit_code, result = "failed", None, EXIT_FAILED, None
    try:
        outcome = run_job(job, reporter, stop, settings)
        status, result = outcome.status, outcome.result
        exit_code = 0
        if status == "stopped" and not _cancel_requested(db, job_id):
            reason = "Stopped by a signal (SIGTERM or Ctrl-C), not by a cancel."
    except BaseException as exc:  # every failure, even SystemExit, is recorded on the job
        reason, text = _failure(exc)
        print(text, file=sys.stderr, flush=True)
        if "failed" not in reporter.seen_types:
            code = exc.code if isinstance(exc, LoralabError) else None
            reporter.emit("failed", {"reason": reason, "code": code})
        reporter.log(text.rstrip(), "error")
    finally:
        heartbeat.close()
        if reporter.lost:
            print("the job was taken over or ended elsewhere; not recording a result")
        else:
            reporter.close(status, reason=reason, exit_code=exit_code, result=result)
        db.dispose()
    print(f"job {job_id} {status}", flush=True)
    return exit_code if not reporter.lost else EXIT_NOT_MINE


if __name__ == "__main__":
    sys.exit(main())
