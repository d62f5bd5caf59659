"""The worker's Reporter: every training event becomes a job event in the store.

Events are buffered and written in batches, so a fast run writes at most about ten
transactions a second, not one per step. The events a person waits for (start, phase, eval,
checkpoint and the end) are written at once, on the training thread. Step and log events are
written by a flusher thread (the worker's ``Heartbeat`` calls ``write_queued``) as soon as they
are queued, but at most once every ``min_write_seconds``: a step reaches the browser within a
tenth of a second or so, and the training thread does not wait for the database. Without a
flusher, a step or log event is written by the next ``emit`` once ``flush_seconds`` have passed
since the last write. Each batch also keeps the job row current (step, total, progress, ETA,
latest metrics). A batch is written only while the job still belongs to this worker's attempt;
if it does not (the server marked it interrupted and it was resumed elsewhere), the reporter
calls ``on_lost`` and drops what it holds.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from loralab.store import Database
from loralab.store.events import NewEvent, add_events
from loralab.store.jobs import lock_job, set_status

__all__ = ["IMMEDIATE_TYPES", "StoreReporter", "jsonable"]

log = logging.getLogger("loralab.jobs")

# The training recipe's event names, as the REST contract spells them.
_TYPE_NAMES = {"run_started": "started"}
IMMEDIATE_TYPES = frozenset(
    {"started", "phase", "eval", "checkpoint", "finished", "stopped", "failed", "status"}
)
_STEP_METRICS = (
    "loss",
    "learning_rate",
    "grad_norm",
    "tokens_per_second",
    "epoch",
    "elapsed_seconds",
)


def jsonable(value: Any) -> Any:
    """``value`` with NaN and infinities as None (PostgreSQL's JSON and browsers refuse them)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


class _JobLost(Exception):
    pass


class StoreReporter:
    """A ``loralab.training.Reporter`` that writes to the job's events and row.

    Args:
        db: the store.
        job_id: the job.
        attempt: the job's ``attempts`` when this worker started; writes stop if it changes.
        flush_seconds: without a flusher thread, the longest a step or log event waits in the
            buffer (until the next event).
        min_write_seconds: the shortest time between two writes of a flusher thread.
        metrics: the job's metrics so far (kept across a resume).
        on_lost: called once when the job no longer belongs to this worker.
    """

    def __init__(
        self,
        db: Database,
        job_id: str,
        attempt: int,
        *,
        flush_seconds: float = 0.5,
        min_write_seconds: float = 0.1,
        metrics: dict[str, Any] | None = None,
        on_lost: Callable[[], None] | None = None,
    ) -> None:
        self.db = db
        self.job_id = job_id
        self.attempt = attempt
        self.flush_seconds = flush_seconds
        self.min_write_seconds = min_write_seconds
        self.on_lost = on_lost
        self.lost = False
        self.seen_types: set[str] = set()
        self._metrics: dict[str, Any] = dict(metrics or {})
        self._pending: list[NewEvent] = []
        self._fields: dict[str, Any] = {}
        self._lock = threading.RLock()
        self._queued = threading.Condition(self._lock)  # a flusher waits on it for events
        self._woken = False
        self._last_flush = time.monotonic()

    # -- the Reporter protocol ------------------------------------------------------------------

    def report(self, event: Any) -> None:
        """Take one training event (anything with ``to_dict()`` holding ``type`` and ``time``)."""
        data = dict(event.to_dict())
        kind = str(data.pop("type", "event"))
        stamp = data.pop("time", None)
        self.emit(_TYPE_NAMES.get(kind, kind), data, stamp)

    # -- for the worker itself -------------------------------------------------------------------

    def emit(self, kind: str, data: dict[str, Any], stamp: float | None = None) -> None:
        """Queue an event of type ``kind``; written now if it matters, else within a moment."""
        when = datetime.fromtimestamp(stamp if stamp is not None else time.time(), timezone.utc)
        clean = jsonable(data)
        with self._lock:
            if self.lost:
                return
            self.seen_types.add(kind)
            self._pending.append(NewEvent(kind, clean, when))
            self._track(kind, clean)
            due = kind in IMMEDIATE_TYPES or (
                time.monotonic() - self._last_flush >= self.flush_seconds
            )
            if not due:
                self._queued.notify_all()
        if due:
            self.flush()

    def log(self, message: str, level: str = "info") -> None:
        """Add a line to the job's log."""
        self.emit("log", {"message": message, "level": level})

    def flush(self) -> bool:
        """Write what is buffered; False if the store could not be reached (kept for next time)."""
        with self._lock:
            if self.lost or (not self._pending and not self._fields):
                return True
            try:
                self._write(self._pending, self._fields, final=None)
            except _JobLost:
                self.mark_lost()
                return False
            except SQLAlchemyError as exc:
                log.warning("could not write events of job %s yet: %s", self.job_id, exc)
                return False
            self._pending, self._fields = [], {}
            self._last_flush = time.monotonic()
            return True

    def write_queued(self, timeout: float, closed: threading.Event | None = None) -> bool:
        """For a flusher thread: wait up to ``timeout`` for queued events, then write them, no
        sooner than ``min_write_seconds`` after the last write (``closed`` ends the wait early).

        Returns False if the store could not be reached (the events are kept for next time).
        """
        deadline = time.monotonic() + timeout
        with self._queued:
            while not (self._pending or self._woken):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._queued.wait(left)
            self._woken = False
            rest = self._last_flush + self.min_write_seconds - time.monotonic()
        if rest > 0 and not (closed is not None and closed.is_set()):
            if closed is not None:
                closed.wait(rest)
            else:
                time.sleep(rest)
        return self.flush()

    def wake(self) -> None:
        """End a flusher's wait in ``write_queued`` now (it writes what is queued and returns)."""
        with self._queued:
            self._woken = True
            self._queued.notify_all()

    def close(
        self,
        status: str,
        *,
        reason: str | None = None,
        exit_code: int | None = None,
        result: dict[str, Any] | None = None,
    ):
        """Write the remaining events and move the job to its final ``status`` (with what the
        work produced, ``result``), together.

        Returns False if the job no longer belongs to this worker (nothing is written then).
        """
        with self._lock:
            if self.lost:
                return False
            for attempt in range(5):
                try:
                    fields = {**self._fields, **({"result": jsonable(result)} if result else {})}
                    self._write(self._pending, fields, final=(status, reason, exit_code))
                    break
                except _JobLost:
                    self.mark_lost()
                    return False
                except SQLAlchemyError as exc:
                    log.warning("could not record the end of job %s: %s", self.job_id, exc)
                    time.sleep(0.5 * (attempt + 1))
            else:
                return False
            self._pending, self._fields = [], {}
            return True

    def mark_lost(self) -> None:
        """The job is no longer this worker's: drop the buffer, write nothing more, call on_lost."""
        with self._lock:
            already, self.lost = self.lost, True
            self._pending, self._fields = [], {}
        if not already and self.on_lost is not None:
            self.on_lost()

    # -- internals ---------------------------------------------------------------------------------

    def _track(self, kind: str, data: dict[str, Any]) -> None:
        """Keep the job row's summary fields in step with the events."""
        fields = self._fields
        if kind == "started":
            total, step = data.get("total_steps"), data.get("resumed_from") or 0
            fields["total_steps"], fields["step"] = total, step
            fields["progress"] = min(step / total, 0.99) if total else 0.0
        elif kind == "step":
            step, total = data.get("step"), data.get("total_steps")
            fields["step"], fields["total_steps"] = step, total
            if step is not None and total:
                # 100% only once the adapter is on disk (the "finished" event).
                fields["progress"] = min(step / total, 0.99)
            fields["eta_seconds"] = data.get("eta_seconds")
            if data.get("stage", "train") == "train":  # a warm-up's loss is not the run's
                self._merge({k: data.get(k) for k in _STEP_METRICS})
                self._merge(data.get("metrics") or {})  # the method's own (reward, kl ...)
        elif kind == "eval":
            self._merge(data.get("metrics") or {})
        elif kind == "finished":
            fields["step"] = data.get("step")
            fields["progress"] = 1.0
            fields["eta_seconds"] = None
            self._merge(data.get("metrics") or {})
        elif kind == "stopped":
            fields["step"] = data.get("step")
            fields["eta_seconds"] = None

    def _merge(self, values: dict[str, Any]) -> None:
        fresh = {k: v for k, v in values.items() if v is not None}
        if fresh:
            self._metrics.update(fresh)
            self._fields["metrics"] = dict(self._metrics)

    def _write(self, events, fields, *, final) -> None:
        with self.db.write() as session:
            job = lock_job(session, self.job_id)
            if job is None or job.attempts != self.attempt or job.status != "running":
                raise _JobLost
            for key, value in fields.items():
                setattr(job, key, value)
            if final is None:
                add_events(session, job, events)
                return
            status, reason, exit_code = final
            set_status(
                session, job, status, reason=reason, exit_code=exit_code, extra_events=events
            )
