"""Train a model from a resolved config into a run folder, with ``model.fit``.

    data → split → tokenizers (learnt from the training split) → tf.data pipeline →
    model (inside the strategy's scope) → compile → fit with callbacks → model.keras →
    test metrics → plots

Running the same command again on the same folder resumes an interrupted run from its last
finished epoch (Keras' BackupAndRestore: weights, optimizer state, epoch).
"""

import contextlib
import dataclasses
import os
import sys
import time
import warnings

from tfbig import config as config_lib
from tfbig import optional, run_folder
from tfbig.errors import TfbigError


_SAID = set()  # start lines already logged by this process


def log(message):
    """Progress goes to stderr; stdout is for results other programs read."""
    print(message, file=sys.stderr, flush=True)


def _resume_config(config, run_dir):
    """The saved config of an interrupted run, if the new one asks for the same run."""
    saved = config_lib.from_dict(run_folder.read_json(os.path.join(run_dir, run_folder.CONFIG)))
    # Fields left at 0 were resolved from the data (Task.resolve_lengths) into the saved one.
    wanted = config_lib.replace(config, data={
        field: getattr(config.data, field) or getattr(saved.data, field)
        for field in ("max_source_length", "max_target_length", "sample_rate", "clip_seconds")},
        train={"epochs": saved.train.epochs,  # and a stream's epoch, chosen from the data:
               "steps_per_epoch": config.train.steps_per_epoch or saved.train.steps_per_epoch})
    if wanted != saved:
        differences = config_lib.differences(saved, wanted)
        raise TfbigError(
            f"--output {run_dir} holds an interrupted run with another config "
            f"({'; '.join(differences[:3])}); rerun with the same settings to resume, or "
            f"pass --overwrite to start over")
    return config_lib.replace(saved, train={"epochs": config.train.epochs})


def _prepare_run_dir(config, run_dir, overwrite):
    state = run_folder.run_state(run_dir)
    if state == "interrupted" and not overwrite:
        return _resume_config(config, run_dir), True
    if state == "finished" and not overwrite:
        raise TfbigError(f"--output {run_dir} already holds a finished run (model.keras); "
                         f"choose another --output or pass --overwrite")
    if state != "new":
        run_folder.clear_run(run_dir)
    os.makedirs(run_dir, exist_ok=True)
    return config, False


def train(config, run_dir, *, overwrite=False, callbacks=(), verbose=None, start=None,
          resume_hint=False):
    """Train ``config`` into ``run_dir``; return the summary dict also saved as metrics.
    A non-chief worker of a multi-worker run returns ``{"train_seconds", "worker"}`` only
    (the chief writes the metrics).

    Before training it logs on stderr what will happen, one line each: the task, data files
    and examples per split; the model and its parameters; devices and strategy; XLA and
    precision; the run folder. After the first epoch: how long the others should take.

    Args:
        config: a :class:`tfbig.config.RunConfig`.
        run_dir: the run folder (created; resumed if it holds an interrupted run).
        overwrite: replace a finished or different run in ``run_dir``.
        callbacks: extra Keras callbacks.
        verbose: Keras verbosity; default a progress bar on a terminal, a line per epoch
            otherwise.
        start: a :class:`tfbig.runs.finetune.PretrainedStart` to fine-tune from
            pretrained weights (its tokenizer, its backbone, a method); None = scratch.
        resume_hint: say that the same command with ``--output run_dir`` resumes the run
            (the commands ``train`` and ``finetune``).
    """
    # Everything that can be wrong with the user's input is checked before TensorFlow is
    # imported and before the run folder is touched.
    from tfbig.tasks import get_task
    from tfbig.tasks.streaming import input_share, skip_finished_epochs

    if start is not None:
        config = dataclasses.replace(config, pretrained=start.record)
    config, chosen_for_files = _file_defaults(config)
    task = get_task(config)
    config = task.config  # model.name filled with the task's default
    task.check_augment()
    if config.data.tokenizer == "sentencepiece" and start is None:
        optional.check(["sentencepiece"])  # before hours of work, not after
    splits, report = task.load_splits()
    if report.skipped:
        log(str(report))  # "skipped N bad lines; first: path:line: why; …"
    if start is None:
        config, chosen = config_lib.with_data_defaults(config, task.data_defaults(splits["train"]))
        config = _budget_defaults(config)
        task = get_task(config)
    else:
        chosen = []
    for key, value, reason in chosen_for_files + chosen:
        log(f"default from the data: {key}={value} ({reason})")
    if config.train.layer_lr_decay != 1.0 and start is None:
        raise TfbigError(f"train.layer_lr_decay={config.train.layer_lr_decay} applies when "
                         f"fine-tuning a pretrained backbone (python -m tfbig.finetune); "
                         f"training from scratch uses one rate: leave it at 1.0")
    if (not config.train.steps_per_epoch
            and len(splits["train"]) < config.train.batch_size):
        raise TfbigError(f"train.batch_size={config.train.batch_size} is larger than the "
                         f"{len(splits['train'])} training examples; lower --batch-size")
    role = None  # this process's place in a multi-worker cluster
    if config.train.strategy == "multiworker":
        from tfbig.training.multiworker_loop import fit_multiworker, wait_for_all, worker_role

        if config.train.time_budget:
            raise TfbigError("train.time_budget does not work with train.strategy=multiworker "
                             "yet (each worker would plan from its own clock); set --epochs")
        role = worker_role(run_dir)
        run_dir = role.run_dir  # the chief's is the run folder; another worker's its own
    config, resuming = _prepare_run_dir(config, run_dir, overwrite)
    task = get_task(config)

    import keras
    import numpy as np

    from tfbig.training.callbacks import ThroughputLogger, standard_callbacks
    from tfbig.training.distribute import (describe_devices, get_strategy, use_xla,
                                           without_bool_tensors)
    from tfbig.training.optimizers import build_optimizer, updates
    from tfbig.training.plateau import plateau_callbacks
    from tfbig.training.precision import describe_precision, resolve_precision
    from tfbig.training.task_metrics import task_metrics_callback
    from tfbig.training.time_budget import TimeBudget
    from tfbig.training.time_estimate import TimeEstimate, format_duration

    # The strategy first: MultiWorkerMirroredStrategy must exist before any TensorFlow op.
    strategy = get_strategy(config.train.strategy, config.train.cpu_replicas)
    keras.utils.set_random_seed(config.train.seed)
    precision = resolve_precision(config.train.precision, strategy)
    keras.mixed_precision.set_global_policy(precision[0])
    if resuming:
        task.load_assets(run_dir)
    else:
        if start is not None:
            start.adopt_assets(task, splits["train"])
        else:
            task.learn_assets(splits["train"])
        config = task.resolve_lengths(splits["train"])
        config = task.resolve_steps(splits["train"])  # a stream's epoch (tasks.streaming)
        task.warn_truncation(splits)  # held-out examples the length limits cut
        task.save_assets(run_dir)
    config.save(os.path.join(run_dir, run_folder.CONFIG))
    log(_data_line(config, splits, task.sample_data))

    replicas = strategy.num_replicas_in_sync
    if config.train.batch_size % replicas:
        raise TfbigError(f"train.batch_size={config.train.batch_size} must be a multiple of "
                         f"the {replicas} replicas of train.strategy={config.train.strategy}")
    train_data = task.dataset(splits["train"], training=True)
    if resuming:  # a stream continues after its finished epochs' batches
        train_data = skip_finished_epochs(train_data, splits["train"], run_dir,
                                          config.train.steps_per_epoch)
    # Keras builds its metrics from the first validation batch averaged over replicas, which
    # fails when that batch splits unevenly; a first batch that divides evenly avoids it.
    validation_batch = min(config.train.batch_size,
                           max(replicas, len(splits["validation"]) // replicas * replicas))
    validation_data = task.dataset(splits["validation"], training=False,
                                   batch_size=validation_batch)
    # A task whose batches are not one example per row (lm packs lines into windows)
    # counts its own, so the learning-rate schedule spans the real number of steps.
    batches = getattr(task, "train_batches", None)
    steps_per_epoch = (config.train.steps_per_epoch
                       or (batches(splits["train"]) if batches
                           else len(splits["train"]) // config.train.batch_size))
    budget = config.train.time_budget
    epochs = (TimeBudget.epochs_for(budget, steps_per_epoch)
              if budget and not config.is_explicit("train.epochs") else config.train.epochs)
    total_steps = steps_per_epoch * epochs  # train batches; the schedule counts updates
    accumulation = config.train.gradient_accumulation_steps
    if updates(config.train, total_steps) < 1:
        raise TfbigError(f"train.gradient_accumulation_steps={accumulation} is more than the "
                         f"{total_steps} train batches of the whole run, so no update would "
                         f"happen; lower it or train more steps")

    with strategy.scope():
        model = task.build_model() if start is None else start.build_model(task)
        optimizer = build_optimizer(config.train, config.model.d_model,
                                    updates(config.train, total_steps), replicas)
        method_callbacks = ([] if start is None else
                            start.prepare(model, optimizer, config.train.layer_lr_decay))
        loss, metrics = task.loss_and_metrics()
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics,
                      jit_compile=use_xla(config.train.jit_compile, strategy),
                      steps_per_execution=config.train.steps_per_execution)
        # Create the optimizer's slots now: created inside the first traced train step
        # they make its tracing several times slower.
        if not optimizer.built:
            optimizer.build(model.trainable_variables)
    trainable = sum(int(np.prod(v.shape)) for v in model.trainable_variables)
    log(f"model: {config.model_name}, {model.count_params():,} parameters, "
        f"{trainable:,} trainable"
        + ("" if start is None else f"; fine-tuning {start.path} ({start.method})"))
    for line in (describe_devices(strategy, config.train.strategy, config.train.batch_size,
                                  accumulation, config.train.learning_rate
                                  if config.train.scale_learning_rate else None),
                 f"compute: XLA {'on' if model.jit_compile else 'off'}"
                 f"{' (auto)' if config.train.jit_compile == 'auto' else ''}, "
                 f"{describe_precision(*precision)}"):
        if line not in _SAID:  # once a process: the trials of a search share them
            log(line)
            _SAID.add(line)
    if resuming:
        log(f"run folder: {run_dir} (resuming its interrupted run)")
    else:
        log(f"run folder: {run_dir}" + (f" (the same command with --output {run_dir} "
                                        f"resumes it)" if resume_hint else ""))

    throughput = ThroughputLogger(task.tokens_per_step())
    monitor = config.train.monitor
    monitor, mode = (monitor, config_lib.monitor_mode(monitor)) if monitor else task.monitor
    # Callbacks that add to the epoch logs, in order: throughput and task metrics (val_bleu,
    # val_macro_f1) first, then the plateau cuts, which may monitor them.
    log_writers = [throughput]
    task_metrics = task_metrics_callback(task, splits["validation"],
                                         config.train.epoch_metrics_examples)
    if task_metrics is not None:
        log_writers.append(task_metrics)
    if config.train.schedule == "plateau":
        log_writers += plateau_callbacks(
            config.train, monitor=monitor, mode=mode,
            state_path=os.path.join(run_dir, run_folder.BACKUP, "plateau.json"),
            replicas=replicas)
    all_callbacks = standard_callbacks(
        run_dir, monitor=monitor, mode=mode,
        early_stopping_patience=config.train.early_stopping_patience,
        log_writers=log_writers)
    if verbose is None:
        verbose = 1 if sys.stderr.isatty() else 2
    # Keras adds its progress bar last: the estimate comes after the epoch's own line.
    all_callbacks += [*method_callbacks, *callbacks]
    budget_callback = None
    if budget:
        progress = keras.callbacks.ProgbarLogger()
        budget_callback = TimeBudget(budget, steps_per_epoch, log, progress=progress,
                                     validation_batches=-(-len(splits["validation"])
                                                          // validation_batch),
                                     batches_per_update=accumulation,
                                     schedule=getattr(optimizer, "_learning_rate", None)
                                     if config.train.schedule == "planned" else None)
        all_callbacks += [budget_callback, progress]
    else:
        all_callbacks.append(TimeEstimate(steps_per_epoch, epochs, log,
                                          mid_epoch=verbose != 1))
    started = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():
        # Keras 3.15 warns "Your input ran out of data" when a fit with steps_per_epoch
        # reaches the end of the *validation* set, which every evaluation does. The training
        # data cannot run out here (it repeats whenever steps_per_epoch is set), so the
        # warning would only mislead.
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        if role is None:
            if replicas > 1:  # Keras' fit averages a first batch over replicas: no bools
                train_data = without_bool_tensors(train_data)
                validation_data = without_bool_tensors(validation_data)
            model.fit(train_data, validation_data=validation_data, epochs=epochs,
                      steps_per_epoch=(steps_per_epoch if getattr(
                          task, "repeats_training_data", False) else
                          config.train.steps_per_epoch or None),
                      callbacks=all_callbacks, verbose=verbose,
                      shuffle=False)  # the tf.data pipeline shuffles, seeded
        else:
            fit_multiworker(
                model, strategy,
                # each worker skips the batches of its share that finished epochs took
                lambda batch, context: skip_finished_epochs(
                    task.dataset(input_share(splits["train"], context), training=True,
                                 batch_size=batch),
                    splits["train"], run_dir, steps_per_epoch),
                lambda batch: task.dataset(splits["validation"], training=False,
                                           batch_size=batch),
                batch_size=config.train.batch_size, validation_batch=validation_batch,
                epochs=epochs, steps_per_epoch=steps_per_epoch, callbacks=all_callbacks,
                verbose=verbose if role.chief else 0,
                # a stream or a prepared folder is sharded as it is read (input_share)
                shard_train=not hasattr(splits["train"], "for_input_pipeline"))
    seconds = time.perf_counter() - started
    run_folder.save_model(model, run_dir)  # every worker: saving reads synced variables
    if role is not None and not role.chief:
        role.clean_up()  # the chief writes the final metrics and plots
        wait_for_all(strategy)  # until the chief has
        return {"train_seconds": round(seconds, 1), "worker": role.index}
    if budget_callback is not None:
        total_steps = budget_callback.planned_steps or total_steps
        log(f"time budget: trained {format_duration(seconds)} of "
            f"{format_duration(60 * budget)}, {budget_callback.steps:,} steps"
            + (" (stopped on time)" if budget_callback.stopped_early else "")
            + "; the final metrics below are computed after the budget")

    # Final metrics on the validation split (CONTRACT: metrics.json) and the test split.
    evaluation_start = time.perf_counter()
    summary = {split: task.final_metrics(model, splits[split])[0]
               for split in ("validation", "test") if splits[split]}
    summary.update({
        "train_seconds": round(seconds, 1),
        "final_metrics_seconds": round(time.perf_counter() - evaluation_start, 1),
        # What the epoch-end task metrics (val_bleu, val_macro_f1, …) cost, in total.
        **({"epoch_metrics_seconds": round(sum(task_metrics.seconds), 1)}
           if task_metrics is not None else {}),
        "train_tokens_per_second": round(throughput.steady_rate, 1),
        "parameters": int(model.count_params()),
        "trainable_parameters": trainable,
    })
    run_folder.write_json(os.path.join(run_dir, run_folder.METRICS), summary)
    _write_plots(run_dir, config, total_steps, steps_per_epoch, replicas)
    task.write_plots(model, splits["test"] or splits["validation"],
                     os.path.join(run_dir, run_folder.PLOTS))
    if role is not None:
        wait_for_all(strategy)  # the other workers wait for the chief to end
    return summary


def _file_defaults(config):
    """With ``--val-data`` and no ``data.test_split`` of the user's, all of ``--data``
    trains: whoever brings a validation file has a test file for ``tfbig.evaluate``."""
    if config.data.val_path and not config.is_explicit("data.test_split"):
        return config_lib.with_data_defaults(config, [(
            "data.test_split", 0.0, "--val-data given: all of --data trains; score a test "
                                    "file with python -m tfbig.evaluate")])
    return config, []


def _budget_defaults(config):
    """A time-budgeted run's schedule, unless the user chose one: warm-up over 10% of the
    planned steps (``warmup_steps=0``), then linear decay to 0 where the time runs out."""
    if config.train.time_budget and not config.is_explicit("train.schedule"):
        warmup = {} if config.is_explicit("train.warmup_steps") else {"warmup_steps": 0}
        config = config_lib.replace(config, train={"schedule": "planned", **warmup})
    return config


def _data_line(config, splits, sample):
    """``data: translate task, the shipped sample dates.tsv: 6,367 train, 815 validation,
    818 test examples`` (or the ``--data`` path; with ``data.val_path``, that file after
    the counts)."""
    def shown(path):  # relative to the working directory if inside it
        try:
            relative = os.path.relpath(path)
        except ValueError:  # another drive
            return path
        return path if relative.split(os.sep)[0] == os.pardir else relative

    source = (shown(config.data.path) if config.data.path else
              f"the shipped sample {sample}")
    counts = {split: (splits[split].describe() if hasattr(splits[split], "describe")
                      else f"{len(splits[split]):,} {split}") for split in splits}
    if config.data.val_path:
        return (f"data: {config.task} task, {source}: {counts['train']}, {counts['test']} "
                f"examples; {shown(config.data.val_path)}: {counts['validation']}")
    return (f"data: {config.task} task, {source}: {counts['train']}, "
            f"{counts['validation']}, {counts['test']} examples")


def _write_plots(run_dir, config, total_steps, steps_per_epoch, replicas=1):
    """Training curves and the learning-rate schedule (as it ran: × ``replicas`` under
    ``train.scale_learning_rate``), as PNGs in ``plots/``."""
    import dataclasses

    import numpy as np

    from tfbig import plots
    from tfbig.training.optimizers import build_schedule, scaled_learning_rate, updates

    train = dataclasses.replace(config.train,
                                learning_rate=scaled_learning_rate(config.train, replicas))

    folder = os.path.join(run_dir, run_folder.PLOTS)
    os.makedirs(folder, exist_ok=True)
    history = os.path.join(run_dir, run_folder.HISTORY)
    if os.path.exists(history):
        plots.plot_history(history, os.path.join(folder, "history.png"))
    # The schedule's steps are optimizer updates (train batches ÷ gradient accumulation).
    total_steps = updates(config.train, total_steps)
    steps_per_epoch /= config.train.gradient_accumulation_steps
    if train.schedule == "plateau":
        steps, rates = _plateau_rates(train, history, steps_per_epoch)
    else:
        schedule = build_schedule(train, config.model.d_model, total_steps)
        steps = np.unique(np.linspace(0, max(total_steps - 1, 1), 200).astype(int))
        rates = [float(schedule(step)) if callable(schedule) else schedule for step in steps]
    plots.plot_learning_rate(steps, rates, os.path.join(folder, "learning_rate.png"))


def _plateau_rates(train, history, steps_per_epoch):
    """The plateau schedule as it ran: the warm-up ramp of the first epoch (no cut can
    come before its end), then the rate logged at each epoch end (the cuts depend on the
    run, so history.csv is the record)."""
    import csv

    import numpy as np

    ramp_end = min(train.warmup_steps, steps_per_epoch)
    steps = ([int(step) for step in np.unique(np.linspace(0, ramp_end - 1, 50).astype(int))]
             if ramp_end else [])
    rates = [train.learning_rate * (step + 1) / train.warmup_steps for step in steps]
    if os.path.exists(history):
        with open(history, encoding="utf-8") as f:
            for row in csv.DictReader(f):
                if row.get("learning_rate") not in (None, "", "NA"):
                    steps.append((int(row["epoch"]) + 1) * steps_per_epoch)
                    rates.append(float(row["learning_rate"]))
    return (steps, rates) if steps else ([0], [train.learning_rate])
