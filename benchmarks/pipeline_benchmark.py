"""Can the tf.data pipelines feed the default Transformer? Batches/s side by side.

    python benchmarks/pipeline_benchmark.py              # ~1-2 minutes on a laptop CPU
    python benchmarks/pipeline_benchmark.py --batches 50 --steps 5   # quicker

Measures, in one process and one after the other (so they never compete for the CPU):

1. the translation pipeline on ``data/dates.tsv`` (the default task's data and char
   tokenizers), with source-side text augmentation on, and without;
2. the classification pipeline on ``data/reviews.tsv`` (a learned WordPiece tokenizer),
   without and with augmentation;
3. the default Transformer's train step (d_model 128, 2 layers, 4 heads, dff 512, batch 64:
   ``tfbig.config.resolve({})``), compiled as ``tfbig.train`` compiles it on this machine
   (masked cross-entropy with label smoothing, masked accuracy, AdamW, and XLA as
   ``train.jit_compile=auto`` decides: on with a GPU/TPU, off on a CPU, where XLA trains
   this model more slowly and would flatter the ratio), timed with ``train_on_batch`` after
   warm-up steps (tracing, compiling).

and prints batches/s and each pipeline's ratio to the model's rate. The pipelines should
run at least 10x faster than the model consumes batches, so the accelerator never waits
(in a real run they also share the CPU with the step's host work; the margin is for that).
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

TARGET_RATIO = 10.0


def batches_per_second(dataset, batches, warmup):
    """Rate of a ``repeat``-ed dataset after ``warmup`` batches (tracing, first fill)."""
    iterator = iter(dataset)
    for _ in range(warmup):
        next(iterator)
    started = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches / (time.perf_counter() - started)


def model_steps_per_second(config, source_vocab, target_vocab, batch, steps, warmup):
    """Train steps/s of the default Transformer on one fixed batch, after warm-up steps;
    returns ``(steps/s, parameters, xla)``."""
    import keras
    import tensorflow as tf

    from tfbig.losses import MaskedSparseCrossentropy
    from tfbig.metrics import MaskedAccuracy
    from tfbig.models import Transformer
    from tfbig.training.distribute import use_xla
    from tfbig.training.optimizers import build_optimizer

    xla = use_xla(config.train.jit_compile, tf.distribute.get_strategy())  # as tfbig.train

    keras.utils.set_random_seed(config.train.seed)
    m = config.model
    model = Transformer(num_layers=m.num_layers, d_model=m.d_model, num_heads=m.num_heads,
                        dff=m.dff, input_vocab_size=source_vocab, target_vocab_size=target_vocab,
                        dropout_rate=m.dropout_rate)
    model.compile(optimizer=build_optimizer(config.train, m.d_model, 1000),
                  loss=MaskedSparseCrossentropy(label_smoothing=config.train.label_smoothing),
                  metrics=[MaskedAccuracy()], jit_compile=xla)
    inputs, targets = batch
    for _ in range(warmup):
        model.train_on_batch(inputs, targets)
    started = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(inputs, targets)
    return steps / (time.perf_counter() - started), model.count_params(), xla


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=100, help="timed batches per pipeline")
    parser.add_argument("--steps", type=int, default=20, help="timed train steps")
    args = parser.parse_args(argv)

    from tfbig.tasks import resolve_config as resolve
    from tfbig.data.augment_text import TextAugmentConfig
    from tfbig.data.pipeline_text import classification_dataset
    from tfbig.data.pipeline_translate import translation_dataset
    from tfbig.data.token_lengths import longest_tokenized
    from tfbig.data.pipeline_text import label_ids_from
    from tfbig.data.sources import read_labelled, read_pairs
    from tfbig.data.splits import split_examples
    from tfbig.data.tokenizers import learn_tokenizer
    from tfbig.tasks.data_files import REPO_DATA

    # --- the default translate run: dates sample, char tokenizers, lengths from the data
    config = resolve({})
    data, batch_size = config.data, config.train.batch_size
    train_pairs = split_examples(list(read_pairs(os.path.join(REPO_DATA, "dates.tsv"))),
                                 validation=data.validation_split, test=data.test_split)["train"]
    options = dict(vocab_size=data.vocab_size, lower_case=data.lower_case)
    source_tokenizer = learn_tokenizer("char", (s for s, _ in train_pairs), **options)
    target_tokenizer = learn_tokenizer("char", (t for _, t in train_pairs), **options)
    source_length = longest_tokenized((s for s, _ in train_pairs), source_tokenizer)
    target_length = longest_tokenized((t for _, t in train_pairs), target_tokenizer) + 1
    augment = TextAugmentConfig(delete_rate=0.1, substitute_rate=0.05, swap_rate=0.1)

    def translation(augment):
        return translation_dataset(
            train_pairs, source_tokenizer, target_tokenizer, batch_size=batch_size,
            source_length=source_length, target_length=target_length,
            shuffle=True, seed=0, repeat=True, drop_remainder=True, augment=augment)

    # --- the classification sample with a learned WordPiece tokenizer
    reviews = split_examples(list(read_labelled(os.path.join(REPO_DATA, "reviews.tsv"))),
                             validation=0.1, test=0.1)["train"]
    wordpiece = learn_tokenizer("wordpiece", (text for text, _ in reviews), vocab_size=2000,
                                lower_case=True)
    label_ids = label_ids_from(label for _, label in reviews)

    def classification(augment):
        return classification_dataset(reviews, wordpiece, label_ids, batch_size=batch_size,
                                      sequence_length=64, shuffle=True, seed=0, repeat=True,
                                      drop_remainder=True, augment=augment)

    rows = []
    for name, dataset in [
            ("translation, dates, augment on", translation(augment)),
            ("translation, dates, plain", translation(None)),
            ("classification, reviews, plain", classification(None)),
            ("classification, reviews, augment on", classification(augment))]:
        rows.append((name, batches_per_second(dataset, args.batches, warmup=5)))
        print(f"  measured {name}: {rows[-1][1]:.1f} batches/s", file=sys.stderr)

    batch = next(iter(translation(None)))
    model_rate, parameters, xla = model_steps_per_second(
        config, source_tokenizer.vocab_size, target_tokenizer.vocab_size, batch, args.steps,
        warmup=3)
    model = config.model
    print(f"model: Transformer d_model={model.d_model} layers={model.num_layers} "
          f"heads={model.num_heads} dff={model.dff}, {parameters:,} parameters; batch "
          f"{batch_size}, source {source_length}, target {target_length} "
          f"tokens; XLA {'on' if xla else 'off'} (train.jit_compile="
          f"{config.train.jit_compile})")
    width = max(len(name) for name, _ in rows) + 2
    print(f"{'what':<{width}}{'batches/s':>11}{'x model':>10}")
    for name, rate in rows:
        flag = "" if rate / model_rate >= TARGET_RATIO else f"  < {TARGET_RATIO:.0f}x target"
        print(f"{name:<{width}}{rate:>11.1f}{rate / model_rate:>9.1f}x{flag}")
    print(f"{'model train step (train_on_batch)':<{width}}{model_rate:>11.1f}{1.0:>9.1f}x")
    slowest = min(rate for _, rate in rows) / model_rate
    verdict = "meets" if slowest >= TARGET_RATIO else "misses"
    print(f"slowest pipeline / model = {slowest:.1f}x: {verdict} the {TARGET_RATIO:.0f}x target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
