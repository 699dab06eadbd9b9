"""Executor ids for short-lived processes, and adopting the jobs of ones that died.

DBOS recovers a PENDING workflow only when a process with the same executor id starts, and
recovery runs in whichever launched process dequeues it first. A CLI process that launched as
``local`` (the default) would therefore take over a live worker's jobs. So each CLI process
runs as ``cli-<host>-<pid>``, and long-running processes (worker, server) adopt the jobs of
such executors once their process is gone, by resuming them on the recipes queue.
"""

from __future__ import annotations

import os
import socket

from batchcook.config import Settings
from batchcook.workflows.names import JOB_WORKFLOWS, QUEUE, ROUND_WORKFLOWS

CLI_EXECUTOR_PREFIX = "cli-"


def cli_executor_id() -> str:
    return f"{CLI_EXECUTOR_PREFIX}{socket.gethostname()}-{os.getpid()}"


def use_cli_executor(settings: Settings) -> Settings:
    """``settings`` with this process's own executor id, for a CLI run to launch with."""
    return settings.model_copy(update={"executor_id": cli_executor_id()})


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def orphaned(executor_id: str | None, host: str | None = None) -> bool:
    """True for a CLI executor on this host whose process is gone."""
    prefix = f"{CLI_EXECUTOR_PREFIX}{host or socket.gethostname()}-"
    if not executor_id or not executor_id.startswith(prefix):
        return False
    pid = executor_id[len(prefix) :]
    return pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid))


async def adopt_orphans() -> list[str]:
    """Resume, on the recipes queue, the jobs (and collector rounds) of CLI processes on
    this host that died mid-run (DBOS only recovers an executor's jobs when that same
    executor id starts). Returns the jobs adopted."""
    # Lazy: CLI processes import this module for their executor id, and DBOS is heavy.
    from dbos import DBOS

    pending = await DBOS.list_workflows_async(
        status="PENDING",
        # A dead CLI's collector rounds too: other jobs' parts may ride in their batches.
        name=[*JOB_WORKFLOWS, *ROUND_WORKFLOWS],
        load_input=False,
        load_output=False,
    )
    adopted = []
    for workflow in pending:
        if orphaned(workflow.executor_id):
            await DBOS.resume_workflow_async(workflow.workflow_id, queue_name=QUEUE)
            if workflow.name in JOB_WORKFLOWS:
                adopted.append(workflow.workflow_id)
    return adopted
