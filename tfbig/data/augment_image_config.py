"""The strengths of the image augmentations (:mod:`tfbig.data.augment_image`), checked in
plain Python: ``--task image`` checks ``data.augment`` before TensorFlow loads."""

import dataclasses

from tfbig.data.rates import check_rate
from tfbig.errors import TfbigError

FLIP_MODES = ("horizontal", "vertical", "horizontal_and_vertical")
FILL_MODES = ("reflect", "wrap", "constant", "nearest")


@dataclasses.dataclass(frozen=True)
class ImageAugmentConfig:
    """Strengths of the image augmentations; 0 switches one off (all off by default)."""

    flip_rate: float = 0.0  # probability of each flip
    flip_mode: str = "horizontal"  # horizontal | vertical | horizontal_and_vertical
    rotation: float = 0.0  # max rotation, fraction of a full turn
    zoom: float = 0.0  # max relative zoom in or out
    crop_padding: int = 0  # max shift in pixels (pad and crop back)
    contrast: float = 0.0  # max relative contrast change
    fill_mode: str = "reflect"  # how rotation/zoom fill the corners
    mixup_alpha: float = 0.0  # Beta(α, α) of MixUp; 0 = off
    cutmix_alpha: float = 0.0  # Beta(α, α) of CutMix; 0 = off
    mix_rate: float = 1.0  # probability that an example is mixed (MixUp and CutMix)

    def __post_init__(self):
        check_rate("ImageAugmentConfig.flip_rate", self.flip_rate, allow_one=True)
        check_rate("ImageAugmentConfig.rotation", self.rotation, allow_one=True)
        check_rate("ImageAugmentConfig.zoom", self.zoom)
        check_rate("ImageAugmentConfig.contrast", self.contrast, allow_one=True)
        check_rate("ImageAugmentConfig.mix_rate", self.mix_rate, allow_one=True)
        if self.flip_mode not in FLIP_MODES:
            raise TfbigError(f"ImageAugmentConfig.flip_mode={self.flip_mode!r}: expected one "
                             f"of {', '.join(FLIP_MODES)}")
        if self.fill_mode not in FILL_MODES:
            raise TfbigError(f"ImageAugmentConfig.fill_mode={self.fill_mode!r}: expected one "
                             f"of {', '.join(FILL_MODES)}")
        if isinstance(self.crop_padding, bool) or not isinstance(self.crop_padding, int) or (
                self.crop_padding < 0):
            raise TfbigError(f"ImageAugmentConfig.crop_padding={self.crop_padding!r}: "
                             "expected an int >= 0")
        for name in ("mixup_alpha", "cutmix_alpha"):
            if getattr(self, name) < 0:
                raise TfbigError(f"ImageAugmentConfig.{name}={getattr(self, name)!r}: "
                                 "expected a number >= 0 (0 = off)")

    @property
    def mixes(self):
        """Whether MixUp or CutMix is on (the labels then become soft, one-hot mixes)."""
        return self.mixup_alpha > 0 or self.cutmix_alpha > 0
