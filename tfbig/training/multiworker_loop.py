"""Training under ``MultiWorkerMirroredStrategy`` with a ``strategy.run`` loop, not ``fit``.

Keras 3's ``model.fit`` fails under ``MultiWorkerMirroredStrategy`` on the TensorFlow
backend (https://github.com/keras-team/keras/issues/20585, open in Keras 3.15): after
``strategy.run`` its trainer reduces the scalar loss and metrics with
``strategy.reduce("MEAN", value, axis=0)``, and a scalar has no axis 0
(tensorflow/tensorflow#72388). This loop is ``fit``'s own loop around the same pieces —
``strategy.run(model.train_step)`` (the compiled model's loss, optimizer, loss scaling,
gradient accumulation and metrics), Keras' ``CallbackList`` with the run's callbacks
(checkpoints, backup and resume, CSV, TensorBoard, early stopping, plateau cuts, task
metrics) — with the reductions done the way a multi-worker strategy allows. When Keras
fixes #20585, ``tfbig.runs.fit`` can call ``model.fit`` here too and this module goes;
users' commands stay the same.

Every worker runs the same command with its own ``TF_CONFIG``, the TensorFlow convention:

    TF_CONFIG='{"cluster": {"worker": ["host1:12345", "host2:12345"]},
                "task": {"type": "worker", "index": 0}}'

Worker 0 is the chief: it writes the run folder. The others write theirs (TensorFlow's
collectives need every worker to save and checkpoint alike) to ``<run folder>/.worker<i>``,
their own copy that a restarted worker resumes from, removed when the run finishes.

Data: each worker builds the same seeded pipeline and keeps every n-th per-replica batch
(``input_pipeline_id`` of ``num_input_pipelines``), so a step trains on one global batch,
split over the workers. Validation is not split: every worker scores the whole validation
split (the cost of one process), so all run the same number of steps and read the same
metrics — Keras' metrics are ratios of sums, which the cross-worker sum leaves unchanged.
"""

import json
import os
import shutil
import warnings
from dataclasses import dataclass

from tfbig.errors import TfbigError

EXAMPLE_TF_CONFIG = ('{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                     '"task": {"type": "worker", "index": 0}}')


@dataclass(frozen=True)
class WorkerRole:
    """This process's place in the cluster that ``TF_CONFIG`` describes.

    Attributes:
        index: the worker's ``task.index`` (0 = the chief).
        workers: how many workers the cluster has.
        run_dir: where this worker writes: the run folder (chief) or its own folder in it.
    """

    index: int
    workers: int
    run_dir: str

    @property
    def chief(self):
        return self.index == 0

    def clean_up(self):
        """Remove a non-chief worker's folder once the run has finished."""
        if not self.chief:
            shutil.rmtree(self.run_dir, ignore_errors=True)


def worker_role(run_dir, environ=os.environ):
    """The :class:`WorkerRole` of this process from ``TF_CONFIG``; a missing or malformed
    variable is a one-line :class:`TfbigError` saying what to set (no TensorFlow needed)."""
    text = environ.get("TF_CONFIG", "")
    if not text.strip():
        raise TfbigError(f"train.strategy=multiworker needs the TF_CONFIG environment variable "
                         f"on every worker, e.g. TF_CONFIG='{EXAMPLE_TF_CONFIG}' (index 0 is "
                         f"the chief); for one machine use --strategy mirrored")
    try:
        spec = json.loads(text)
        workers = spec["cluster"]["worker"]
        task_type, index = spec["task"]["type"], int(spec["task"]["index"])
    except (ValueError, KeyError, TypeError) as error:
        raise TfbigError(f"TF_CONFIG={text!r} is not a cluster spec ({type(error).__name__}: "
                         f"{error}); expected e.g. '{EXAMPLE_TF_CONFIG}'") from None
    if task_type != "worker" or not 0 <= index < len(workers) or "chief" in spec["cluster"]:
        raise TfbigError(f"TF_CONFIG task {spec['task']} does not name one of the "
                         f"{len(workers)} workers of cluster.worker; expected "
                         f'"task": {{"type": "worker", "index": 0 … {len(workers) - 1}}} '
                         f"(tfbig's chief is worker 0, not a separate chief task)")
    own = run_dir if index == 0 else os.path.join(run_dir, f".worker{index}")
    return WorkerRole(index=index, workers=len(workers), run_dir=own)


def distributed_datasets(strategy, make_dataset, global_batch, shard):
    """``strategy.distribute_datasets_from_function`` over ``make_dataset(per_replica_batch)``,
    repeated; with ``shard`` each input pipeline keeps its own share of the batches."""

    def dataset_fn(context):
        dataset = make_dataset(context.get_per_replica_batch_size(global_batch))
        if shard:
            dataset = dataset.repeat().shard(context.num_input_pipelines,
                                             context.input_pipeline_id)
        return dataset

    return strategy.distribute_datasets_from_function(dataset_fn)


def wait_for_all(strategy):
    """Return once every worker has called this (an all-reduce of one number): a worker
    that finishes first waits, so no worker sees another vanish while it still works."""
    import tensorflow as tf

    @tf.function  # in a graph: collectives run eagerly are slow and warn
    def barrier():
        return strategy.reduce(tf.distribute.ReduceOp.SUM,
                               strategy.run(lambda: tf.constant(1.0)), axis=None)

    barrier()


def _to_floats(logs):
    return {name: float(value) for name, value in logs.items()}


def fit_multiworker(model, strategy, make_train_data, make_validation_data, **options):
    """Train ``model`` (compiled inside ``strategy.scope()``) like ``model.fit``: see
    :func:`_fit` for the arguments."""
    with warnings.catch_warnings():
        # tf.distribute reads the datasets' options in graph mode, which TensorFlow warns of.
        warnings.filterwarnings("ignore", message="To make it possible to preserve tf.data")
        return _fit(model, strategy, make_train_data, make_validation_data, **options)


def _fit(model, strategy, make_train_data, make_validation_data, *, batch_size,
         validation_batch, epochs, steps_per_epoch, callbacks, verbose):
    """The loop of :func:`fit_multiworker`.

    Args:
        model: the compiled model.
        strategy: the ``MultiWorkerMirroredStrategy``.
        make_train_data: ``per_replica_batch → tf.data.Dataset`` of training batches (the
            same seeded order on every worker).
        make_validation_data: ``batch → tf.data.Dataset`` of the validation split, or None.
        batch_size: the global batch (all replicas of all workers).
        validation_batch: the validation batch of each worker.
        epochs, steps_per_epoch: as ``fit``'s (steps are global steps).
        callbacks: Keras callbacks, called as ``fit`` calls them.
        verbose: ``fit``'s verbosity (give 0 on workers other than the chief).

    The model's ``jit_compile`` and ``steps_per_execution`` apply as in ``fit``: the step
    is XLA-compiled, and one call runs that many steps (callbacks see their first and
    last indices).

    Returns:
        The ``keras.callbacks.History``.
    """
    import keras
    import tensorflow as tf

    if model.jit_compile and "GPU" not in strategy.extended.worker_devices[0].upper():
        raise TfbigError("train.jit_compile=true with train.strategy=multiworker needs GPUs "
                         "(TensorFlow's XLA has no collectives on CPUs); set "
                         "train.jit_compile=auto or false")
    train_data = iter(distributed_datasets(strategy, make_train_data, batch_size, shard=True))
    validation_data = (None if make_validation_data is None else distributed_datasets(
        strategy, lambda _: make_validation_data(validation_batch), validation_batch,
        shard=False))

    # As Keras' trainer: the replica's step XLA-compiled, inside strategy.run.
    step = (tf.function(model.train_step, jit_compile=True) if model.jit_compile
            else model.train_step)

    @tf.function
    def train_function(iterator, steps):
        for _ in tf.range(steps):
            strategy.run(step, args=(next(iterator),))
        return model.get_metrics_result()  # read across workers: summed, then divided

    @tf.function
    def test_function(dataset):
        for batch in dataset:
            strategy.run(model.test_step, args=(batch,))
        return model.get_metrics_result()

    callback_list = keras.callbacks.CallbackList(
        callbacks, add_history=True, add_progbar=verbose != 0, model=model, verbose=verbose,
        epochs=epochs, steps=steps_per_epoch)
    steps_per_execution = model.steps_per_execution
    model.stop_training = False
    callback_list.on_train_begin()
    initial_epoch = model._initial_epoch or 0  # set by BackupAndRestore on a resume
    logs, training_logs = {}, None
    for epoch in range(initial_epoch, epochs):
        model.reset_metrics()
        callback_list.on_epoch_begin(epoch)
        for first in range(0, steps_per_epoch, steps_per_execution):
            steps = min(steps_per_execution, steps_per_epoch - first)
            callback_list.on_train_batch_begin(first)
            logs = _to_floats(train_function(train_data, tf.constant(steps)))
            callback_list.on_train_batch_end(first + steps - 1, logs)
            if model.stop_training:  # the same decision on every worker: logs are global
                break
        epoch_logs = dict(logs)
        if validation_data is not None:
            model.reset_metrics()
            validation_logs = _to_floats(test_function(validation_data))
            epoch_logs.update({f"val_{name}": value for name, value in validation_logs.items()})
        callback_list.on_epoch_end(epoch, epoch_logs)
        training_logs = epoch_logs
        if model.stop_training:
            break
    callback_list.on_train_end(logs=training_logs)
    model._initial_epoch = None
    return model.history
