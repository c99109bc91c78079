"""A BERT checkpoint's ``config.json`` → :class:`~tfbig.models.bert_encoder.BertEncoder`
keyword arguments (``hidden_size`` → ``hidden_dim``, ...).

Plain JSON checks, no Keras: ``finetune --from-hf`` reads the sizes (and refuses a checkpoint
that is not a plain BERT: ``model_type`` ``roberta``, relative positions, a decoder) before
TensorFlow loads. Field names: https://huggingface.co/docs/transformers/model_doc/bert
"""

from tfbig.checkpoints.hf_files import read_json
from tfbig.errors import TfbigError

# config.json field → BertEncoder argument (all required, positive integers).
SIZE_FIELDS = {
    "vocab_size": "vocabulary_size",
    "num_hidden_layers": "num_layers",
    "num_attention_heads": "num_heads",
    "hidden_size": "hidden_dim",
    "intermediate_size": "intermediate_dim",
    "max_position_embeddings": "max_sequence_length",
    "type_vocab_size": "num_segments",
}
# hidden_act → Keras activation ("gelu" is the exact erf GELU in both libraries).
ACTIVATIONS = {"gelu": "gelu", "relu": "relu", "silu": "silu", "swish": "silu"}


def bert_encoder_arguments(config_path):
    """``config.json`` of a BERT checkpoint → :class:`BertEncoder` keyword arguments."""
    config = read_json(config_path)

    def fail(field, problem, expected):
        raise TfbigError(f"{config_path}: field {field!r} {problem}; expected {expected}")

    model_type = config.get("model_type")
    architectures = config.get("architectures")
    if model_type is None and not architectures:
        fail("model_type", "is missing (and so is 'architectures')", "'bert'")
    if model_type is not None and model_type != "bert":
        fail("model_type", f"is {model_type!r}", "'bert' (tfbig loads BERT checkpoints only)")
    if architectures is not None and (
            not isinstance(architectures, list)
            or not all(isinstance(name, str) and name.startswith("Bert")
                       for name in architectures)):
        fail("architectures", f"is {architectures!r}",
             "BERT classes such as ['BertModel'] or ['BertForMaskedLM']")
    for flag in ("is_decoder", "add_cross_attention"):
        if config.get(flag):
            fail(flag, "is true", "false (a BERT encoder, not a decoder)")
    position_type = config.get("position_embedding_type", "absolute")
    if position_type != "absolute":
        fail("position_embedding_type", f"is {position_type!r}", "'absolute'")

    arguments = {}
    for field, argument in SIZE_FIELDS.items():
        value = config.get(field)
        if value is None:
            fail(field, "is missing", "a positive integer")
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            fail(field, f"is {value!r}", "a positive integer")
        arguments[argument] = value
    activation = config.get("hidden_act", "gelu")
    if activation not in ACTIVATIONS:
        fail("hidden_act", f"is {activation!r}", f"one of {sorted(ACTIVATIONS)}")
    arguments["activation"] = ACTIVATIONS[activation]
    epsilon = config.get("layer_norm_eps", 1e-12)
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or epsilon <= 0:
        fail("layer_norm_eps", f"is {epsilon!r}", "a positive number")
    arguments["layer_norm_epsilon"] = float(epsilon)
    if arguments["hidden_dim"] % arguments["num_heads"]:
        fail("hidden_size", f"({arguments['hidden_dim']}) is not divisible by "
             f"num_attention_heads ({arguments['num_heads']})", "a multiple of it")
    return arguments
