"""Hyperparameter search for ``python -m tfbig.tune``, on keras-tuner.

==================  ==============================================================
search_space.py     the config's ``search_space`` → checked Dimensions → keras-tuner
                    HyperParameters (no TensorFlow)
folds.py            what a trial trains and validates on (k-fold cross-validation)
tuner.py            keras-tuner's Grid/Random/Hyperband/Bayesian tuners running each
                    trial through ``tfbig.runs.fit.train``
results.py          ``results.csv`` rows and the score-per-trial plot
search.py           one search, from the resolved flags to the best run
distributed.py      a search spread over processes: the chief serves keras-tuner's
                    oracle, the workers train the trials
==================  ==============================================================
"""
