"""A batch job logs where its time went, step by step, in one line the bench reads."""

from __future__ import annotations

import logging

import pytest

from dispatch.campaigns.delivery.steps import STEP, StepClock
from tests.campaigns.conftest import World


def test_a_post_batch_logs_its_steps_wall_clock_and_cpu(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.add_members(3)
    cid = world.dispatching()

    with caplog.at_level(logging.INFO, logger="dispatch.campaigns.delivery.batches"):
        world.run_batch(cid, 0)

    [line] = [r.getMessage() for r in caplog.records if " steps: " in r.getMessage()]
    assert line.startswith(f"campaign {cid} batch 0 steps: ")
    steps = {name: (int(wall), int(cpu)) for name, wall, cpu in STEP.findall(line)}
    assert list(steps) == ["load", "render", "freeze", "hand_off", "record"]


def test_a_step_met_twice_adds_up_and_the_summary_reads_back() -> None:
    clock = StepClock()
    for _ in range(2):
        with clock.step("build"):
            sum(range(1000))
    with clock.step("send"):
        pass

    assert list(clock.wall) == ["build", "send"]
    assert all(clock.wall[n] >= 0 and clock.cpu[n] >= 0 for n in clock.wall)
    names = [name for name, _, _ in STEP.findall(clock.summary())]
    assert names == ["build", "send"]
