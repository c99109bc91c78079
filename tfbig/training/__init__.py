"""Training parts: schedules, optimizers, callbacks, distribution, fine-tuning methods.

The job that puts them together is ``tfbig.runs.fit``. The masked loss and metric it
compiles with are foundation modules (``tfbig.losses``, ``tfbig.metrics``): the models'
real-token train step (``tfbig.models.real_token_step``) needs them too, and models sit
below training (``docs/architecture.md``).
"""
