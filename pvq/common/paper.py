"""Numbers the paper states, each with its source, shown beside the book's own.

Kuzmin et al., *Pruning vs Quantization: Which is Better?* (NeurIPS 2023). A chapter never
copies one of these into its prose: it glues the constant, so a difference from our value is
visible and explained.
"""

from __future__ import annotations

__all__ = [
    "PAPER",
    "PAPER_RECIPE",
    "paper_values",
]

#: Values the paper states, each name mapped to ``(value, source)``.
PAPER = {
    "normal_int4_quant_snr_db": (19.1, "paper §3 text: INT4 on N(0,1), 'about 19.1 dB'"),
    "normal_75pct_prune_snr_db": (5.6, "paper §3 text: 75% pruning on N(0,1), 'about 5.6 dB'"),
    "heavy_tail_prune_win_max_bits": (3, "paper §3 / Fig. 2: pruning wins only at about 2–3 bits per value"),
    "natural_sparsity_int8": (0.13, "paper §7: ≈13% zeros at INT8"),
    "natural_sparsity_int4": (0.35, "paper §7: ≈35% zeros at INT4"),
    "resnet50_int4_top1": (0.763, "paper Table 1: ResNet-50 on ImageNet, INT4 QAT, 76.3% top-1"),
    "resnet50_prune75_top1": (0.761, "paper Table 1: ResNet-50 on ImageNet, 75% gradual pruning, 76.1% top-1"),
    "mask_bits_per_weight": (1.0, "paper §7: an unstructured mask costs ≥ 1 bit per weight (≥ 6.25% of FP16)"),
    "n_zoo_models": (46, "paper §4: every conv/linear tensor of 46 PyTorch model-zoo networks"),
    "n_language_models": (3, "paper §4: and three language models"),
    "finetune_epochs": (20, "paper §6: 20 epochs of ImageNet fine-tuning per model"),
    "n_finetuned_models": (9, "paper §6, Table 1: nine models fine-tuned, on ImageNet, VOC, COCO and WikiText-103"),
    "n_released_models": (45, "paper repository: per-tensor results released for 45 torchvision models"),
    "n_calibration_images": (64, "paper repository, §5 setup: 64 ImageNet validation images feed each layer"),
    "max_chunk_size": (32, "paper repository, §5 setup: problems cut into chunks of at most 32 input dimensions"),
}

#: The fine-tuning recipe of the paper's repository (ImageNet), each setting mapped to ``(value, source)``.
PAPER_RECIPE = {
    "epochs": (20, "paper repository: 20 epochs of ImageNet fine-tuning"),
    "momentum": (0.9, "paper repository: SGD, momentum 0.9"),
    "final_lr_ratio": (0.01, "paper repository: cosine schedule to 0.01 × lr"),
    "scale_lr": (1e-5, "paper repository: quantization scales by Adam, lr 1e-5, no weight decay"),
    "first_last_bits": (8, "paper repository: first and last layer at 8 bits"),
    "mask_interval": (50, "paper repository: pruning mask updated every 50 steps"),
    "prune_end": (0.75, "paper repository: target sparsity reached at the end of epoch 15 of 20"),
    "bn_batches": (50, "paper repository: batch-norm statistics re-estimated on 50 training batches"),
}


def paper_values(*names: str) -> dict:
    """The paper's values of :data:`PAPER` keyed ``paper-<name>`` (underscores as hyphens), for gluing.

    >>> paper_values("mask_bits_per_weight")
    {'paper-mask-bits-per-weight': 1.0}
    """
    unknown = [n for n in names if n not in PAPER]
    if unknown:
        raise KeyError(f"not a value the paper states: {unknown}; known: {sorted(PAPER)}")
    return {"paper-" + n.replace("_", "-"): PAPER[n][0] for n in names}
