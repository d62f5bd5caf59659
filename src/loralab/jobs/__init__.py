"""Processes: the scheduler and launcher (server side), the worker, its store-backed Reporter
and heartbeats, and recovery of jobs whose worker is gone.

Importing this package never imports torch or the training stack; only the worker process
(``python -m loralab.jobs.worker JOB_ID``) does, inside the function that trains.
"""

from loralab.jobs.devices import assign_devices, gpu_count, max_concurrent_jobs, visible_gpu_count
from loralab.jobs.heartbeat import Heartbeat
from loralab.jobs.kinds import JobKind, Outcome, Prepared, Submission, WorkContext
from loralab.jobs.launcher import (
    describe_exit,
    is_worker_alive,
    kill_worker_group,
    launch_worker,
    signal_worker,
    worker_env,
)
from loralab.jobs.registry import JOB_KINDS, device_kinds, get_kind
from loralab.jobs.reporter import StoreReporter
from loralab.jobs.run_files import (
    CheckpointInfo,
    list_checkpoints,
    log_path,
    read_run_card,
    run_dir,
    runs_root,
)
from loralab.jobs.scheduler import Scheduler, end_job, wake_schedulers

__all__ = [
    "JOB_KINDS",
    "CheckpointInfo",
    "Heartbeat",
    "JobKind",
    "Outcome",
    "Prepared",
    "Scheduler",
    "StoreReporter",
    "Submission",
    "WorkContext",
    "assign_devices",
    "device_kinds",
    "get_kind",
    "gpu_count",
    "describe_exit",
    "end_job",
    "is_worker_alive",
    "kill_worker_group",
    "launch_worker",
    "list_checkpoints",
    "log_path",
    "max_concurrent_jobs",
    "read_run_card",
    "run_dir",
    "runs_root",
    "signal_worker",
    "visible_gpu_count",
    "wake_schedulers",
    "worker_env",
]
