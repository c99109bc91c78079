"""The time budget: the plan from the measured step time, the schedule's end, the stop."""

import types

import numpy as np
import pytest

from tfbig.training.schedules import PlannedDecaySchedule
from tfbig.training.time_budget import TimeBudget


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class FakeSchedule:
    def __init__(self):
        self.plans = []

    def plan(self, total_steps):
        self.plans.append(total_steps)


def run_budget(minutes, steps_per_epoch, step_seconds, validation_seconds, max_epochs=1000):
    """Drive a TimeBudget the way model.fit calls it; returns (callback, clock, epochs)."""
    clock, schedule, logged = FakeClock(), FakeSchedule(), []
    budget = TimeBudget(minutes, steps_per_epoch, logged.append, schedule=schedule,
                        clock=clock)
    budget.set_model(types.SimpleNamespace(stop_training=False))
    budget.on_train_begin()
    epochs = 0
    for epoch in range(max_epochs):
        budget.on_epoch_begin(epoch)
        for batch in range(steps_per_epoch):
            budget.on_train_batch_begin(batch)
            clock.now += 2.0 if budget.steps == 0 else step_seconds  # the first step traces
            budget.on_train_batch_end(batch)
            if budget.model.stop_training:
                break
        clock.now += validation_seconds  # Keras validates even a stopped epoch
        budget.on_epoch_end(epoch)
        epochs += 1
        if budget.model.stop_training:
            break
    return budget, clock, schedule, logged, epochs


def test_the_run_stops_on_time_with_its_last_validation_inside_the_budget():
    budget, clock, schedule, logged, epochs = run_budget(
        minutes=2, steps_per_epoch=50, step_seconds=0.1, validation_seconds=3.0)
    assert budget.stopped_early
    # 120 s: done within one step and within the validation estimate of the end
    assert 120 - 3.0 - 0.2 <= clock.now <= 120 + 0.2
    assert logged and logged[0].startswith("time budget: 2 min 0 s → about")


def test_the_plan_matches_the_steps_that_fit_and_the_schedule_ends_there():
    budget, clock, schedule, logged, epochs = run_budget(
        minutes=5, steps_per_epoch=100, step_seconds=0.05, validation_seconds=2.0)
    # 300 s: 5 s per epoch of steps + 2 s of validation → ~42 epochs, ~4,250 steps
    assert abs(budget.steps - 4250) / 4250 < 0.03
    assert abs(schedule.plans[-1] - budget.steps) / budget.steps < 0.03
    # The first plan, before any validation was timed, counts train steps only.
    assert budget.steps < schedule.plans[0] < 1.5 * budget.steps
    assert epochs == pytest.approx(budget.steps / 100, abs=1)


def test_a_budget_shorter_than_one_epoch_stops_in_the_first_epoch():
    budget, clock, *_ = run_budget(minutes=0.1, steps_per_epoch=1000, step_seconds=0.1,
                                   validation_seconds=1.0)
    assert budget.steps < 1000 and clock.now <= 6 + 1.0 + 0.2


def test_slow_steps_on_a_short_budget_are_planned_before_the_stop():
    """18 s at 1 s a step fits ~16 steps, fewer than the 3 + 20 the plan usually waits
    for: it plans once a tenth of the budget is timed, so the schedule still ends there."""
    budget, clock, schedule, logged, epochs = run_budget(
        minutes=0.3, steps_per_epoch=1000, step_seconds=1.0, validation_seconds=1.0)
    assert budget.stopped_early and budget.steps < 3 + TimeBudget.TIMED_STEPS
    assert logged and logged[0].startswith("time budget: 18 s → about")
    assert schedule.plans and abs(schedule.plans[0] - budget.steps) <= 2


def test_planned_schedule_warms_up_then_decays_to_zero_at_the_plan():
    schedule = PlannedDecaySchedule(1e-3, total_steps=1000)
    rates = [float(schedule(step)) for step in (0, 99, 550, 999, 1500)]
    assert rates[1] == pytest.approx(1e-3)  # warm-up: 10% of the plan
    assert rates[0] == pytest.approx(1e-5)
    assert rates[2] == pytest.approx(1e-3 * 449 / 900, rel=1e-4)
    assert rates[3] == pytest.approx(0.0, abs=1e-12) and rates[4] == 0.0
    schedule.plan(2000)
    assert float(schedule(999)) == pytest.approx(1e-3 * 1000 / 1800, rel=1e-4)
    fixed = PlannedDecaySchedule(1e-3, total_steps=1000, warmup_steps=10)
    assert float(fixed(9)) == pytest.approx(1e-3)
    config = schedule.get_config()
    assert config["total_steps"] == 2000.0
    again = PlannedDecaySchedule.from_config(config)
    steps = np.arange(0, 2100, 100)
    assert [float(again(s)) for s in steps] == [float(schedule(s)) for s in steps]
