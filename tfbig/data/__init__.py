"""Data for tfbig: read the user's files, split them, and make the shipped samples.

Submodules (import them directly; nothing is re-exported here, so importing one never pulls
in the others or TensorFlow):

- ``tfbig.data.sources``  streaming readers for the CONTRACT data formats
- ``tfbig.data.splits``   deterministic train/validation/test splits and k-fold by stable hash
- ``tfbig.data.samples``  the generator of the sample data in ``data/`` (the spoken words:
  ``tfbig.data.samples_audio``)
- ``tfbig.data.class_folders``  a folder of ``class_name/`` folders (image, audio)
- ``tfbig.data.wav_bytes``  a WAV file's bytes → samples in TensorFlow ops (the audio export)
"""
