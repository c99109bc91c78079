"""Helpers shared by the layer and model tests (keras-hub's ``run_layer_test``, tiny)."""

import os
import warnings

import keras
import numpy as np
import tensorflow as tf

# Tolerances for float32 results computed two ways (other kernels, another summation order,
# another formula): derived from float32 round-off, not tuned on one machine's kernels.
FLOAT32_EPS = float(np.finfo(np.float32).eps)  # 2**-23 ≈ 1.19e-7: one ulp of 1.0


def float32_tolerance(magnitude=1.0, steps=1, ulps=4):
    """Absolute difference two float32 computations of one value may show: ``ulps``
    round-offs per step, ``steps`` steps (iterations of a recurrence, or terms summed in
    another order), each on values up to ``magnitude``.

    A sum of ``n`` terms in another order differs by up to ~``n·eps·Σ|terms|``
    (``steps=n, magnitude=Σ|terms|``); an optimizer step repeated ``k`` times by about a
    few ulps of the weights' magnitude each time (``steps=k, magnitude=max|w|``).

    Example:
        >>> float32_tolerance(magnitude=1.0, steps=5)  # 5 steps x 4 ulps of 1.0
        2.384185791015625e-06
    """
    return ulps * steps * FLOAT32_EPS * magnitude


def _is_array(value):
    return isinstance(value, (np.ndarray, tf.Tensor))


def _relaxed_spec(array):
    """A ``TensorSpec`` with unknown batch/time sizes: only a float's last dim stays fixed."""
    array = np.asarray(array)
    shape = [None] * array.ndim
    if array.dtype.kind == "f" and array.ndim:
        shape[-1] = array.shape[-1]
    return tf.TensorSpec(shape, tf.as_dtype(array.dtype))


def _functional_model(layer, inputs, tensor_kwargs, static_kwargs):
    """A functional ``keras.Model`` around ``layer``: one ``keras.Input`` per array input
    (unknown batch size), in the order positional inputs, then tensor keyword arguments."""
    symbolic = [keras.Input(np.shape(x)[1:], dtype=str(np.asarray(x).dtype)) for x in inputs]
    symbolic_kwargs = {k: keras.Input(np.shape(v)[1:], dtype=str(np.asarray(v).dtype))
                       for k, v in tensor_kwargs.items()}
    outputs = layer(*symbolic, **symbolic_kwargs, **static_kwargs)
    return keras.Model(symbolic + list(symbolic_kwargs.values()), outputs)


def run_layer_test(layer_factory, inputs, call_kwargs=None, build_args=None,
                   expected_output_shape=None, save_model=True, tmp_dir=None, atol=1e-6,
                   fit=True):
    """Check the Keras checklist of one layer at a tiny size; returns the eager output.

    Args:
        layer_factory: ``() -> layer`` (a fresh, unbuilt layer).
        inputs: tuple of positional numpy inputs.
        call_kwargs: keyword arguments of the call; numpy values become model inputs.
        build_args: if given, ``layer.build(*build_args)`` before the first call (for
            layers whose ``build`` Keras cannot call from the call arguments).
        expected_output_shape: checked against the eager output.
        save_model: also save/load a functional model wrapping the layer as ``.keras``.
        tmp_dir: folder for the ``.keras`` file (pytest's ``tmp_path``).
        fit: also train the functional model one step (keras-hub's training check).

    Checks: ``from_config(get_config())`` gives the same config and, with the same
    weights, the same output; the eager call equals the call inside ``tf.function``
    (with unknown batch/time sizes); a ``.keras`` save/load (``safe_mode=True``) of a
    functional model around the layer gives identical outputs; one ``fit`` step of that
    model (mean squared error against random targets, Adam) gives a finite loss and changes
    every trainable weight (none is cut off from the gradient).
    """
    call_kwargs = dict(call_kwargs or {})
    tensor_kwargs = {k: v for k, v in call_kwargs.items() if _is_array(v)}
    static_kwargs = {k: v for k, v in call_kwargs.items() if not _is_array(v)}

    layer = layer_factory()
    if build_args is not None:
        layer.build(*build_args)
    eager = keras.ops.convert_to_numpy(layer(*inputs, **call_kwargs))
    if expected_output_shape is not None:
        assert eager.shape == tuple(expected_output_shape)
    assert np.all(np.isfinite(eager))

    # Config round trip: same config, and the same function once weights are copied.
    config = layer.get_config()
    clone = layer.__class__.from_config(config)
    assert clone.get_config() == config
    if build_args is not None:
        clone.build(*build_args)
    clone(*inputs, **call_kwargs)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(clone(*inputs, **call_kwargs)), eager, atol=atol)

    # Eager == graph, with batch and time sizes unknown when tracing.
    signature = (tuple(_relaxed_spec(x) for x in inputs),
                 {k: _relaxed_spec(v) for k, v in tensor_kwargs.items()})

    @tf.function(input_signature=signature)
    def graph_call(args, kwargs):
        return layer(*args, **kwargs, **static_kwargs)

    graph = graph_call(tuple(tf.convert_to_tensor(x) for x in inputs),
                       {k: tf.convert_to_tensor(v) for k, v in tensor_kwargs.items()})
    np.testing.assert_allclose(graph.numpy(), eager, atol=atol)

    model = _functional_model(layer, inputs, tensor_kwargs, static_kwargs)
    model_inputs = list(inputs) + list(tensor_kwargs.values())
    if save_model:
        assert tmp_dir is not None, "save_model needs tmp_dir (pytest's tmp_path)"
        before = keras.ops.convert_to_numpy(model(model_inputs))
        np.testing.assert_allclose(before, eager, atol=atol)
        path = os.path.join(str(tmp_dir), "layer_model.keras")
        model.save(path)
        loaded = keras.models.load_model(path, safe_mode=True)
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(model_inputs)), before)
        restored = loaded.get_layer(layer.name)
        assert type(restored) is type(layer)
        assert restored.get_config() == config

    if fit:
        # One training step (keras-hub's run_training_step): Adam moves every weight whose
        # gradient is not exactly zero by about its learning rate.
        targets = np.random.default_rng(0).normal(size=eager.shape).astype(eager.dtype)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse", jit_compile=False)
        start = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
        with warnings.catch_warnings():  # a layer without weights (Dropout) still trains
            warnings.filterwarnings("ignore", "The model does not have any trainable weights")
            history = model.fit(model_inputs, targets, batch_size=len(targets), epochs=1,
                                shuffle=False, verbose=0)
        assert np.isfinite(history.history["loss"][-1])
        unchanged = [w.path for w, w0 in zip(model.trainable_weights, start)
                     if np.array_equal(keras.ops.convert_to_numpy(w), w0)]
        assert not unchanged, f"one fit step left these weights unchanged: {unchanged}"
    return eager


def natural_pairs(count, seed=0):
    """``count`` sentence pairs over a generated lexicon of 3,000 words drawn Zipf-like:
    text that looks like natural language to tfbig's data-derived defaults."""
    import random

    rng = random.Random(seed)
    consonants, vowels = "bcdfghjklmnprstvz", "aeiou"
    words = sorted({"".join(rng.choice(consonants) + rng.choice(vowels)
                            for _ in range(rng.randint(1, 4))) for _ in range(4000)})[:3000]
    weights = [1 / (rank + 1) for rank in range(len(words))]

    def sentence():
        chosen = rng.choices(words, weights, k=rng.randint(4, 14))
        return " ".join(chosen).capitalize() + rng.choice([".", "!", "?"])

    return [(sentence(), sentence()) for _ in range(count)]


def round_trip_in_tf_function(tokenizer, texts):
    """Tokenize and detokenize ``texts`` inside one ``tf.function`` (unknown batch size);
    checks the ids equal eager tokenizing and returns the detokenized texts as ``str``."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def round_trip(batch):
        ids = tokenizer.tokenize(batch)
        return ids.to_tensor(), tokenizer.detokenize(ids.to_tensor())

    ids, decoded = round_trip(tf.constant(texts))
    assert ids.numpy().tolist() == tokenizer.tokenize(texts).to_tensor().numpy().tolist()
    return [text.decode("utf-8") for text in decoded.numpy()]
