"""Real calibration inputs and the layer inputs they produce (paper §5).

Images: the RGB photos that ship with scikit-image, cut into random crops with flips, resized to
256 and centre-cropped to 224, normalised with the ImageNet statistics (the paper uses 64
ImageNet validation images; these are real photos, not ImageNet). Text: Python's own
documentation (``pydoc_data.topics``), tokenized with MiniLM's own ``tokenizer.json``.

:func:`capture_inputs` records what named layers receive; :func:`layer_input_rows` turns it into
the rows ``X`` of each output channel's least-squares problem (im2col patches for a
convolution, one row per token for a linear layer).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..tensors.checkpoints import resolve

__all__ = [
    "HELD_OUT_PHOTOS",
    "IMAGE_NAMES",
    "PHOTOS_ENV",
    "WALLPAPER_DIR",
    "WALLPAPER_PHOTOS",
    "capture_inputs",
    "crop_box",
    "crop_image",
    "layer_input_rows",
    "load_photo",
    "paragraphs",
    "photos_folder",
    "sample_images",
    "sample_text",
    "tokenize",
]

IMAGE_NAMES = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry", "retina")
_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
_STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)


#: Where Debian's ``mate-backgrounds`` keeps its nature photographs (``$PVQ_PHOTOS`` names another folder).
WALLPAPER_DIR = Path("/usr/share/backgrounds/mate/nature")
#: Environment variable naming a folder that holds the wallpaper photographs instead.
PHOTOS_ENV = "PVQ_PHOTOS"
#: The twelve photographs of ``mate-backgrounds``' nature set (``mate/<file stem>``; the package's other
#: images are drawings and patterns).
WALLPAPER_PHOTOS = tuple(
    f"mate/{n}"
    for n in ("Aqua", "Blinds", "Dune", "FreshFlower", "Garden", "GreenMeadow", "LadyBird", "RainDrops", "Storm",
              "TwoWings", "Wood", "YellowFlower")
)  # fmt: skip
#: Real photos held out of chapter 9's calibration (whole photos, never crops of a calibration photo):
#: scikit-image's cat, matplotlib's portrait of Grace Hopper, scikit-learn's two sample photos, and
#: the twelve wallpaper photographs (:data:`WALLPAPER_PHOTOS`).
HELD_OUT_PHOTOS = ("chelsea", "grace_hopper", "china", "flower", *WALLPAPER_PHOTOS)
#: Wallpapers are read at most about this many pixels on their shorter side (an integer reduction of
#: a 1,024-2,560-pixel photo: the crops are resized to 256 anyway, and decoding stays cheap).
_WALLPAPER_SIDE = 512


def photos_folder() -> Path:
    """The folder of the wallpaper photographs: ``$PVQ_PHOTOS`` when set, else :data:`WALLPAPER_DIR`."""
    return Path(os.environ.get(PHOTOS_ENV) or WALLPAPER_DIR)


def _wallpaper(stem: str) -> np.ndarray:
    from PIL import Image

    path = photos_folder() / f"{stem}.jpg"
    if not path.is_file():
        raise FileNotFoundError(
            f"held-out photo {path} not found: install Debian's mate-backgrounds (`make book` and `make test` do "
            f"it when run as root; else `sudo apt-get install mate-backgrounds`), or put its nature/*.jpg files "
            f"in a folder named by ${PHOTOS_ENV}"
        )
    with Image.open(path) as im:
        im = im.convert("RGB")
        factor = max(1, min(im.size) // _WALLPAPER_SIDE)
        return np.asarray(im.reduce(factor) if factor > 1 else im)


def load_photo(name: str) -> torch.Tensor:
    """A photo shipped with an installed package, ``(3, H, W)`` uint8.

    scikit-image's photos by their ``skimage.data`` names; ``'grace_hopper'`` (matplotlib's sample
    data); ``'china'`` and ``'flower'`` (scikit-learn's sample images, read as files); the wallpapers
    ``'mate/<stem>'`` (:data:`WALLPAPER_PHOTOS`, from :func:`photos_folder`, reduced by an integer
    factor to about 512 pixels on the shorter side).
    """
    if name in WALLPAPER_PHOTOS:
        arr = _wallpaper(name.removeprefix("mate/"))
    elif name == "grace_hopper":
        import matplotlib.cbook
        from PIL import Image

        with Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg")) as im:
            arr = np.asarray(im.convert("RGB"))
    elif name in ("china", "flower"):
        from importlib.resources import files

        from PIL import Image

        with Image.open(files("sklearn.datasets") / "images" / f"{name}.jpg") as im:
            arr = np.asarray(im.convert("RGB"))
    else:
        import skimage.data

        if name not in IMAGE_NAMES + HELD_OUT_PHOTOS:
            raise ValueError(f"unknown photo {name!r}; known: {', '.join(IMAGE_NAMES + HELD_OUT_PHOTOS)}")
        arr = getattr(skimage.data, name)()[..., :3]
    return torch.from_numpy(np.array(arr)).permute(2, 0, 1)


def crop_box(shape, rng: np.random.Generator) -> tuple[int, int, int, int, bool]:
    """A random crop ``(top, left, height, width, flip)`` of an image of ``shape`` ``(h, w)``: 35–100% of
    its area, aspect ratio 3/4–4/3, a horizontal flip half of the time."""
    h, w = shape
    area = rng.uniform(0.35, 1.0) * h * w
    aspect = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
    ch, cw = min(h, round((area / aspect) ** 0.5)), min(w, round((area * aspect) ** 0.5))
    top, left = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
    return int(top), int(left), ch, cw, bool(rng.uniform() < 0.5)


def crop_image(img: torch.Tensor, box, size: int = 224) -> torch.Tensor:
    """The normalised ``(3, size, size)`` input of a crop ``box`` (:func:`crop_box`) of a uint8 photo: resize
    (shorter side ``size·8/7``) and centre crop, as in ImageNet evaluation."""
    top, left, ch, cw, flip = box
    crop = img[:, top : top + ch, left : left + cw].float() / 255
    if flip:
        crop = crop.flip(-1)
    resize = round(size * 8 / 7)
    scale = resize / min(ch, cw)
    crop = nn.functional.interpolate(
        crop[None], size=(max(resize, round(ch * scale)), max(resize, round(cw * scale))),
        mode="bilinear", antialias=True, align_corners=False,
    )[0]  # fmt: skip
    t0, l0 = (crop.shape[1] - size) // 2, (crop.shape[2] - size) // 2
    return (crop[:, t0 : t0 + size, l0 : l0 + size] - _MEAN) / _STD


def sample_images(n: int, *, seed: int = 0, size: int = 224, photos=IMAGE_NAMES) -> torch.Tensor:
    """``n`` normalised image crops, shape ``(n, 3, size, size)``, from real photos (scikit-image's by default).

    Each sample takes the next photo of ``photos`` in turn (:func:`load_photo`), a random crop
    (:func:`crop_box`), then resize and centre crop (:func:`crop_image`).
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    rng = np.random.default_rng(seed)
    images = [load_photo(name) for name in photos]
    out = torch.empty(n, 3, size, size)
    for i in range(n):
        img = images[i % len(images)]
        out[i] = crop_image(img, crop_box(img.shape[1:], rng), size)
    return out


def paragraphs(part: str = "all") -> list[str]:
    """Paragraphs of ``pydoc_data.topics`` (Python's own documentation) with at least 30 words.

    ``part``: ``'all'``; ``'held_out'``, the paragraphs of every fourth topic (in sorted order of the
    topic names: whole topics are held out), less any that a calibration topic repeats word for
    word; or ``'calibration'``, the distinct paragraphs of the other topics.
    """
    from pydoc_data.topics import topics

    if part not in ("all", "calibration", "held_out"):
        raise ValueError(f"part must be 'all', 'calibration' or 'held_out', got {part!r}")

    def found(names):
        return [p.strip() for t in names for p in topics[t].split("\n\n") if len(p.split()) >= 30]

    if part == "all":
        return found(topics)
    held = [t for i, t in enumerate(sorted(topics)) if i % 4 == 3]
    calib = list(dict.fromkeys(found([t for t in sorted(topics) if t not in held])))
    if part == "calibration":
        return calib
    seen = set(calib)  # a paragraph repeated in a calibration topic is not held out
    return [p for p in dict.fromkeys(found(held)) if p not in seen]


def tokenize(texts, *, max_tokens: int = 64, tokenizer: Path | None = None):
    """``(input_ids, attention_mask)`` of ``texts`` with MiniLM's ``tokenizer.json`` (truncated and padded
    to ``max_tokens``; whitespace collapsed)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer or Path(resolve("minilm_l6").path).parent / "tokenizer.json"))
    tok.enable_truncation(max_tokens)
    tok.enable_padding(length=max_tokens)
    enc = tok.encode_batch([" ".join(p.split()) for p in texts])
    return torch.tensor([e.ids for e in enc]), torch.tensor([e.attention_mask for e in enc])


def sample_text(n: int, *, seed: int = 0, max_tokens: int = 64, tokenizer: Path | None = None, part: str = "all"):
    """``n`` passages of English documentation prose as ``(input_ids, attention_mask)``.

    Passages are :func:`paragraphs` of ``part``, drawn without replacement with ``seed``, tokenized
    (:func:`tokenize`).
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    found = paragraphs(part)
    rng = np.random.default_rng(seed)
    chosen = [found[i] for i in rng.choice(len(found), size=min(n, len(found)), replace=False)]
    return tokenize(chosen, max_tokens=max_tokens, tokenizer=tokenizer)


def capture_inputs(model: nn.Module, layer_names, *inputs) -> dict[str, torch.Tensor]:
    """Run ``model(*inputs)`` once and return the input each named layer received.

    Raises
    ------
    ValueError
        A name that is not a module of the model, or a module that is not ``Conv2d``/``Linear``
        (the valid names are listed).
    """
    modules = dict(model.named_modules())
    valid = [k for k, m in modules.items() if isinstance(m, nn.Conv2d | nn.Linear)]
    for name in layer_names:
        if name not in modules:
            raise ValueError(f"unknown layer {name!r}; conv/linear layers of this model: {', '.join(valid)}")
        if not isinstance(modules[name], nn.Conv2d | nn.Linear):
            raise ValueError(
                f"layer {name!r} is a {type(modules[name]).__name__}, not conv/linear; valid: {', '.join(valid)}"
            )
    seen: dict[str, torch.Tensor] = {}
    hooks = [
        modules[name].register_forward_pre_hook(lambda _m, args, name=name: seen.__setitem__(name, args[0].detach()))
        for name in layer_names
    ]
    try:
        with torch.no_grad():
            model(*inputs)
    finally:
        for h in hooks:
            h.remove()
    return seen


def layer_input_rows(module: nn.Module, inputs: torch.Tensor, *, mask: torch.Tensor | None = None):
    """Rows ``X`` of the per-channel problems of one layer, grouped as the layer computes.

    Returns
    -------
    list of (numpy.ndarray, numpy.ndarray)
        One ``(X, channels)`` per convolution group (one for an ordinary layer): ``X`` has one
        row per output position (im2col patch, columns ordered as the flattened kernel) or per
        real token (padding dropped when ``mask`` is given), and ``channels`` lists the output
        channels that use it.
    """
    if isinstance(module, nn.Linear):
        x = inputs.reshape(-1, inputs.shape[-1])
        if mask is not None:
            x = x[mask.reshape(-1).bool()]
        return [(x.double().numpy(), np.arange(module.out_features))]
    if not isinstance(module, nn.Conv2d):
        raise ValueError(f"{type(module).__name__} is not a conv/linear layer")
    pad = getattr(module, "static_padding", None)  # "same" padding applied inside forward (EfficientNet)
    if pad is not None:
        inputs = pad(inputs)
    g = module.groups
    cin, cout = module.in_channels // g, module.out_channels // g
    out = []
    for k in range(g):
        part = inputs[:, k * cin : (k + 1) * cin]
        cols = nn.functional.unfold(part, module.kernel_size, module.dilation, module.padding, module.stride)
        x = cols.transpose(1, 2).reshape(-1, cols.shape[1])
        out.append((x.double().numpy(), np.arange(k * cout, (k + 1) * cout)))
    return out
