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
split over the workers. A streamed corpus or a ``tfbig.prepare`` folder is sharded where it
is read instead (``tfbig.tasks.streaming.input_share``): each worker reads its own files
when there are at least as many as workers, else every worker reads every file and keeps
every n-th example (with a one-line warning). Validation is not split: every worker
scores the whole validation split (the cost of one process), so all run the same number of
steps and read the same metrics — Keras' metrics are ratios of sums, which the
cross-worker sum leaves unchanged.

A worker that dies does not hang the others: its peers' collectives fail at once when its
connections drop (a killed process: seconds), and otherwise TensorFlow's own peer health
check (``MultiWorkerMirroredStrategy``'s, on by default) aborts them. Either way TensorFlow
raises an ``UnavailableError`` whose message is a page of gRPC detail; :func:`fit_multiworker`
turns it into one line (:class:`WorkerLost`) saying which worker and how to resume.
"""

import json
import os
import re
import shutil
import warnings
from dataclasses import dataclass

from tfbig.errors import TfbigError

EXAMPLE_TF_CONFIG = ('{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                     '"task": {"type": "worker", "index": 0}}')


class WorkerLost(RuntimeError):
    """A worker of the cluster stopped or could not be reached during training."""


def worker_lost(error):
    """A one-line :class:`WorkerLost` for TensorFlow's ``UnavailableError`` (or
    ``DeadlineExceededError``) of a collective whose peer is gone."""
    text = str(error)
    # The peer: the remote end of the failed call, or the one the health check found down.
    peer = re.search(r"(?:remote target |alive failed, )/job:worker/replica:\d+/task:(\d+)",
                     text)
    reason = re.search(r"Connection reset by peer|Socket closed|cluster check alive failed[^\n]*"
                       r"|failed to connect to all addresses|Deadline Exceeded", text)
    return WorkerLost(
        f"{'worker ' + peer.group(1) if peer else 'a worker'} of the cluster stopped or cannot "
        f"be reached ({type(error).__name__}{': ' + reason.group(0) if reason else ''}); the "
        f"run stops: start every worker again with the same command to resume from the last "
        f"finished epoch")


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


def distributed_datasets(strategy, make_dataset, global_batch, shard, repeat=None):
    """``strategy.distribute_datasets_from_function`` over ``make_dataset(per_replica_batch,
    input_context)``; with ``repeat`` (default: ``shard``) repeated, with ``shard`` each
    input pipeline keeps its own share of the batches (a dataset that is already this
    pipeline's share, such as a stream read by file, needs ``shard=False``)."""
    repeat = shard if repeat is None else repeat

    def dataset_fn(context):
        dataset = make_dataset(context.get_per_replica_batch_size(global_batch), context)
        if repeat:
            dataset = dataset.repeat()
        if shard:
            dataset = dataset.shard(context.num_input_pipelines, context.input_pipeline_id)
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
    import tensorflow as tf

    with warnings.catch_warnings():
        # tf.distribute reads the datasets' options in graph mode, which TensorFlow warns of.
        warnings.filterwarnings("ignore", message="To make it possible to preserve tf.data")
        try:
            return _fit(model, strategy, make_train_data, make_validation_data, **options)
        except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError) as error:
            raise worker_lost(error) from None


def _fit(model, strategy, make_train_data, make_validation_data, *, batch_size,
         validation_batch, epochs, steps_per_epoch, callbacks, verbose, shard_train=True):
    """The loop of :func:`fit_multiworker`.

    Args:
        model: the compiled model.
        strategy: the ``MultiWorkerMirroredStrategy``.
        make_train_data: ``(per_replica_batch, input_context) → tf.data.Dataset`` of
            training batches: the same seeded order on every worker (``shard_train``: the
            loop keeps each pipeline's share of the batches), or this input pipeline's own
            share already (a stream read by file: ``shard_train=False``).
        make_validation_data: ``batch → tf.data.Dataset`` of the validation split, or None.
        batch_size: the global batch (all replicas of all workers).
        validation_batch: the validation batch of each worker.
        epochs, steps_per_epoch: as ``fit``'s (steps are global steps).
        callbacks: Keras callbacks, called as ``fit`` calls them.
        verbose: ``fit``'s verbosity (give 0 on workers other than the chief).
        shard_train: whether the loop shards the training batches across the pipelines.

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
    train_data = iter(distributed_datasets(strategy, make_train_data, batch_size,
                                           shard=shard_train, repeat=True))
    validation_data = (None if make_validation_data is None else distributed_datasets(
        strategy, lambda _, __: make_validation_data(validation_batch), validation_batch,
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
