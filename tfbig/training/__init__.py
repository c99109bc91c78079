"""Training: losses, metrics, schedules, callbacks, distribution, and the fit loop."""
