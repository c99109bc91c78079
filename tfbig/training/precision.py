"""``train.precision``: the Keras dtype policy a run trains under, and what ``auto`` picks.

``auto`` (the default) picks mixed precision where the hardware computes it natively:

    a TPU                                      mixed_bfloat16  (its matrix units are bf16)
    GPUs, all of compute capability >= 7.0     mixed_float16   (tensor cores, Volta on)
    anything else (CPUs, older GPUs)           float32

Under a mixed policy variables stay float32 and layers compute in the half type; tfbig's
models take their softmax and losses in float32, and Keras wraps the optimizer in a
``LossScaleOptimizer`` under ``mixed_float16`` (float16 gradients underflow without it).
"""

MIN_FLOAT16_CAPABILITY = (7, 0)  # tensor cores: Volta (V100) and later


def choose_precision(name, on_tpu, gpu_capabilities):
    """``(policy, reason)`` for ``train.precision`` ``name`` on the given devices.

    Args:
        name: ``auto``, ``float32``, ``mixed_float16`` or ``mixed_bfloat16``.
        on_tpu: whether the run's strategy is a ``TPUStrategy``.
        gpu_capabilities: ``[(major, minor)]``, one per GPU TensorFlow sees (``None`` where
            the driver does not say).

    Returns:
        The Keras policy name, and why ``auto`` chose it (``""`` for an explicit name).

    Example:
        >>> choose_precision("auto", on_tpu=False, gpu_capabilities=[(8, 0)])
        ('mixed_float16', 'GPU of compute capability 8.0')
        >>> choose_precision("auto", on_tpu=False, gpu_capabilities=[])
        ('float32', 'no GPU or TPU')
    """
    if name != "auto":
        return name, ""
    if on_tpu:
        return "mixed_bfloat16", "TPU"
    if not gpu_capabilities:
        return "float32", "no GPU or TPU"
    lowest = min(gpu_capabilities, key=lambda capability: capability or (0, 0))
    shown = "unknown" if lowest is None else f"{lowest[0]}.{lowest[1]}"
    if lowest is not None and tuple(lowest) >= MIN_FLOAT16_CAPABILITY:
        return "mixed_float16", f"GPU of compute capability {shown}"
    return "float32", (f"GPU of compute capability {shown}, below "
                       f"{MIN_FLOAT16_CAPABILITY[0]}.{MIN_FLOAT16_CAPABILITY[1]}")


def resolve_precision(name, strategy):
    """``(policy, reason)`` for ``name`` under ``strategy`` on this machine's devices (see
    :func:`choose_precision`)."""
    import tensorflow as tf

    on_tpu = isinstance(strategy, tf.distribute.TPUStrategy)
    capabilities = []
    if not on_tpu and name == "auto":
        for gpu in tf.config.list_physical_devices("GPU"):
            details = tf.config.experimental.get_device_details(gpu)
            capabilities.append(details.get("compute_capability"))
    return choose_precision(name, on_tpu, capabilities)


def describe_precision(policy, reason):
    """``precision mixed_float16 (auto: GPU of compute capability 8.0)`` or
    ``precision float32`` (an explicit choice)."""
    return f"precision {policy}" + (f" (auto: {reason})" if reason else "")
