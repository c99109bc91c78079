"""Loading a run's tokenizer, whichever kind it saved."""

import os

from tfbig.data.base_tokenizer import CONFIG_FILE


def load_text_tokenizer(folder):
    """A tfbig tokenizer (``tokenizer.json`` + ``vocab.txt``), or the Hugging Face BERT
    tokenizer a run fine-tuned from a Hugging Face checkpoint saved (``vocab.txt`` +
    ``tokenizer_config.json``)."""
    from tfbig.checkpoints.hf_files import TOKENIZER_CONFIG_FILE

    if not os.path.exists(os.path.join(folder, CONFIG_FILE)) and os.path.exists(
            os.path.join(folder, TOKENIZER_CONFIG_FILE)):
        from tfbig.checkpoints.hf_tokenizer import HFBertTokenizer

        return HFBertTokenizer.from_folder(folder)
    from tfbig.data.tokenizers import load_tokenizer

    return load_tokenizer(folder)
