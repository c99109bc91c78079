"""The fields of a run's config: three frozen dataclasses, one line of comment per field.

``DataConfig`` (what to read and how to tokenise it), ``ModelConfig`` (the network's sizes),
``TrainConfig`` (the optimisation and the run around it). Each validates its values in
``__post_init__`` and rejects a bad one with a :class:`~tfbig.errors.TfbigError` naming the
field, the value and what is expected. ``PRESETS`` are the named model sizes.

Nothing here knows a task: ``tfbig.tasks`` adds each task's defaults when a config is
resolved (``tfbig.tasks.resolve_config``). No TensorFlow is imported (fast ``--help``).
"""

import dataclasses

from tfbig.errors import TfbigError

MODELS = ("transformer", "bert", "gpt", "rnn", "cnn", "vit")
STRATEGIES = ("auto", "default", "mirrored", "multiworker", "tpu")
PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
TOKENIZERS = ("auto", "char", "word", "wordpiece", "sentencepiece", "subword")
SCHEDULES = ("transformer", "constant", "linear", "cosine", "plateau", "planned")
DECODERS = ("auto", "greedy", "beam")
# How much of a pretrained backbone trains (tfbig.training.finetune_methods; --method of
# tfbig.finetune): here, away from Keras, so a bad choice is refused before TensorFlow loads.
FINETUNE_METHODS = ("full", "freeze", "gradual", "lora")

# Monitored metrics that improve downwards; every other one (accuracy, F1, BLEU) upwards.
LOWER_IS_BETTER = ("loss", "cross_entropy", "perplexity")

# Named model sizes (nanoGPT-style table). A preset fills these fields; anything set
# explicitly in the config file, the flags or --set still wins.
PRESETS = {
    "tiny": dict(num_layers=1, d_model=64, num_heads=2, dff=128),
    "small": dict(num_layers=2, d_model=128, num_heads=4, dff=512),
    # 3 + 3 layers of width 256: the TensorFlow tutorial's translation Transformer
    "medium": dict(num_layers=3, d_model=256, num_heads=8, dff=512),
    "base": dict(num_layers=6, d_model=512, num_heads=8, dff=2048),  # the paper's base
    "benchmark": dict(num_layers=4, d_model=256, num_heads=8, dff=1024),
}


def _check(condition, field, value, expected):
    if not condition:
        raise TfbigError(f"config field {field}={value!r}: expected {expected}")


def _check_choice(field, value, choices):
    _check(value in choices, field, value, "one of " + ", ".join(choices))


@dataclasses.dataclass(frozen=True)
class DataConfig:
    path: str = ""  # training data (file or folder); "" = the task's shipped sample
    val_path: str = ""  # validation data; "" = a deterministic split of `path`
    validation_split: float = 0.1  # fraction held out for validation when val_path is ""
    test_split: float = 0.1  # fraction held out for the final test metrics
    skip_bad_lines: bool = False  # skip (and count) malformed lines instead of stopping
    max_bad_lines: int = 0  # streamed data: bad lines skipped (and counted) before stopping
    # Stream --data (never read it whole) when it is bigger than this, gzipped, a folder of
    # shards or a glob; 0 = always stream (see tfbig.tasks.streaming)
    stream_threshold_mb: int = 256
    stream_eval_examples: int = 2000  # streamed: held-out examples read for validation/test each
    stream_sample_examples: int = 100000  # streamed: examples read for vocabulary and lengths
    # JSONL data (.jsonl, .jsonl.gz: one JSON object per line): the keys of an example's fields
    text_field: str = "text"  # classify, lm, mlm: the text
    label_field: str = "label"  # classify: the label (a string or an integer)
    source_field: str = "source"  # translate: the source text
    target_field: str = "target"  # translate: the target text
    # char | word | wordpiece | sentencepiece | subword | auto (translate: chosen from the
    # data, see tfbig.tasks.translate_defaults; other tasks: wordpiece)
    tokenizer: str = "auto"
    # Largest vocabulary learnt from the training split (per side for translate, where by
    # default it follows the corpus: see tfbig.tasks.translate_defaults)
    vocab_size: int = 8000
    lower_case: bool = False  # case-fold text (keeps accents unless strip_accents)
    strip_accents: bool = False  # remove combining accents after NFD
    max_source_length: int = 0  # source/input tokens kept; 0 = longest in the data
    max_target_length: int = 0  # target tokens kept incl. [START]/[END]; 0 = from data
    shuffle_buffer: int = 10000  # examples in the shuffle buffer
    # Training-time augmentation rates by name, e.g. {delete_rate: 0.1, mask_rate: 0.05}
    # (text: tfbig.data.augment_text.TextAugmentConfig; images: ImageAugmentConfig); {} = off
    augment: dict = dataclasses.field(default_factory=dict)
    image_size: int = 32  # image task: every image is resized to image_size × image_size
    sample_rate: int = 0  # audio: Hz every clip is resampled to; 0 = the first training file's
    clip_seconds: float = 0.0  # audio: every clip cropped/padded to this; 0 = longest training

    def __post_init__(self):
        for name in ("validation_split", "test_split"):
            value = getattr(self, name)
            _check(0.0 <= value < 1.0, f"data.{name}", value, "a fraction in [0, 1)")
        _check(self.validation_split + self.test_split < 0.9, "data.validation_split",
               self.validation_split, "validation_split + test_split below 0.9")
        _check_choice("data.tokenizer", self.tokenizer, TOKENIZERS)
        _check(self.vocab_size >= 16, "data.vocab_size", self.vocab_size, "an integer >= 16")
        for name in ("max_source_length", "max_target_length"):
            value = getattr(self, name)
            _check(value == 0 or value >= 3, f"data.{name}", value, "0 (auto) or >= 3")
        _check(self.shuffle_buffer >= 1, "data.shuffle_buffer", self.shuffle_buffer, ">= 1")
        for name in ("max_bad_lines", "stream_threshold_mb"):
            _check(getattr(self, name) >= 0, f"data.{name}", getattr(self, name), "0 or more")
        for name in ("stream_eval_examples", "stream_sample_examples"):
            _check(getattr(self, name) >= 1, f"data.{name}", getattr(self, name), ">= 1")
        for name in ("text_field", "label_field", "source_field", "target_field"):
            _check(bool(getattr(self, name)), f"data.{name}", getattr(self, name),
                   "the key of a JSONL field, not empty")
        _check(self.image_size >= 4, "data.image_size", self.image_size, "an integer >= 4")
        _check(self.sample_rate >= 0, "data.sample_rate", self.sample_rate,
               "a rate in Hz, or 0 for the first training file's")
        _check(self.clip_seconds == 0 or self.clip_seconds >= 0.025, "data.clip_seconds",
               self.clip_seconds, "0 (the longest training clip) or >= 0.025 (one 25 ms "
               "analysis window)")
        _check(all(isinstance(value, (int, float)) for value in self.augment.values()),
               "data.augment", self.augment, "a mapping of augmentation names to rates")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    name: str = ""  # transformer | bert | gpt | rnn | cnn | vit; "" = the task's default
    preset: str = ""  # named size (tiny, small, base, benchmark); "" = the fields below
    num_layers: int = 2  # encoder layers and decoder layers (each)
    d_model: int = 128  # model width
    num_heads: int = 4  # attention heads; must divide d_model
    dff: int = 512  # feed-forward inner size
    dropout_rate: float = 0.1  # dropout on embeddings, residuals and attention weights
    max_length: int = 512  # longest sequence the model accepts (position table)
    positional: str = "sinusoidal"  # sinusoidal (paper) | learned | rotary (RoPE)
    norm_first: bool = False  # pre-norm blocks instead of the paper's post-norm
    activation: str = "relu"  # feed-forward activation: relu (paper) | gelu
    tie_embeddings: bool = False  # logits from the target embedding matrix
    patch_size: int = 4  # ViT: side of the square image patches; must divide data.image_size

    def __post_init__(self):
        if self.name:
            _check_choice("model.name", self.name, MODELS)
        if self.preset:
            _check_choice("model.preset", self.preset, tuple(PRESETS))
        for name in ("num_layers", "d_model", "num_heads", "dff", "max_length", "patch_size"):
            value = getattr(self, name)
            _check(isinstance(value, int) and value >= 1, f"model.{name}", value,
                   "a positive integer")
        if self.d_model % self.num_heads:
            raise TfbigError(
                f"config field model.d_model={self.d_model} is not divisible by "
                f"model.num_heads={self.num_heads}: each head gets d_model / num_heads "
                f"features (try num_heads={_divisor_near(self.d_model, self.num_heads)})")
        _check(0.0 <= self.dropout_rate < 1.0, "model.dropout_rate", self.dropout_rate,
               "a rate in [0, 1)")
        _check_choice("model.positional", self.positional, ("sinusoidal", "learned", "rotary"))
        if self.positional == "rotary" and (self.d_model // self.num_heads) % 2:
            raise TfbigError(
                f"config field model.positional='rotary' needs an even head size, but "
                f"model.d_model={self.d_model} / model.num_heads={self.num_heads} = "
                f"{self.d_model // self.num_heads} (rotary turns pairs of features)")
        _check_choice("model.activation", self.activation, ("relu", "gelu"))


def _divisor_near(number, target):
    return min((d for d in range(1, number + 1) if number % d == 0),
               key=lambda d: abs(d - target))


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10  # passes over the training data (or steps_per_epoch steps each)
    steps_per_epoch: int = 0  # batches per epoch; 0 = the whole training split
    batch_size: int = 64  # global batch size (split across replicas)
    gradient_accumulation_steps: int = 1  # N batches an update: batch_size × N; 1 = off
    learning_rate: float = 1e-3  # peak learning rate; 0 = the paper's d_model^-0.5·warmup^-0.5
    # The linear scaling rule (Goyal et al. 2017): train at learning_rate × replicas, for a
    # batch_size grown with the replicas (printed at start); false = learning_rate as given
    scale_learning_rate: bool = False
    # transformer (paper) | constant | linear | cosine | plateau (warm-up, then the rate is
    # multiplied by plateau_factor whenever train.monitor stalls for plateau_patience epochs)
    # | planned (warm-up, then linear decay to 0 where train.time_budget runs out; the
    # default of a time-budgeted run)
    schedule: str = "transformer"
    warmup_steps: int = 200  # linear warm-up steps (schedule=planned: 0 = 10% of the plan)
    plateau_patience: int = 2  # schedule=plateau: epochs without improvement before a cut
    plateau_factor: float = 0.5  # schedule=plateau: the rate is multiplied by this at a cut
    # Fine-tuning: block k below the head learns at learning_rate · decay^k, the embeddings
    # at decay^(blocks + 1) (ULMFiT's discriminative rates); 1.0 = one rate for all
    layer_lr_decay: float = 1.0
    weight_decay: float = 0.01  # AdamW decoupled weight decay
    beta_2: float = 0.98  # Adam β2 (the paper's 0.98)
    clipnorm: float = 1.0  # clip each gradient to this global norm; 0 = off
    label_smoothing: float = 0.1  # ε of label smoothing (paper: 0.1)
    early_stopping_patience: int = 0  # stop after N epochs without val improvement; 0 = off
    # What picks the best checkpoint, early stopping and plateau cuts: "" = the task's
    # (val_masked_accuracy, val_accuracy or val_loss); or val_loss, val_bleu, val_macro_f1, …
    monitor: str = ""
    # Validation examples greedy-decoded at each epoch end for val_bleu/val_chrf (translate);
    # classify/image score macro F1 on the whole validation split. 0 = no epoch-end metrics
    epoch_metrics_examples: int = 256
    seed: int = 0  # seeds Python, NumPy, TensorFlow and the data pipeline
    strategy: str = "auto"  # auto | default | mirrored | multiworker | tpu
    # strategy=mirrored on a machine without GPUs: split its CPU into N logical devices, one
    # replica each (to try multi-device code; the same cores, no speed-up); 0 = off
    cpu_replicas: int = 0
    # auto (mixed_bfloat16 on a TPU, mixed_float16 on GPUs of compute capability >= 7.0,
    # else float32: tfbig.training.precision) | float32 | mixed_float16 | mixed_bfloat16
    precision: str = "auto"
    # XLA-compile the train step: true | false | auto (on with a GPU or TPU; off on CPU, where
    # XLA trained the reference Transformer ~15% slower than TensorFlow's own kernels)
    jit_compile: bool | str = "auto"
    steps_per_execution: int = 1  # train steps per compiled call (fewer Python round trips)
    # Tokens (padding included) per training batch, batches grouped by length so they
    # hold little padding; 0 = batch_size examples per batch (translate only)
    batch_tokens: int = 0
    # Minutes of training: the run measures its step time, plans the steps that fit (the
    # learning-rate schedule ends there) and stops on time; 0 = no budget (train.epochs)
    time_budget: float = 0.0
    # Decoding for the final text-to-text metrics (per-epoch val_bleu is always greedy):
    # auto (beam for natural language, greedy for symbolic data) | greedy | beam
    final_decode: str = "auto"
    beam_size: int = 4  # beams of final_decode=beam (the paper: 4)
    length_penalty: float = 0.6  # GNMT's α of final_decode=beam (the paper: 0.6)

    def __post_init__(self):
        for name in ("epochs", "batch_size", "steps_per_execution"):
            value = getattr(self, name)
            _check(isinstance(value, int) and value >= 1, f"train.{name}", value,
                   "a positive integer")
        for name in ("steps_per_epoch", "warmup_steps", "early_stopping_patience",
                     "epoch_metrics_examples", "batch_tokens"):
            value = getattr(self, name)
            _check(isinstance(value, int) and value >= 0, f"train.{name}", value,
                   "an integer >= 0")
        _check(isinstance(self.gradient_accumulation_steps, int)
               and self.gradient_accumulation_steps >= 1, "train.gradient_accumulation_steps",
               self.gradient_accumulation_steps, "an integer >= 1: the batches whose mean "
               "gradient makes one update (1 = off)")
        _check_choice("train.schedule", self.schedule, SCHEDULES)
        _check(self.jit_compile in (True, False, "auto"), "train.jit_compile", self.jit_compile,
               "true, false or auto")
        _check(isinstance(self.plateau_patience, int) and self.plateau_patience >= 1,
               "train.plateau_patience", self.plateau_patience, "a positive integer (epochs)")
        _check(0 < self.plateau_factor < 1, "train.plateau_factor", self.plateau_factor,
               "a factor in (0, 1), e.g. 0.5 halves the rate")
        _check(0 < self.layer_lr_decay <= 1, "train.layer_lr_decay", self.layer_lr_decay,
               "a factor in (0, 1] (1.0 = off), e.g. 0.8")
        _check(self.monitor == "" or self.monitor.startswith("val_"), "train.monitor",
               self.monitor, "a validation metric such as val_loss (or \"\" for the task's)")
        _check(self.learning_rate > 0 or (self.learning_rate == 0 and
                                          self.schedule == "transformer"),
               "train.learning_rate", self.learning_rate,
               "a rate > 0 (0 = the paper's formula, only with train.schedule=transformer)")
        _check(not self.scale_learning_rate or self.learning_rate > 0,
               "train.scale_learning_rate", self.scale_learning_rate,
               "false with train.learning_rate=0 (the paper's formula has no rate to scale: "
               "set train.learning_rate)")
        _check(self.weight_decay >= 0, "train.weight_decay", self.weight_decay, ">= 0")
        _check(0 < self.beta_2 < 1, "train.beta_2", self.beta_2, "in (0, 1)")
        _check(self.clipnorm >= 0, "train.clipnorm", self.clipnorm, ">= 0")
        _check(0 <= self.label_smoothing < 1, "train.label_smoothing", self.label_smoothing,
               "in [0, 1)")
        _check_choice("train.strategy", self.strategy, STRATEGIES)
        _check(isinstance(self.cpu_replicas, int) and self.cpu_replicas >= 0,
               "train.cpu_replicas", self.cpu_replicas, "an integer >= 0 (0 = off)")
        _check(self.cpu_replicas == 0 or self.strategy == "mirrored", "train.cpu_replicas",
               self.cpu_replicas, "0 unless train.strategy=mirrored (the logical CPUs it "
               "mirrors over)")
        _check_choice("train.precision", self.precision, PRECISIONS)
        _check(self.time_budget >= 0, "train.time_budget", self.time_budget,
               "minutes >= 0 (0 = no budget)")
        _check(self.schedule != "planned" or self.time_budget > 0, "train.schedule",
               self.schedule, "a schedule other than planned when train.time_budget is 0 "
               "(planned decays to 0 where the time budget ends)")
        _check_choice("train.final_decode", self.final_decode, DECODERS)
        _check(isinstance(self.beam_size, int) and self.beam_size >= 1, "train.beam_size",
               self.beam_size, "a positive integer")
        _check(self.length_penalty >= 0, "train.length_penalty", self.length_penalty, ">= 0")
