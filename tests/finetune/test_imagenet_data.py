"""An ImageNet folder as a fine-tuning task: the layout check, listing, crops, normalisation, batches."""

import pytest
import torch
from PIL import Image

from pvq.finetune.data import DatasetNotFoundError
from pvq.finetune.imagenet_data import (
    ARCHITECTURES,
    IMAGE_SUFFIXES,
    IMAGENET_MEAN,
    IMAGENET_STD,
    ImageNetTask,
    check_imagenet_arch,
    check_imagenet_folder,
)

from .imagenet_folder import CLASSES, break_folder, make_folder, red

BROKEN = [
    ("missing", "does not exist"),
    ("no val", "no 'val/' sub-folder"),
    ("flat val", "no class folders"),
    ("other classes", "class folders differ"),
    ("no images", "no .JPEG/.jpg/.png images"),
]

# -- folder validation -------------------------------------------------------------------------------


def test_a_good_folder_is_counted(folder):
    assert check_imagenet_folder(folder) == {"classes": list(CLASSES), "train": 12, "val": 4}
    assert {".jpeg", ".jpg", ".png"} == IMAGE_SUFFIXES


@pytest.mark.parametrize("how, message", BROKEN)
def test_bad_folders_are_refused(folder, how, message):
    root = break_folder(folder, how)
    with pytest.raises(DatasetNotFoundError, match=message):
        check_imagenet_folder(root)
    with pytest.raises(DatasetNotFoundError, match=message):
        ImageNetTask(root)


def test_architecture_names():
    assert ARCHITECTURES == ("mobilenet_v2", "efficientnet_lite0")
    assert check_imagenet_arch("efficientnet_lite0") == "efficientnet_lite0"
    with pytest.raises(ValueError, match="unknown ImageNet architecture 'resnet_small'"):
        check_imagenet_arch("resnet_small")


def test_bigger_folder_lists_every_image(tmp_path):
    task = ImageNetTask(make_folder(tmp_path / "big", n_train=3, n_val=5, seed=1), image_size=32, resize=32)
    assert (task.n_train, task.n_val, task.n_classes) == (6, 10, 2)


# -- data ----------------------------------------------------------------------------------------------


def test_task_lists_the_folder_like_image_folder(folder):
    task = ImageNetTask(folder, image_size=32, resize=36)
    assert task.classes == list(CLASSES) and task.n_classes == 2
    assert (task.n_train, task.n_val) == (12, 4)
    assert [k for _, k in task.val] == [0, 0, 1, 1]
    assert [p.name for p, _ in task.val[:2]] == ["img0.png", "img1.JPEG"]


def test_train_batches_shape_dtype_normalisation_and_labels(folder):
    task = ImageNetTask(folder, image_size=32, resize=36, workers=2)
    gen = torch.Generator().manual_seed(0)
    stream = task.train_batches(batch_size=4, images=8, generator=gen, device="cpu", flip=True)
    seen = []
    for _ in range(4):  # two epochs of two batches
        x, y = next(stream)
        assert x.shape == (4, 3, 32, 32) and x.dtype == torch.float32
        assert x.is_contiguous(memory_format=torch.channels_last)
        assert y.dtype == torch.int64 and set(y.tolist()) <= {0, 1}
        # solid-colour images stay solid through crop and resize: one colour per image
        per_image = x.flatten(2)
        assert torch.allclose(per_image, per_image[..., :1].expand_as(per_image), atol=1e-4)
        reds = red(x)[:, 0, 0]
        assert torch.equal(y, (reds < 125).long())  # the label is the class of the image's colour
        for c in range(3):  # normalised with the ImageNet mean and std: back in 0..255
            v = x[:, c] * IMAGENET_STD[c] + IMAGENET_MEAN[c]
            assert v.min() >= -1e-4 and v.max() <= 1 + 1e-4
        seen.append(reds)
    task.close()
    epoch1, epoch2 = torch.cat(seen[:2]), torch.cat(seen[2:])
    assert not torch.equal(epoch1, epoch2)  # each epoch a fresh permutation

    # the stream depends on the generator only (not on thread timing)
    again = ImageNetTask(folder, image_size=32, resize=36, workers=1)
    gen2 = torch.Generator().manual_seed(0)
    s2 = again.train_batches(batch_size=4, images=8, generator=gen2, device="cpu", flip=True)
    assert torch.equal(red(next(s2)[0])[:, 0, 0], seen[0])


def test_train_batches_need_a_full_batch(folder):
    task = ImageNetTask(folder, image_size=32, resize=36)
    with pytest.raises(ValueError, match="cannot fill a batch"):
        task.train_batches(batch_size=16, images=0, generator=torch.Generator(), device="cpu", flip=False)


def test_eval_transform_and_probe_inputs(folder):
    task = ImageNetTask(folder, image_size=32, resize=36)
    x = task.probe_inputs(3, device="cpu")
    assert x.shape == (3, 3, 32, 32) and x.is_contiguous(memory_format=torch.channels_last)
    with Image.open(task.val[0][0]) as img:
        expected = img.convert("RGB").getpixel((0, 0))
    assert torch.allclose(red(x[:1]), torch.full((1, 32, 32), float(expected[0])), atol=1e-3)
    assert task.probe_inputs(100, device="cpu").shape[0] == task.n_val


def test_bad_task_arguments(folder):
    with pytest.raises(ValueError, match="resize"):
        ImageNetTask(folder, image_size=64, resize=32)
    with pytest.raises(ValueError, match="workers"):
        ImageNetTask(folder, workers=0)
    with pytest.raises(ValueError, match="unknown ImageNet architecture"):
        ImageNetTask(folder).build("resnet_small")
