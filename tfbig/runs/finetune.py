"""Fine-tune a pretrained backbone on a task, from a tfbig run or a Hugging Face folder.

    pretrained backbone + its tokenizer → the task's data (labels learnt from it) →
    a new head → the method (full / freeze / gradual / lora) → the usual training loop

Which starts are supported:

==========================================  =================================================
start                                        result
==========================================  =================================================
``--from-hf DIR``  (BERT checkpoint)         ``classify``: a new classifier on the encoder
``--from RUN`` of ``mlm``/``classify`` bert  ``classify``: a new classifier on its encoder
``--from RUN`` of task X                     task X on new data: the whole model goes on
==========================================  =================================================

The run folder written is a normal one (``predict``, ``evaluate`` accept it); its
``config.json`` records the start under ``pretrained``.
"""

import os

from tfbig import config as config_lib
from tfbig.config_fields import FINETUNE_METHODS as METHODS
from tfbig.errors import TfbigError
from tfbig.tasks import AVAILABLE, get_task, task_class


class PretrainedStart:
    """Start ``fit.train`` from pretrained weights instead of from scratch.

    Args:
        source: ``"run"`` (a tfbig run folder) or ``"hf"`` (a Hugging Face BERT folder).
        path: that folder.
        method: ``full``, ``freeze``, ``gradual`` or ``lora``.
        lora_rank: adapter rank for ``lora``.
    """

    def __init__(self, source, path, method="full", lora_rank=8):
        if source not in ("run", "hf"):
            raise TfbigError(f"pretrained source must be 'run' or 'hf', received {source!r}")
        if method not in METHODS:
            raise TfbigError(f"--method {method!r}: expected one of {', '.join(METHODS)}")
        if lora_rank < 1:
            raise TfbigError(f"--lora-rank must be >= 1, received {lora_rank}")
        self.source, self.path, self.method, self.lora_rank = source, path, method, lora_rank
        self._loaded = None

    @property
    def record(self):
        """What config.json keeps of this start."""
        return {"source": self.source, "path": os.path.abspath(self.path),
                "method": self.method, "lora_rank": self.lora_rank}

    # --------------------------------------------------------------------------- checks
    def check(self, config):
        """Refuse unsupported combinations before anything heavy runs; return the config
        with the model sizes of the pretrained backbone (so config.json is honest)."""
        if config.train.layer_lr_decay != 1.0 and self.method == "freeze":
            raise TfbigError(f"train.layer_lr_decay={config.train.layer_lr_decay} has no "
                             f"effect with --method freeze (the backbone does not train); "
                             f"use --method full, gradual or lora, or leave it at 1.0")
        if self.source == "hf":
            from tfbig.checkpoints.hf_config import bert_encoder_arguments
            from tfbig.checkpoints.hf_files import CONFIG_FILE, checkpoint_folder

            if not task_class(config.task).backbone_sources or config.model_name != "bert":
                heads = " or ".join(f"--task {name}" for name in AVAILABLE
                                    if task_class(name).backbone_sources)
                raise TfbigError(f"--from-hf fine-tunes a BERT checkpoint for {heads} "
                                 f"(--model bert); received --task {config.task} --model "
                                 f"{config.model_name}")
            if config.data.augment:
                raise TfbigError("data.augment is not available with --from-hf (its [MASK] "
                                 "id differs from tfbig's); remove data.augment")
            sizes = bert_encoder_arguments(checkpoint_folder(self.path) / CONFIG_FILE)
            return config_lib.replace(config, model={
                "num_layers": sizes["num_layers"], "d_model": sizes["hidden_dim"],
                "num_heads": sizes["num_heads"], "dff": sizes["intermediate_dim"],
                "max_length": sizes["max_sequence_length"]})
        from tfbig.run_folder import require_run

        source = get_task(config_lib.from_dict(require_run(self.path))).config
        new_head = task_class(config.task).backbone_sources
        if source.task != config.task and not (
                source.task in new_head
                and source.model_name == "bert" and config.model_name == "bert"):
            heads = [name for name in AVAILABLE
                     if source.task in task_class(name).backbone_sources and name != source.task]
            raise TfbigError(
                f"--from {self.path} is a {source.task} run ({source.model_name}); it can "
                f"continue as --task {source.task}"
                + "".join(f" or become --task {name} --model bert" for name in heads
                          if source.model_name == "bert"))
        if self.method != "full" and source.task == config.task and not new_head:
            raise TfbigError(f"--method {self.method} needs a new head (a bert backbone "
                             f"fine-tuned for {self._head_tasks()}); continuing a "
                             f"{source.task} run trains the whole model: use --method full")
        if config.train.layer_lr_decay != 1.0 and source.task == config.task and not new_head:
            raise TfbigError(f"train.layer_lr_decay={config.train.layer_lr_decay} needs a "
                             f"backbone under a new head (a bert backbone fine-tuned for "
                             f"{self._head_tasks()}); continuing a {source.task} run trains the "
                             f"whole model at one rate: use train.layer_lr_decay=1.0")
        return config_lib.replace(config, model=source.model, data={
            "tokenizer": source.data.tokenizer, "lower_case": source.data.lower_case,
            "strip_accents": source.data.strip_accents})

    @staticmethod
    def _head_tasks():
        """``"classify"``: the tasks that put a new head on a pretrained backbone."""
        return " or ".join(name for name in AVAILABLE if task_class(name).backbone_sources)

    # ------------------------------------------------------------------------ the model
    def _load(self, config):
        """``(backbone_or_model, source_task)`` — loaded once."""
        if self._loaded is None:
            if self.source == "hf":
                from tfbig.checkpoints import load_hf_bert

                encoder, tokenizer = load_hf_bert(self.path,
                                                  dropout=config.model.dropout_rate)
                self._loaded = (encoder.backbone, tokenizer, None)
            else:
                from tfbig.inference import load_run

                task, model = load_run(self.path)
                self._loaded = (model, None, task)
        return self._loaded

    def adopt_assets(self, task, train_examples):
        """The task learns what only its data can give (labels); the tokenizer(s) come
        from the pretrained start, unchanged (the backbone's embeddings index them)."""
        loaded, tokenizer, source_task = self._load(task.config)
        task.learn_assets(train_examples)
        if tokenizer is not None:  # Hugging Face
            task.tokenizer = tokenizer
        else:
            for name in ("tokenizer", "source_tokenizer", "target_tokenizer"):
                if getattr(source_task, name, None) is not None:
                    setattr(task, name, getattr(source_task, name))
            if source_task.name == task.name and hasattr(source_task, "labels"):
                if source_task.labels != task.labels:
                    raise TfbigError(f"--from {self.path}: its labels {source_task.labels} "
                                     f"differ from this data's {task.labels}; fine-tune a "
                                     f"new head with --task classify from an mlm run")

    def build_model(self, task):
        loaded, _, source_task = self._load(task.config)
        if self.source == "run" and source_task.name == task.name and not task.backbone_sources:
            return loaded  # the whole model continues
        from tfbig.models.bert_classifier import BertClassifier

        backbone = loaded if self.source == "hf" else loaded.encoder
        pooling = "cls"
        if self.source == "hf":
            from tfbig.checkpoints.pooling import read_pooling_mode

            pooling = read_pooling_mode(self.path)
        model = BertClassifier(backbone, num_classes=len(task.labels), pooling=pooling,
                               dropout=task.config.model.dropout_rate, name="classifier")
        length = task.config.data.max_source_length
        model.build({"token_ids": (None, length), "padding_mask": (None, length)})
        return model

    def backbone(self, model):
        return getattr(model, "encoder", model)

    def prepare(self, model, optimizer, layer_lr_decay=1.0):
        """Apply the method; return its callbacks. For ``gradual`` the optimizer is built
        on every variable first, so later-unfrozen ones have their slots.

        With ``layer_lr_decay`` < 1 (``optimizer`` a ``LayerwiseAdamW``) each backbone
        block gets its decayed rate; set after the method, so LoRA adapters get the rate
        of the block they adapt.
        """
        if self.method == "gradual":
            optimizer.build(model.trainable_variables)
        backbone = self.backbone(model)
        # (it loads Keras: imported here, so a bad path or flag is refused in a second)
        from tfbig.training.finetune_methods import apply_method

        callbacks = apply_method(backbone, self.method, lora_rank=self.lora_rank)
        if layer_lr_decay != 1.0:
            from tfbig.training.layerwise_lr import layer_lr_multipliers

            optimizer.lr_multipliers = layer_lr_multipliers(backbone, layer_lr_decay)
        return callbacks
