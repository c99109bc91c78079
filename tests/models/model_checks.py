"""Checks every tfbig model must pass, shared by the ``tests/models/test_*.py`` modules.

Each takes a built model and a tiny batch; together they are keras-hub's
``run_model_test``: config round trip, ``.keras`` save/load, and a few ``fit`` steps.
"""

import keras
import numpy as np


def outputs_of(model, inputs):
    """``model(inputs)`` as numpy (a dict of arrays for dict outputs)."""
    outputs = model(inputs, training=False)
    if isinstance(outputs, dict):
        return {key: np.asarray(value) for key, value in outputs.items()}
    return np.asarray(outputs)


def assert_same_outputs(a, b, atol=1e-5):
    if isinstance(a, dict):
        assert sorted(a) == sorted(b)
        for key in a:
            np.testing.assert_allclose(a[key], b[key], atol=atol, err_msg=key)
    else:
        np.testing.assert_allclose(a, b, atol=atol)


def assert_config_round_trip(model):
    """``from_config(get_config())`` rebuilds an equal config (also after JSON)."""
    config = model.get_config()
    restored = type(model).from_config(config)
    assert restored.get_config() == config
    json_restored = keras.models.model_from_json(model.to_json())
    assert type(json_restored) is type(model)


def assert_save_load(model, inputs, tmp_path):
    """Save as ``.keras``, load with ``safe_mode=True``: same class, same outputs."""
    expected = outputs_of(model, inputs)
    path = str(tmp_path / "model.keras")
    model.save(path)
    restored = keras.models.load_model(path, safe_mode=True)
    assert type(restored) is type(model)
    assert_same_outputs(outputs_of(restored, inputs), expected)
    return restored


def assert_fit_decreases(model, x, y, steps=4, learning_rate=1e-2):
    """A few graph-mode ``fit`` steps on one fixed batch lower the loss (sparse CE).

    No XLA (compiling it costs more than the steps), and Adam's slots are built eagerly
    first: created inside the first traced train step they cost several times the tracing.
    """
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=False)
    model.optimizer.build(model.trainable_variables)
    losses = model.fit(x, y, epochs=steps, batch_size=len(y), verbose=0).history["loss"]
    assert np.all(np.isfinite(losses))
    assert losses[-1] < losses[0], losses
