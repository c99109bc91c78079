"""``export.json`` and ``README.md`` beside the SavedModel: what goes in, what comes out.

``export.json`` is for programs (the signature's input and outputs with dtypes and shapes,
the class labels, the decoding settings baked into the graph); ``README.md`` says the same
for people, with the few lines of Python that load and call the export.
"""

import json
import os

MANIFEST = "export.json"
README = "README.md"
SIGNATURE = "serving_default"
INPUT_NAME = "inputs"

def manifest(task, module, run_dir):
    """The ``export.json`` dict of ``module`` (a :class:`~tfbig.serving.modules.
    ServingModule`) exported from the run ``run_dir`` of ``task``."""
    from tfbig import __version__

    return {
        "format": "tfbig export (TensorFlow SavedModel)",
        "tfbig_version": __version__,
        "task": task.name,
        "model": task.config.model_name,
        "run": os.path.abspath(run_dir),
        "signature": SIGNATURE,
        "inputs": {INPUT_NAME: {"dtype": "string", "shape": [None],
                                "description": module.input_description}},
        "outputs": module.outputs,
        **module.options(),
        "requires": ["tensorflow", "tensorflow-text (import tensorflow_text before "
                                   "loading: it registers the tokenizer ops)"],
    }


def write_manifest(folder, info, example_input):
    """Write ``export.json`` and ``README.md`` of ``info`` (:func:`manifest`) into
    ``folder``; ``example_input`` is the Python of a first call's input (the serving
    module's ``example_input``)."""
    with open(os.path.join(folder, MANIFEST), "w", encoding="utf-8") as f:
        json.dump(info, f, indent=2, ensure_ascii=False)
        f.write("\n")
    with open(os.path.join(folder, README), "w", encoding="utf-8") as f:
        f.write(readme(info, example_input))


def readme(info, example_input):
    """The ``README.md`` text of ``info``."""
    def shape(spec):
        return "[" + ", ".join("batch" if size is None else str(size)
                               for size in spec["shape"]) + "]"

    rows = [f"| `{name}` (input) | {spec['dtype']} | {shape(spec)} | {spec['description']} |"
            for name, spec in info["inputs"].items()]
    rows += [f"| `{name}` | {spec['dtype']} | {shape(spec)} | {spec['description']} |"
             for name, spec in info["outputs"].items()]
    first_output = next(iter(info["outputs"]))
    settings = {key: value for key, value in info.items() if key not in (
        "format", "tfbig_version", "task", "model", "run", "signature", "inputs", "outputs",
        "requires", "labels")}
    return "\n".join([
        f"# tfbig export: {info['task']} ({info['model']})",
        "",
        f"A TensorFlow SavedModel of the run `{info['run']}` with its tokenizer inside the "
        f"graph: raw inputs in, answers out. Made by `python -m tfbig.export`.",
        "",
        "```python",
        "import tensorflow as tf",
        "import tensorflow_text  # noqa: F401  (registers the tokenizer ops; needed to load)",
        "",
        'exported = tf.saved_model.load("<this folder>")',
        f'serve = exported.signatures["{info["signature"]}"]',
        f"result = serve({INPUT_NAME}={example_input})",
        f'print(result["{first_output}"].numpy())',
        "```",
        "",
        f"Signature `{info['signature']}`:",
        "",
        "| name | dtype | shape | meaning |",
        "| --- | --- | --- | --- |",
        *rows,
        "",
        "Settings baked into the graph: "
        + ", ".join(f"`{key}` = {json.dumps(value, ensure_ascii=False)}"
                    for key, value in settings.items())
        + (f"; labels (class i is the i-th): {', '.join(info['labels'])}"
           if "labels" in info else "") + ".",
        "",
    ])
