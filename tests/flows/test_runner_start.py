"""How the served runner starts runs: the setting, every served deployment's flow found in
this process (so none is loaded from storage again), and a fork-server process that runs."""

from __future__ import annotations

import multiprocessing

import prefect.flow_engine as flow_engine
import pytest
from prefect import Flow

from flows import runner_start, scheduled


def test_the_fork_server_is_the_default_and_spawn_can_be_chosen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(runner_start.ENV_START, raising=False)
    assert runner_start.start_method() == "forkserver"
    monkeypatch.setenv(runner_start.ENV_START, " Spawn ")
    assert runner_start.start_method() == "spawn"
    monkeypatch.setenv(runner_start.ENV_START, "thread")
    with pytest.raises(runner_start.InvalidInput, match=runner_start.ENV_START):
        runner_start.start_method()


def test_every_served_deployment_s_flow_is_found_by_its_entrypoint() -> None:
    served = scheduled.deployments()
    for deployment in served:
        flow = runner_start.served_flow(deployment.entrypoint)
        assert isinstance(flow, Flow), deployment.entrypoint
        assert flow.name == deployment.flow_name
    for entrypoint in (None, "", "flows/actions.py", "flows/nothing.py:x", "/abs/x.py:f"):
        assert runner_start.served_flow(entrypoint) is None
    assert runner_start.served_flow("flows/scheduled.py:deployments") is None  # not a flow


def _child(queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    import sys

    queue.put("flows.case_runs" in sys.modules)


def test_installed_the_runner_s_processes_fork_from_a_server_with_the_flows_imported() -> None:
    try:
        assert runner_start.install("forkserver") == "forkserver"
        context = flow_engine.multiprocessing.get_context("spawn")  # what Prefect asks for
        assert context.get_start_method() == "forkserver"
        queue = context.Queue()
        process = context.Process(target=_child, args=(queue,))
        process.start()
        process.join(timeout=120)
        assert process.exitcode == 0
        assert queue.get(timeout=5) is True  # imported once by the fork server, not per run
    finally:
        runner_start.install("spawn")
    assert flow_engine.multiprocessing is multiprocessing
