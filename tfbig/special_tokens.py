"""The special tokens every tfbig vocabulary starts with, and their fixed ids.

Models, masks and decoders rely on these ids without looking at a vocabulary: id 0 is
padding everywhere (``mask = ids != PAD_ID``), generation starts from ``START_ID`` and stops
at ``END_ID``, BERT-style inputs are ``[CLS] … [SEP]`` and masked language modelling replaces
tokens with ``MASK_ID``. This module imports nothing heavy, so configs and CLIs can use it.
"""

PAD = "[PAD]"  # padding, so batches of different lengths fit one tensor
UNK = "[UNK]"  # anything not in the vocabulary
START = "[START]"  # first token given to a decoder
END = "[END]"  # marks the end of a generated sequence
CLS = "[CLS]"  # sequence summary position for classification (BERT)
SEP = "[SEP]"  # separates or ends segments (BERT)
MASK = "[MASK]"  # hidden token for masked language modelling

# In id order: SPECIAL_TOKENS[i] has id i in every vocabulary.
SPECIAL_TOKENS = (PAD, UNK, START, END, CLS, SEP, MASK)

PAD_ID = SPECIAL_TOKENS.index(PAD)  # 0
UNK_ID = SPECIAL_TOKENS.index(UNK)  # 1
START_ID = SPECIAL_TOKENS.index(START)  # 2
END_ID = SPECIAL_TOKENS.index(END)  # 3
CLS_ID = SPECIAL_TOKENS.index(CLS)  # 4
SEP_ID = SPECIAL_TOKENS.index(SEP)  # 5
MASK_ID = SPECIAL_TOKENS.index(MASK)  # 6

# Ids below this are special; the learned tokens start here.
NUM_SPECIAL_TOKENS = len(SPECIAL_TOKENS)
