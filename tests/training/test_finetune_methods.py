"""Fine-tuning methods: exactly the expected variables train, on schedule; LoRA merges."""

import keras
import numpy as np
import pytest

from tfbig.errors import TfbigError
from tfbig.models.bert_classifier import BertClassifier
from tfbig.models.bert_encoder import BertEncoder
from tfbig.training.finetune_methods import GradualUnfreezing, apply_method, merge_lora

INPUTS = {"token_ids": np.array([[4, 9, 10, 11, 5, 0], [4, 12, 13, 5, 0, 0]], "int32"),
          "padding_mask": np.array([[1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 0, 0]], bool)}
LABELS = np.array([0, 1], "int32")


def make_classifier(seed=0, num_layers=3):
    keras.utils.set_random_seed(seed)
    encoder = BertEncoder(vocabulary_size=20, num_layers=num_layers, num_heads=2, hidden_dim=8,
                          intermediate_dim=16, dropout=0.0, max_sequence_length=16,
                          name="encoder")
    model = BertClassifier(encoder, num_classes=2, dropout=0.0)
    model(INPUTS)
    return model


def trainable_paths(model):
    return sorted(variable.path for variable in model.trainable_variables)


def in_encoder(path):
    return path.split("/")[1] == "encoder"  # paths are model/encoder/... or model/head


def head_paths(model):
    return sorted(v.path for v in model.trainable_variables if not in_encoder(v.path))


def test_full_trains_everything():
    model = make_classifier()
    everything = trainable_paths(model)
    assert apply_method(model.encoder, "full") == []
    assert trainable_paths(model) == everything


def test_freeze_trains_the_head_only():
    model = make_classifier()
    head = head_paths(model)
    assert head and len(head) < len(trainable_paths(model))
    apply_method(model.encoder, "freeze")
    assert trainable_paths(model) == head


def test_gradual_unfreezes_one_block_per_epoch_top_down():
    # Two blocks show the top-down order; each unfreezing retraces the train step, and a
    # third block cost two more traces, the slowest ones (~15 s on a 2-core CPU).
    model = make_classifier(num_layers=2)
    head = head_paths(model) + sorted(v.path for v in model.encoder.pooler.trainable_variables)
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.optimizer.build(model.trainable_variables)  # slots for all, before freezing
    (callback,) = apply_method(model.encoder, "gradual")
    assert isinstance(callback, GradualUnfreezing)
    assert trainable_paths(model) == sorted(head)  # the head and the pooler above the blocks

    seen = []

    class Record(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append({path.split("/")[2] for path in trainable_paths(self.model)
                         if in_encoder(path)})

    before = {v.path: v.numpy().copy() for v in model.variables}
    model.fit(INPUTS, LABELS, epochs=4, verbose=0, callbacks=[callback, Record()])
    assert seen == [{"pooler"}, {"pooler", "block_1"}, {"pooler", "block_0", "block_1"},
                    {"pooler", "embedding", "block_0", "block_1"}]
    # Unfrozen last, the embeddings still trained (in the final epoch).
    changed = {v.path for v in model.variables if not np.array_equal(before[v.path], v.numpy())}
    assert any(path.split("/")[2] == "embedding" for path in changed if in_encoder(path))


def test_lora_trains_adapters_and_head_only_and_merges_exactly():
    model = make_classifier()
    total_before = model.count_params()
    apply_method(model.encoder, "lora", lora_rank=2)
    paths = trainable_paths(model)
    adapters = [p for p in paths if "lora_kernel" in p]
    assert adapters and set(paths) == set(adapters) | set(head_paths(model))
    # 6 adapted projections per block × 3 blocks × (A and B)
    assert len(adapters) == 6 * 3 * 2

    model.compile(optimizer=keras.optimizers.Adam(5e-2), run_eagerly=True,  # tiny: no tracing
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(INPUTS, LABELS, epochs=3, verbose=0)
    adapted = model(INPUTS).numpy()
    merge_lora(model)
    np.testing.assert_allclose(model(INPUTS).numpy(), adapted, atol=1e-5)
    trained = sum(int(np.prod(v.shape)) for v in model.trainable_variables)
    assert trained < total_before  # only a fraction trains (tiny model: not yet < 5%)


def test_lora_saves_merged_and_reloads_identically(tmp_path):
    import tfbig.models  # noqa: F401  (registers the classes)

    model = make_classifier()
    apply_method(model.encoder, "lora", lora_rank=2)
    for layer in model.encoder._flatten_layers():
        if getattr(layer, "lora_enabled", False):
            layer.lora_kernel_b.assign(np.full(layer.lora_kernel_b.shape, 0.1, "float32"))
    expected = model(INPUTS).numpy()
    path = str(tmp_path / "lora.keras")
    model.save(path)
    np.testing.assert_allclose(keras.saving.load_model(path)(INPUTS).numpy(), expected,
                               atol=1e-5)


def test_unknown_method_and_bad_rank():
    model = make_classifier()
    with pytest.raises(TfbigError, match=r"--method 'adapter': expected one of full, freeze, "
                                         r"gradual, lora"):
        apply_method(model.encoder, "adapter")
    with pytest.raises(TfbigError, match=r"--lora-rank must be >= 1, received 0"):
        apply_method(model.encoder, "lora", lora_rank=0)
