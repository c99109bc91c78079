"""Keep a layer's constructor arguments once: as its attributes and in its ``get_config``."""


class KeepsArguments:
    """Mixin for a Keras layer or model whose config is its constructor's arguments.

    ``self.keep_arguments(d_model=d_model, ...)`` in ``__init__`` sets each as an attribute;
    ``get_config`` returns Keras' base config plus those arguments, in that order, so
    ``from_config(get_config())`` calls the constructor with them again.

    Example:
        >>> import keras
        >>> class Scale(KeepsArguments, keras.layers.Layer):
        ...     def __init__(self, factor, **kwargs):
        ...         super().__init__(**kwargs)
        ...         self.keep_arguments(factor=factor)
        >>> layer = Scale(3.0, name="scale")
        >>> layer.factor, layer.get_config()["factor"]
        (3.0, 3.0)
    """

    def keep_arguments(self, **arguments):
        """Set each keyword argument as an attribute and add it to ``get_config``."""
        for name, value in arguments.items():
            setattr(self, name, value)
        self._kept_argument_names = tuple(arguments)

    def get_config(self):
        config = super().get_config()
        config.update({name: getattr(self, name) for name in self._kept_argument_names})
        return config
