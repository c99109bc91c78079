"""Choosing a ``tf.distribute`` strategy. Only the training entry point opens its scope;
layers and models never see a strategy.
"""

from tfbig.errors import TfbigError

_MIRRORED = {}  # device names → the process's MirroredStrategy over them (get_strategy)


def get_strategy(name, cpu_replicas=0):
    """``auto`` | ``default`` | ``mirrored`` | ``multiworker`` | ``tpu`` → a strategy.

    ``auto`` mirrors over all local GPUs when there are two or more, else the default
    (one device). ``multiworker`` reads the cluster from the ``TF_CONFIG`` variable.
    ``mirrored`` on a machine without GPUs mirrors over ``cpu_replicas`` logical CPUs
    (:func:`split_cpu`) when that is 2 or more.
    """
    import tensorflow as tf

    if name == "auto":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        # All local GPUs; on a CPU-only machine, all logical CPUs (one unless split, by
        # train.cpu_replicas or tf.config.set_logical_device_configuration).
        if cpu_replicas > 1 and not tf.config.list_physical_devices("GPU"):
            split_cpu(cpu_replicas)
        gpus = tf.config.list_logical_devices("GPU")
        devices = tuple(device.name for device in gpus or tf.config.list_logical_devices("CPU"))
        # One strategy per process and device set: a second MirroredStrategy's collectives
        # reuse the first one's instance keys, and its first all-reduce then fails with
        # "Shape mismatch in the collective instance 100" (two runs in one process: a
        # notebook, a tuning worker's trials).
        if devices not in _MIRRORED:
            _MIRRORED[devices] = tf.distribute.MirroredStrategy(list(devices))
        return _MIRRORED[devices]
    if name == "multiworker":
        # The cluster from TF_CONFIG (checked first: tfbig.training.multiworker_loop, which
        # also trains under it: Keras 3's model.fit cannot, keras-team/keras#20585). It must
        # be created before any other TensorFlow op runs in the process.
        from tfbig.training.multiworker_loop import worker_role

        worker_role("")
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
        except (ValueError, RuntimeError, tf.errors.OpError) as error:
            said = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise TfbigError(f"train.strategy=tpu: no TPU found (TPUClusterResolver: {said}); "
                             f"on a Cloud TPU VM run it there, else set TPU_NAME to the "
                             f"TPU's name; without a TPU use auto, default or mirrored") from None
        return tf.distribute.TPUStrategy(resolver)
    raise TfbigError(f"unknown strategy {name!r}; expected auto, default, mirrored, "
                     f"multiworker or tpu")


def split_cpu(count):
    """Make the CPU ``count`` logical devices (before TensorFlow initialises its devices).

    They share the same cores: a way to run multi-device code (a MirroredStrategy with
    ``count`` replicas) on a laptop, not a speed-up.
    """
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    if len(tf.config.get_logical_device_configuration(cpu) or [None]) == count:
        return
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)])
    except RuntimeError:  # "Virtual devices cannot be modified after being initialized"
        have = len(tf.config.list_logical_devices("CPU"))
        raise TfbigError(f"train.cpu_replicas={count}: TensorFlow already set up this "
                         f"process's devices ({have} logical CPU{'s' if have != 1 else ''}); the CPU must be split "
                         f"before anything runs on it: start a new process (a notebook: "
                         f"restart the kernel and train first)") from None


def without_bool_tensors(dataset):
    """``dataset`` with its bool tensors (padding masks) as int8, for ``fit`` on replicas.

    Under a strategy with several replicas, Keras' ``fit`` averages a first batch over the
    replicas to build the model symbolically (``_maybe_symbolic_build`` in
    ``keras/src/backend/tensorflow/trainer.py``), and TensorFlow cannot sum bools (its AddN
    has no bool kernel): every text classifier failed there under ``--strategy mirrored``.
    tfbig's models cast masks back to bool (``tfbig.models.text_inputs``).
    """
    import tensorflow as tf

    def cast(*batch):
        return tf.nest.map_structure(
            lambda t: tf.cast(t, tf.int8) if t.dtype == tf.bool else t, batch)

    if not any(spec.dtype == tf.bool for spec in tf.nest.flatten(dataset.element_spec)):
        return dataset
    return dataset.map(lambda *batch: cast(*batch)[0] if len(batch) == 1 else cast(*batch),
                       num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def use_xla(jit_compile, strategy):
    """``train.jit_compile`` → a bool for ``model.compile``.

    ``auto`` turns XLA on where it pays: on GPUs and TPUs (fused kernels, static shapes),
    not on CPUs, where TensorFlow's own kernels trained the performance issue's reference
    Transformer faster than XLA did (``benchmarks/train_throughput.py``, docs/benchmarks.md).
    """
    if jit_compile != "auto":
        return bool(jit_compile)
    import tensorflow as tf

    if isinstance(strategy, tf.distribute.TPUStrategy):
        return True
    return bool(tf.config.list_logical_devices("GPU"))


def describe_devices(strategy, name, batch_size, accumulation=1, scaled_rate=None):
    """``devices: 1 CPU (2 cores); strategy default (auto), 1 replica, global batch 64``,
    and with ``train.gradient_accumulation_steps`` 4: ``…, global batch 64; 4 batches an
    update: effective batch 256``; ``scaled_rate`` (the configured learning rate, under
    ``train.scale_learning_rate``): ``…; learning rate 0.001 × 2 replicas = 0.002
    (train.scale_learning_rate)``."""
    import os

    import tensorflow as tf

    replicas = strategy.num_replicas_in_sync
    if isinstance(strategy, tf.distribute.TPUStrategy):
        devices, resolved = f"{replicas} TPU core{'s' if replicas > 1 else ''}", "tpu"
    elif isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        local = strategy.extended.worker_devices  # this worker's replicas
        kind = "GPU" if "GPU" in local[0].upper() else "CPU"
        devices = (f"{replicas // len(local)} workers × {len(local)} "
                   f"{kind}{'s' if len(local) > 1 else ''}")
        resolved = "multiworker"
    else:
        resolved = ("mirrored" if isinstance(strategy, tf.distribute.MirroredStrategy)
                    else "default")
        gpus = tf.config.list_logical_devices("GPU")
        if gpus:
            physical = tf.config.list_physical_devices("GPU")
            model = (tf.config.experimental.get_device_details(physical[0]).get("device_name")
                     if physical else None)
            devices = f"{len(gpus)} GPU{'s' if len(gpus) > 1 else ''}" + (
                f" ({model})" if model else "")
        else:
            cpus = len(tf.config.list_logical_devices("CPU"))
            devices = (f"{cpus} CPUs" if cpus > 1 else
                       f"1 CPU ({os.cpu_count()} core{'s' if os.cpu_count() != 1 else ''})")
            if os.path.exists("/proc/driver/nvidia"):
                devices += (" (an NVIDIA driver is installed, but TensorFlow sees no GPU: "
                            "--verbose shows its log)")
    strategy_text = resolved if name == resolved else f"{resolved} ({name})"
    per_replica = f" ({batch_size // replicas} a replica)" if replicas > 1 else ""
    accumulated = (f"; {accumulation} batches an update: effective batch "
                   f"{batch_size * accumulation}" if accumulation > 1 else "")
    scaled = (f"; learning rate {scaled_rate:g} × {replicas} replica"
              f"{'s' if replicas > 1 else ''} = {scaled_rate * replicas:g} "
              f"(train.scale_learning_rate)" if scaled_rate is not None else "")
    return (f"devices: {devices}; strategy {strategy_text}, {replicas} "
            f"replica{'s' if replicas > 1 else ''}, global batch {batch_size}{per_replica}"
            f"{accumulated}{scaled}")
