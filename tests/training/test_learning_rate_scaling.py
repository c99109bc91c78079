"""``train.scale_learning_rate``: the linear scaling rule (learning_rate × replicas) reaches
the optimizer, the plateau warm-up and the start line; off, nothing changes."""

import types

import pytest

from tfbig import config as config_lib
from tfbig.errors import TfbigError
from tfbig.tasks import resolve_config


def train_config(**fields):
    return config_lib.TrainConfig(**{"schedule": "constant", "learning_rate": 1e-3, **fields})


def test_the_field_is_a_set_flag_and_off_by_default():
    assert resolve_config({}).train.scale_learning_rate is False
    overrides = config_lib.overrides_from_flags(None, {}, ["train.scale_learning_rate=true"])
    assert resolve_config(overrides).train.scale_learning_rate is True


def test_it_needs_a_rate_to_scale():
    with pytest.raises(TfbigError, match=r"config field train\.scale_learning_rate=True: "
                                         r"expected false with train\.learning_rate=0 \(the "
                                         r"paper's formula has no rate to scale"):
        config_lib.TrainConfig(learning_rate=0, schedule="transformer",
                               scale_learning_rate=True)


@pytest.mark.parametrize("scale, expected", [(False, 1e-3), (True, 4e-3)])
def test_the_optimizer_trains_at_the_scaled_rate(scale, expected):
    from tfbig.training.optimizers import build_optimizer, scaled_learning_rate

    train = train_config(scale_learning_rate=scale)
    assert scaled_learning_rate(train, 4) == pytest.approx(expected)
    optimizer = build_optimizer(train, d_model=32, total_steps=10, replicas=4)
    assert float(optimizer.learning_rate) == pytest.approx(expected)
    one_replica = build_optimizer(train, d_model=32, total_steps=10)  # the rate as given
    assert float(one_replica.learning_rate) == pytest.approx(1e-3)


def test_the_plateau_warm_up_ramps_to_the_scaled_rate(tmp_path):
    from tfbig.training.plateau import LinearWarmup, plateau_callbacks

    train = train_config(schedule="plateau", warmup_steps=5, scale_learning_rate=True)
    callbacks = plateau_callbacks(train, monitor="val_loss", mode="min",
                                  state_path=str(tmp_path / "plateau.json"), replicas=2)
    (warmup,) = [c for c in callbacks if isinstance(c, LinearWarmup)]
    assert warmup.peak_learning_rate == pytest.approx(2e-3)


def test_the_start_line_prints_the_global_batch_and_the_scaled_rate():
    from tfbig.training.distribute import describe_devices

    strategy = types.SimpleNamespace(num_replicas_in_sync=2)  # any strategy's replica count
    line = describe_devices(strategy, "default", 64, scaled_rate=1e-3)
    assert line.endswith("2 replicas, global batch 64 (32 a replica); learning rate 0.001 × 2 "
                         "replicas = 0.002 (train.scale_learning_rate)"), line
    assert "learning rate" not in describe_devices(strategy, "default", 64)
