"""The time estimate logged after a run's first epoch, on a fake clock."""

import pytest

from tfbig.training import time_estimate
from tfbig.training.time_estimate import format_duration


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def train_steps(estimate, clock, count, first=3.0, each=0.5):
    """``count`` train steps of ``each`` seconds, the first taking ``first`` (tracing)."""
    for batch in range(count):
        estimate.on_train_batch_begin(batch)
        clock.now += first if batch == 0 else each
        estimate.on_train_batch_end(batch)


def test_time_estimate_after_the_first_epoch_leaves_out_its_tracing(monkeypatch):
    """Train steps of 0.5 s (the first 3 s: tracing), validation steps of 0.2 s (the first
    2 s), 0.9 s of epoch-end work: epoch 1 takes 11 s, the others about 11 - 2.5 - 1.8."""
    clock, logged = FakeClock(), []
    monkeypatch.setattr(time_estimate.time, "perf_counter", clock)
    estimate = time_estimate.TimeEstimate(10, 4, logged.append, mid_epoch=True)
    estimate.on_epoch_begin(0)
    train_steps(estimate, clock, 10)
    estimate.on_test_begin()
    for batch in range(4):
        clock.now += 2.0 if batch == 0 else 0.2
        estimate.on_test_batch_end(batch)
    clock.now += 0.9
    estimate.on_epoch_end(0)
    assert logged == []  # not before Keras' own line for the epoch
    estimate.on_epoch_begin(1)
    assert logged == ["time: epoch 1 took 11 s (4.3 s of it tracing); the other 3 should "
                      "take about 6.7 s each, about 20 s in all"]
    estimate.on_epoch_end(1)
    estimate.on_epoch_begin(2)
    assert len(logged) == 1  # once


def test_time_estimate_of_a_long_epoch_comes_once_a_few_steps_are_timed(monkeypatch):
    clock, logged = FakeClock(), []
    monkeypatch.setattr(time_estimate.time, "perf_counter", clock)
    for mid_epoch in (False, True):  # False: a progress bar (it shows the epoch's ETA)
        estimate = time_estimate.TimeEstimate(1000, 3, logged.append, mid_epoch=mid_epoch)
        estimate.on_epoch_begin(0)
        train_steps(estimate, clock, 30)
    # 10 steps after the first: 5 s of them, enough to say.
    assert logged == ["time: about 0.5 s a step: about 8 min 20 s an epoch of 1000 steps "
                      "(plus validation), about 25 min for 3 epochs"]
    estimate.on_epoch_end(0)
    estimate.on_epoch_begin(1)
    assert len(logged) == 1


@pytest.mark.parametrize("seconds, text", [(0.04, "0.0 s"), (4.94, "4.9 s"), (59.4, "59 s"),
                                           (130, "2 min 10 s"), (725, "12 min"),
                                           (3600 + 5 * 60 + 10, "1 h 05 min")])
def test_durations_read_naturally(seconds, text):
    assert format_duration(seconds) == text
