"""Convert the paper's released per-tensor data into the compact table pvq ships.

Usage: python tools/vendor_released.py SOURCE_FOLDER

SOURCE_FOLDER holds ``weights_sqnr/<model>_<b>_bits_mse.json`` (the paper repository's
``plots_data/weights_sqnr/``), its ``LICENSE`` and ``README.md``. Writes, deterministically,
``pvq/tensors/released/weights_sqnr.csv.gz`` (one row per model, tensor and bit-width, every value
at full precision), and copies the licence and the provenance beside it.
"""

import gzip
import io
import json
import re
import shutil
import sys
from pathlib import Path

import pandas as pd

OUT = Path(__file__).resolve().parents[1] / "pvq" / "tensors" / "released"
FIELDS = {  # released field -> column of pvq's table (names of tensors.csv where they mean the same)
    "sample_kurtosis": "excess_kurtosis",
    "quant_sqnr": "quant_snr_db_paper",
    "quant_mse": "quant_mse",
    "quant_sparsity": "natural_sparsity",
    "pruning_sqnr": "prune_snr_db",
    "pruning_mse": "prune_mse",
    "pruning_sqnr_corrected": "prune_snr_db_corrected",
    "pruning_mse_corrected": "prune_mse_corrected",
}
PROVENANCE = """# The paper's released per-tensor data

`weights_sqnr.csv.gz` holds the per-tensor results released with the paper (Kuzmin et al.,
*Pruning vs Quantization: Which is Better?*, NeurIPS 2023) in its official repository,
`Qualcomm-AI-research/pruning-vs-quantization`, folder `plots_data/weights_sqnr/` (commit
4deed982e485ce9c22e53fbb12e2a24c7e7c16ff, 2023-12-15): {models} torchvision models x bit-widths
2..8, {rows} rows, the data behind the PyTorch-zoo part of the paper's Figure 3 (the three language
models are not in the release).

Converted by `tools/vendor_released.py` from the 315 files `<model>_<b>_bits_mse.json` (one row per
model, tensor and bit-width; values to 10 significant digits). Columns, with the released field:

- `excess_kurtosis` (`sample_kurtosis`): excess kurtosis of the weights (normal = 0);
- `quant_snr_db_paper`, `quant_mse` (`quant_sqnr`, `quant_mse`): INT-b, signed grid, per-tensor
  scale from the paper's 100-candidate MSE grid;
- `natural_sparsity` (`quant_sparsity`): share of weights this quantizer rounds to zero;
- `prune_snr_db`, `prune_mse` (`pruning_sqnr`, `pruning_mse`): magnitude pruning at 1 - b/16;
- `prune_snr_db_corrected`, `prune_mse_corrected` (`pruning_sqnr_corrected`,
  `pruning_mse_corrected`): pruning keeping (1 - z) b/16 of the weights, z the natural sparsity.

Tensor names are the layer names without `.weight`. Licence: BSD-style (the clear BSD licence),
`LICENSE` beside this file, Copyright (c) 2023 Qualcomm Technologies, Inc.; redistributed with
that notice kept.
"""
NAME = re.compile(r"^(?P<model>.+)_(?P<bits>\d+)_bits_mse\.json$")


def convert(source: Path) -> pd.DataFrame:
    rows = []
    for path in sorted((source / "weights_sqnr").glob("*.json")):
        m = NAME.match(path.name)
        if not m:
            raise ValueError(f"unexpected file name {path.name}")
        for tensor, values in json.loads(path.read_text()).items():
            missing = set(FIELDS) - set(values)
            if missing:
                raise ValueError(f"{path.name}: {tensor} lacks {sorted(missing)}")
            rows.append({"model": m["model"], "tensor": tensor, "n_bits": int(m["bits"]),
                         **{FIELDS[k]: float(values[k]) for k in FIELDS}})  # fmt: skip
    table = pd.DataFrame(rows).sort_values(["model", "n_bits", "tensor"], kind="stable").reset_index(drop=True)
    return table


def main(source: str) -> None:
    source = Path(source)
    table = convert(source)
    OUT.mkdir(parents=True, exist_ok=True)
    text = table.to_csv(index=False, float_format="%.10g").encode()
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="") as gz:
        gz.write(text)
    (OUT / "weights_sqnr.csv.gz").write_bytes(buf.getvalue())
    shutil.copyfile(source / "LICENSE", OUT / "LICENSE")
    (OUT / "PROVENANCE.md").write_text(PROVENANCE.format(rows=len(table), models=table.model.nunique()))
    print(f"{len(table)} rows, {table.model.nunique()} models -> {OUT}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
