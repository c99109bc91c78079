"""An image folder splits the same way wherever it lies (the key is ``class/file``, not
the absolute path), so a run is reproducible on another machine or after a move."""

import shutil

from tasks.test_image import write_toy_images

from tfbig.tasks import resolve_config


def split_of(folder):
    from tfbig.tasks import get_task

    config = resolve_config({"task": "image", "data.path": folder,
                                 "data.validation_split": 0.2, "data.test_split": 0.2})
    splits, _ = get_task(config).load_splits()
    return {name: sorted(path[len(folder):] for path, _ in examples)
            for name, examples in splits.items()}


def test_moving_the_folder_keeps_the_split(tmp_path):
    first = write_toy_images(tmp_path / "here" / "images", per_class=12)
    second = str(tmp_path / "elsewhere" / "deeper" / "copy")
    shutil.copytree(first, second)
    split = split_of(first)
    assert split == split_of(second)
    assert all(split[name] for name in ("train", "validation", "test"))
