"""Runs: drive one task from a config to a finished run folder.

``fit.train`` is the whole training job (data → task → model → ``model.fit`` → metrics →
plots); ``finetune.PretrainedStart`` starts it from a run folder or a Hugging Face
checkpoint. It sits above ``tasks`` and ``inference`` because it calls both, and below the
commands, evaluation and tuning that call it (``docs/architecture.md``).
"""
