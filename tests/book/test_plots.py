"""Every figure of the book drawn from small hand-made tidy tables: panels, labels, legends, a saved PNG."""

import inspect
import math

import matplotlib.colors
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from scipy import stats

from pvq.book import plots, training_plots
from pvq.book.plots import (
    plot_crossover,
    plot_heavy_tail,
    plot_normal_comparison,
    plot_per_layer,
    plot_snr_margin,
    plot_storage,
    plot_tensor_snr,
    plot_win_vs_kurtosis,
)
from pvq.book.publish import save_figure
from pvq.book.theme import PRUNE_COLOR, QUANT_COLOR
from pvq.book.training_plots import (
    plot_combining,
    plot_longer,
    plot_representation_shapes,
    plot_representations,
    plot_seed_spread,
    plot_table1,
)
from pvq.tensors.summaries import snr_margins

PNG = b"\x89PNG\r\n\x1a\n"


def texts(fig: Figure) -> set[str]:
    """Every string drawn on the figure: titles, axis labels, tick labels, legend entries and titles, texts."""
    out = set()
    for t in fig.findobj(lambda a: hasattr(a, "get_text") and hasattr(a, "get_position")):
        if t.get_text():
            out.add(t.get_text())
    for ax in fig.axes:
        out |= {ax.get_title(), ax.get_xlabel(), ax.get_ylabel()}
    return out - {""}


def legend_labels(ax) -> list[str]:
    legend = ax.get_legend()
    assert legend is not None, f"no legend on the panel titled {ax.get_title()!r}"
    return [t.get_text() for t in legend.get_texts()]


def figure_legend(fig: Figure) -> list[str]:
    """The entries of the figure's one legend (placed below the panels, not on any of them)."""
    (legend,) = fig.legends
    return [t.get_text() for t in legend.get_texts()]


def visible_axes(fig: Figure) -> list:
    return [ax for ax in fig.axes if ax.get_visible()]


def check_saved(fig, results_tmp, name):
    """save_figure writes a real, non-empty PNG under results/<stem>/."""
    path = save_figure(fig, "99_plots", name)
    assert path == results_tmp / "99_plots" / f"{name}.png"
    data = path.read_bytes()
    assert data[:8] == PNG and len(data) > 5_000


def test_every_plot_function_has_a_test():
    public = set()
    for module in (plots, training_plots):
        mine = {
            n
            for n, f in inspect.getmembers(module, inspect.isfunction)
            if n.startswith("plot_") and f.__module__ == module.__name__
        }
        assert mine == {n for n in module.__all__ if n.startswith("plot_")}
        public |= mine
    assert len(public) >= 11
    missing = {f"test_{name}" for name in public} - set(globals())
    assert not missing, f"plot functions without a test: {sorted(missing)}"


# -- chapter 2 -----------------------------------------------------------------------------------------


def test_plot_normal_comparison(results_tmp):
    w = np.linspace(-4, 4, 201)
    density = stats.norm.pdf(w)
    t = stats.norm.ppf(0.875)
    pruned = np.abs(w) < t
    curves = pd.DataFrame({
        "w": w, "density": density, "pruned_density": np.where(pruned, 0.0, density),
        "quant_weighted_error": 1e-3 * density + 1e-5, "prune_weighted_error": np.where(pruned, w**2, 0) * density,
    })  # fmt: skip
    levels = pd.DataFrame({"level": np.arange(-8, 8) * 0.3, "probability": 1 / 16, "spacing": 0.3})
    snr = pd.DataFrame({"n_bits": [2, 4, 8], "sparsity": [0.875, 0.75, 0.5], "quant_snr_db": [8.3, 19.3, 40.6],
                        "prune_snr_db": [3.0, 5.6, 11.5]})  # fmt: skip
    fig = plot_normal_comparison(curves, levels, snr, n_bits=4, sparsity=0.75, spike=0.75)
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    ax_d, ax_e, ax_s = fig.axes
    assert [ax.get_title() for ax in fig.axes] == [
        "distributions after compression", "squared error weighted by density", "SNR vs compression",
    ]  # fmt: skip
    (top,) = fig.legends  # one legend for the two top panels, above them
    assert [t.get_text() for t in top.get_texts()] == ["original density", "INT4 (left: mass / level spacing)",
                                                       "75% pruning"]  # fmt: skip
    assert ax_d.get_legend() is None and ax_e.get_legend() is None and ax_e.get_yscale() == "log"
    assert [line.get_color() for line in ax_e.lines] == [QUANT_COLOR, PRUNE_COLOR]  # the legend's colours
    assert legend_labels(ax_s) == ["quantization", "pruning"]
    assert (ax_s.get_xlabel(), ax_s.get_ylabel()) == ("compression (pruned share 1 - b/16)", "SNR (dB)")
    assert {"pruned:\nmass 0.75\nat 0", "INT2", "INT4", "INT8"} <= texts(fig)
    assert ax_s.lines[0].get_color() == QUANT_COLOR and ax_s.lines[1].get_color() == PRUNE_COLOR
    np.testing.assert_allclose(ax_s.lines[0].get_xdata(), [0.875, 0.75, 0.5])  # x is 1 - b/16
    check_saved(fig, results_tmp, "normal")


def heavy_sweep():
    rows = []
    for k in (3.0, 10.0, 50.0, 200.0):
        for b in (2, 3, 4):
            q = 6.0 * b + 2
            p = 3 + 2 * math.log(k) - (b - 2)  # pruning wins at 2 bits for heavy tails only
            rows.append({"kurtosis": k, "n_bits": b, "sparsity": 1 - b / 16, "quant_snr_db": q, "prune_snr_db": p})
    return pd.DataFrame(rows)


def test_plot_heavy_tail(results_tmp):
    fig = plot_heavy_tail(heavy_sweep(), title="truncated Student-t, ν = 2")
    assert isinstance(fig, Figure)
    p, q, legend_row, m, colorbar = fig.axes  # three panels, a row for the lines' legend, the colour bar
    panels = [p, q, m]
    assert [ax.get_title() for ax in panels] == [
        "pruning SNR", "quantization SNR", "blue: quantization wins, red: pruning wins",
    ]  # fmt: skip
    assert legend_labels(legend_row) == ["INT2 / 87.50%", "INT3 / 81.25%", "INT4 / 75.00%"]
    assert not legend_row.axison and p.get_legend() is None and q.get_legend() is None
    assert [line.get_color() for line in p.lines] == [line.get_color() for line in q.lines]  # one colour per point
    assert all(ax.get_xscale() == "log" and ax.get_xlabel() == "kurtosis (Pearson)" for ax in panels)
    assert colorbar.get_ylabel() == "quantization − pruning SNR (dB)"
    assert fig.get_suptitle() == "truncated Student-t, ν = 2"
    assert plot_heavy_tail(heavy_sweep()).get_suptitle() == ""
    check_saved(fig, results_tmp, "heavy")


def test_plot_crossover(results_tmp):
    crossover = pd.DataFrame({
        "family": ["t, ν = 1"] * 3 + ["gennorm"] * 3, "kurtosis": [3.0, 30.0, 300.0] * 2,
        "max_prune_win_bits": [0, 2, 3, 0, 0, 2],
    })  # fmt: skip
    fig = plot_crossover(crossover)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    assert legend_labels(ax) == ["t, ν = 1", "gennorm"]  # in the table's order
    assert ax.get_ylabel() == "pruning wins up to b bits (0: never)" and ax.get_xscale() == "log"
    assert ax.get_title() == "where pruning starts to win depends on the tail family"
    check_saved(fig, results_tmp, "crossover")


# -- chapter 1 -----------------------------------------------------------------------------------------


def test_plot_storage(results_tmp):
    table = pd.DataFrame({
        "n_bits": [2, 4, 8] * 3, "format": ["ideal"] * 3 + ["bitmask"] * 3 + ["index"] * 3,
        "equivalent_sparsity": [0.875, 0.75, 0.5, 0.9375, 0.8125, 0.5625, 0.9, 0.8, 0.6],
    })  # fmt: skip
    fig = plot_storage(table)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    assert legend_labels(ax) == ["ideal", "bitmask", "index"] and ax.get_legend().get_title().get_text() == "format"
    assert ax.get_xlabel() == "INT-b storage budget (bits per weight)" and ax.get_ylabel() == "sparsity needed"
    assert ax.get_title() == "equal-storage sparsity by sparse format"
    check_saved(fig, results_tmp, "storage")


# -- chapter 3 -----------------------------------------------------------------------------------------


def tensor_table(n=30, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for b in (2, 4, 8):
        for i in range(n):
            q = 6.0 * b + rng.normal()
            rows.append({"tensor": f"t{i}", "n_bits": b, "sparsity": 1 - b / 16, "kurtosis": 3 + 10 * i,
                         "quant_snr_db": q, "quant_snr_db_paper": q - 0.5,
                         "prune_snr_db": q + (1.0 if b == 2 and i > n // 2 else -3.0)})  # fmt: skip
    return pd.DataFrame(rows)


def test_plot_tensor_snr(results_tmp):
    fig = plot_tensor_snr(tensor_table())
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    (legend,) = fig.legends  # below the axes, off the points
    assert [t.get_text() for t in legend.get_texts()] == ["INT8 vs 50.00%", "INT4 vs 75.00%", "INT2 vs 87.50%"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("quantization SNR (dB)", "pruning SNR (dB)")
    assert ax.get_title() == "every tensor: above the line, pruning wins" and "y = x" in texts(fig)
    assert len(ax.collections) == 3 and sum(len(c.get_offsets()) for c in ax.collections) == 90
    paper = plot_tensor_snr(tensor_table(), quant_col="quant_snr_db_paper", title="paper's clipping")
    assert paper.axes[0].get_title() == "paper's clipping"
    np.testing.assert_allclose(
        paper.axes[0].collections[0].get_offsets()[:, 0], tensor_table().query("n_bits == 8").quant_snr_db_paper
    )
    check_saved(fig, results_tmp, "tensor-snr")


def test_plot_win_vs_kurtosis(results_tmp):
    df = tensor_table()
    boundary = pd.DataFrame({"n_bits": [2, 4, 8], "boundary_kurtosis": [150.0, np.nan, np.nan]})
    fig = plot_win_vs_kurtosis(df, boundary)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    (legend,) = fig.legends  # below the axes, off the points
    assert [t.get_text() for t in legend.get_texts()] == ["quantization wins", "pruning wins", "fitted boundary"]
    assert ax.get_title() == "who wins, by tensor kurtosis" and ax.get_xscale() == "log"
    assert ax.get_ylabel() == "bits b (pruning 1 - b/16)" and list(ax.get_yticks()) == [2, 4, 8]
    quant, prune, bound = ax.collections
    assert len(quant.get_offsets()) + len(prune.get_offsets()) == len(df)
    assert len(prune.get_offsets()) == int((df.prune_snr_db > df.quant_snr_db).sum()) > 0
    assert len(bound.get_offsets()) == 1  # NaN boundaries are not drawn
    check_saved(fig, results_tmp, "win-vs-kurtosis")


def test_plot_snr_margin(results_tmp):
    df = tensor_table().assign(model="m")
    margins = pd.concat([snr_margins(df, source="this book"),
                         snr_margins(df, quant_col="quant_snr_db_paper", source="released")])  # fmt: skip
    fig = plot_snr_margin(margins)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    assert legend_labels(ax) == ["this book", "released", "tie (pruning wins below)"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["INT2\n87.50%", "INT4\n75.00%", "INT8\n50.00%"]
    assert ax.get_ylabel() == "quantization − pruning SNR (dB)"
    assert ax.get_xlabel() == "comparison point: INT-b against pruning 1 - b/16"
    zero = [line for line in ax.lines if list(line.get_ydata()) == [0.0, 0.0]]
    assert len(zero) == 1 and zero[0].get_color() == PRUNE_COLOR
    lo, hi = ax.get_ylim()
    assert lo <= margins.margin_db.min() and hi >= margins.margin_db.max()  # cut at the extreme tensors
    check_saved(fig, results_tmp, "snr-margin")
    one = plot_snr_margin(margins[margins.source == "released"])
    assert legend_labels(one.axes[0]) == ["released", "tie (pruning wins below)"]
    with pytest.raises(ValueError, match="one or two sources"):
        plot_snr_margin(pd.concat([margins, margins.assign(source="third")]))


# -- chapter 4 -----------------------------------------------------------------------------------------


def per_layer_table(layers):
    rows = []
    for model, layer in layers:
        for b in (2, 4, 8):
            q = 6.0 * b
            rows.append({"model": model, "layer": layer, "n_bits": b, "quant_exact_db": q, "quant_exact_proven": 1.0,
                         "quant_sdp_lower_db": q - 1, "quant_sdp_upper_db": q + 1, "prune_exact_db": 2.0 * b,
                         "prune_exact_proven": 1.0 if b < 8 else 0.5, "prune_bound_db": 2.0 * b + 1,
                         "quant_sdp_paper_lower_db": q - 3, "quant_sdp_paper_upper_db": q + 4,
                         "prune_layer_db": 2.0 * b + 0.5, "quant_GPTQ_db": q - 0.5,
                         "prune_magnitude + refit_db": 2.0 * b - 1})  # fmt: skip
    return pd.DataFrame(rows)


@pytest.mark.parametrize(("n_layers", "grid"), [(1, (1, 1)), (2, (1, 2)), (5, (2, 3))])
def test_plot_per_layer(results_tmp, n_layers, grid):
    layers = [("mobilenet_v2", f"features.{i}.conv.0.0") for i in range(n_layers)]
    fig = plot_per_layer(per_layer_table(layers))
    assert isinstance(fig, Figure) and len(fig.axes) == grid[0] * grid[1]
    shown = visible_axes(fig)
    assert len(shown) == n_layers  # the panels left over in the grid are hidden
    assert [ax.get_title() for ax in shown] == [f"{m}\n{layer}" for m, layer in layers]
    assert shown[0].get_ylabel() == "layer SNR (dB)"
    assert [ax.get_ylabel() for ax in shown[1:3]] == [""] * len(shown[1:3])  # one y label per row of panels
    if n_layers == 5:
        assert shown[3].get_ylabel() == "layer SNR (dB)"
    assert [t.get_text() for t in shown[0].get_xticklabels()] == ["2b", "4b", "8b"]
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == [
        "quant. SDP bounds, paper's plain", "quant. SDP bounds, strengthened", "quant. exact", "prune exact, per chunk",
        "prune best found", "prune exact, layer budget", "GPTQ", "magnitude + refit",
    ]  # fmt: skip
    check_saved(fig, results_tmp, f"per-layer-{n_layers}")


def test_plot_per_layer_breaks_long_layer_names_after_dots():
    layers = [("minilm_l6", "encoder.layer.2.attention.output.dense"), ("m", "features.8.conv.0.0")]
    titles = [ax.get_title() for ax in visible_axes(plot_per_layer(per_layer_table(layers)))]
    assert titles == ["minilm_l6\nencoder.layer.2.attention.\noutput.dense", "m\nfeatures.8.conv.0.0"]
    assert all(len(line) <= 26 for t in titles for line in t.split("\n"))


def test_plot_per_layer_without_optional_columns():
    table = per_layer_table([("m", "l")]).drop(columns=["quant_sdp_lower_db", "quant_sdp_upper_db", "quant_GPTQ_db",
                                                         "prune_layer_db"])  # fmt: skip
    labels = [t.get_text() for t in plot_per_layer(table).legends[0].get_texts()]
    assert "quant. SDP bounds, strengthened" not in labels and "GPTQ" not in labels and "quant. exact" in labels
    assert "quant. SDP bounds, paper's plain" in labels and "prune exact, layer budget" not in labels


# -- chapters 5–7 --------------------------------------------------------------------------------------


def table1_frame(archs=("resnet_small", "mobilenet_small")):
    rows = []
    for arch in archs:
        for epochs in (2, 4):
            for b in (2, 4):
                rows.append({"arch": arch, "epochs": epochs, "n_bits": b, "sparsity": 1 - b / 16,
                             "accuracy_mean_qat": 0.9 - 0.01 * (4 - b), "accuracy_std_qat": 0.002,
                             "accuracy_mean_prune": 0.88 - 0.03 * (4 - b), "accuracy_std_prune": np.nan})  # fmt: skip
    return pd.DataFrame(rows)


def test_plot_table1(results_tmp):
    baselines = pd.DataFrame({"arch": ["resnet_small"], "accuracy": [0.91]})
    fig = plot_table1(table1_frame(), baselines)
    assert isinstance(fig, Figure) and len(fig.axes) == 2  # one panel per architecture
    left, right = fig.axes
    assert [left.get_title(), right.get_title()] == ["resnet_small", "mobilenet_small"]
    qat, prune = "QAT (INT-b, first/last 8 bits)", "gradual pruning (1 - b/16)"
    (legend,) = fig.legends  # one legend for both panels, below them
    assert left.get_legend() is None and sorted(t.get_text() for t in legend.get_texts()) == [
        "FP32 baseline", qat, prune,
    ]  # fmt: skip
    assert left.get_ylabel() == "Fashion-MNIST test accuracy (%)"
    assert (
        left.get_xlabel() == right.get_xlabel() == "measured bits per weight\n(below: sparsity of the paired pruning)"
    )
    assert [t.get_text() for t in left.get_xticklabels()] == ["2\n88%", "4\n75%"]
    assert [line.get_ydata()[0] for line in left.lines if line.get_linestyle() == "--"] == [pytest.approx(91.0)]
    assert not any(line.get_linestyle() == "--" for line in right.lines)  # no baseline given for it
    single = plot_table1(table1_frame(("resnet_small",)))
    assert len(single.axes) == 1 and figure_legend(single) == [qat, prune]
    only_right = plot_table1(table1_frame(), pd.DataFrame({"arch": ["mobilenet_small"], "accuracy": [0.9]}))
    assert figure_legend(only_right) == [qat, prune, "FP32 baseline"]  # gathered from every panel
    check_saved(fig, results_tmp, "table1")
    # at the measured bits: QAT a little right of b, the ablation (open circles) at b
    t1 = table1_frame(("resnet_small",)).assign(bits_qat=lambda t: t.n_bits + 0.24, bits_prune=lambda t: t.n_bits * 1.0)
    abl = t1[t1.n_bits == 2].assign(bits_qat=2.0, accuracy_mean_qat=0.8)
    fig = plot_table1(t1, ablation=abl)
    ax = fig.axes[0]
    assert figure_legend(fig) == [qat, prune, "QAT, every layer INT-b"]
    xs = [c.get_children()[0].get_xdata().tolist() for c in ax.containers]
    assert xs == [pytest.approx([2.24, 4.24]), pytest.approx([2.0, 4.0]), pytest.approx([2.0])]


def test_plot_longer(results_tmp):
    longer = pd.DataFrame({
        "arch": ["resnet_small"] * 4, "n_bits": [2, 2, 3, 3], "factor": [1.0, 2.0, 1.0, 2.0],
        "accuracy_mean_qat": [0.88, 0.885, 0.9, 0.9], "accuracy_std_qat": [0.001, 0.002, np.nan, 0.001],
        "accuracy_mean_prune": [0.8, 0.84, 0.85, 0.86], "accuracy_std_prune": [0.01, 0.01, 0.01, 0.01],
    })  # fmt: skip
    fig = plot_longer(longer)
    assert isinstance(fig, Figure) and len(fig.axes) == 2  # one panel per (architecture, point)
    assert [ax.get_title() for ax in fig.axes] == ["resnet_small, INT2 vs 87.50%", "resnet_small, INT3 vs 81.25%"]
    assert figure_legend(fig) == ["QAT at INT-b", "gradual pruning at 1 - b/16"]  # once, below the panels
    assert fig.axes[0].get_legend() is None
    assert (
        fig.axes[0].get_ylabel() == "test accuracy (%)"
        and fig.axes[1].get_xlabel() == "fine-tuning length (× the base)"
    )
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["1×", "2×"]
    check_saved(fig, results_tmp, "longer")


def seed_table(archs=("resnet_small", "mobilenet_small"), points=(2, 4, 8), seeds=(0, 1, 2)):
    rows = []
    for arch in archs:
        for b in points:
            for method, acc in (("QAT", 0.9 - 0.005 * (8 - b)), ("pruning", 0.9 - 0.04 * (8 - b))):
                for s in seeds:
                    rows.append({"arch": arch, "n_bits": b, "sparsity": 1 - b / 16, "method": method, "seed": s,
                                 "accuracy": acc + 0.002 * (s - 1)})  # fmt: skip
    return pd.DataFrame(rows)


def test_plot_seed_spread(results_tmp):
    fig = plot_seed_spread(seed_table())
    assert isinstance(fig, Figure) and len(fig.axes) == 2  # one panel per architecture, stacked
    top, bottom = fig.axes
    assert [top.get_title(), bottom.get_title()] == ["resnet_small", "mobilenet_small"]
    assert top.get_position().y0 > bottom.get_position().y1  # stacked, not side by side
    assert top.get_ylabel() == bottom.get_ylabel() == "test accuracy (%)"
    assert bottom.get_xlabel() == "comparison point: QAT's INT-b, pruning's share of weights removed"
    assert [t.get_text() for t in top.get_xticklabels()] == ["INT2\n87.50%", "INT4\n75.00%", "INT8\n50.00%"]
    assert figure_legend(fig) == ["QAT, one seed", "pruning, one seed", "mean over seeds"]
    dots = top.collections[:6]  # seaborn's strip plot: one collection per (point, method), every seed a dot
    assert [len(c.get_offsets()) for c in dots] == [3] * 6
    assert sorted(np.round(np.concatenate([c.get_offsets()[:, 1] for c in dots]), 6)) == sorted(
        np.round(100 * seed_table(("resnet_small",)).accuracy, 6)
    )
    qat_int2 = dots[0].get_offsets()
    assert np.all(np.abs(qat_int2[:, 0] - (0 - 0.2)) < 0.2)  # QAT left of the point's centre
    means = top.collections[6:]  # a bar at each group's mean, in the method's colour
    assert len(means) == 6
    bar = means[0].get_segments()[0]
    assert bar[0][1] == pytest.approx(100 * (0.9 - 0.03)) and bar[0][0] < -0.2 < bar[1][0]
    assert means[0].get_color()[0][:3] == pytest.approx(matplotlib.colors.to_rgb(QUANT_COLOR))
    check_saved(fig, results_tmp, "seed-spread")


def test_strip_plot_jitter_is_the_same_on_every_build():
    # seaborn jitters from numpy's global generator, which a fresh kernel seeds at random
    def dots(fig):
        return np.concatenate([c.get_offsets() for c in fig.axes[0].collections])

    np.random.seed(1)  # noqa: NPY002
    first = dots(plot_seed_spread(seed_table()))
    after = np.random.random()  # noqa: NPY002
    np.random.seed(2)  # noqa: NPY002
    np.testing.assert_array_equal(dots(plot_seed_spread(seed_table())), first)
    np.random.seed(1)  # noqa: NPY002
    assert np.random.random() == after  # noqa: NPY002  (the global generator is left as it was)
    np.random.seed(3)  # noqa: NPY002
    one = dots(plot_representation_shapes(shapes_frame(), min_change_db=0.5))
    np.random.seed(4)  # noqa: NPY002
    np.testing.assert_array_equal(dots(plot_representation_shapes(shapes_frame(), min_change_db=0.5)), one)


def test_plot_seed_spread_keeps_the_points_of_each_panel():
    t = seed_table(("net",), points=(3, 6)).query("not (n_bits == 6 and method == 'pruning' and seed == 2)")
    ax = plot_seed_spread(t).axes[0]
    assert [tk.get_text() for tk in ax.get_xticklabels()] == ["INT3\n81.25%", "INT6\n62.50%"]
    assert [len(c.get_offsets()) for c in ax.collections[:4]] == [3, 3, 3, 2]


def test_plot_combining(results_tmp):
    front = pd.DataFrame([
        {"arch": "resnet_small", "kind": "quantized", "n_bits": 4, "avg_bits": 3.0, "accuracy_mean": 0.90},
        {"arch": "resnet_small", "kind": "quantized", "n_bits": 8, "avg_bits": 7.0, "accuracy_mean": 0.91},
        {"arch": "resnet_small", "kind": "pruned", "n_bits": np.nan, "avg_bits": 4.0, "accuracy_mean": 0.89},
        {"arch": "resnet_small", "kind": "pruned", "n_bits": np.nan, "avg_bits": 8.0, "accuracy_mean": 0.905},
        {"arch": "resnet_small", "kind": "combined", "n_bits": 4, "avg_bits": 1.5, "accuracy_mean": 0.88},
        {"arch": "resnet_small", "kind": "combined", "n_bits": 8, "avg_bits": 3.5, "accuracy_mean": 0.905},
        {"arch": "resnet_small", "kind": "combined", "n_bits": 8, "avg_bits": 1.8, "accuracy_mean": 0.89},
    ])  # fmt: skip
    fig = plot_combining(front)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    (legend,) = fig.legends  # one legend below the panels, off the data
    assert [t.get_text() for t in legend.get_texts()] == [
        "quantized (natural sparsity only)",
        "pruned (FP16)",
        "INT4 + pruning",
        "INT8 + pruning",
    ]
    assert ax.get_legend() is None
    assert ax.get_title() == "resnet_small" and ax.get_ylabel() == "test accuracy (%)"
    assert ax.get_xlabel() == "average bits per weight" and ax.get_xscale() == "log"
    fig.canvas.draw()
    ticks = {t.get_text() for t in ax.get_xticklabels() if t.get_visible()}
    assert {"2", "3", "4", "6"} <= ticks  # plain numbers, not powers of two
    int8 = ax.lines[3]  # each combined line starts at its quantized model
    np.testing.assert_allclose(int8.get_xdata(), [7.0, 1.8, 3.5])
    two = plot_combining(pd.concat([front, front.assign(arch="mobilenet_small")]))
    assert len(two.axes) == 2 and len(two.legends) == 1
    assert len(two.legends[0].get_texts()) == 4  # each entry once for both panels
    check_saved(fig, results_tmp, "combining")


def representation_summary(methods=(("qat", "INT4", 4, 0.0), ("prune", "75% pruning", None, 0.75))):
    rows = []
    for arch in ("resnet_small", "mobilenet_small"):
        for method, label, bits, sparsity in methods:
            for progress, snr in ((0.0, 5.0), (0.5, 12.0), (1.0, 15.0)):
                rows.append({"arch": arch, "method": method, "label": label, "n_bits": bits, "sparsity": sparsity,
                             "step": round(100 * progress), "progress": progress, "snr_db": snr,
                             "cka": 1 - 10 ** (-snr / 10)})  # fmt: skip
    return pd.DataFrame(rows)


@pytest.mark.parametrize(("metric", "ylabel"), [("snr_db", "activation SNR (dB)"), ("cka", "linear CKA")])
def test_plot_representations(results_tmp, metric, ylabel):
    summary = representation_summary(
        (("qat", "INT4", 4, 0.0), ("prune", "75% pruning", None, 0.75), ("fp32", "FP32 fine-tuned", None, 0.0))
    )
    fig = plot_representations(summary, metric=metric)
    assert isinstance(fig, Figure) and len(fig.axes) == 4  # a row per architecture, a column per method
    assert [ax.get_title() for ax in fig.axes] == [
        "resnet_small: QAT", "resnet_small: pruning", "mobilenet_small: QAT", "mobilenet_small: pruning",
    ]  # fmt: skip
    assert fig.axes[0].get_ylabel() == ylabel and fig.axes[2].get_ylabel() == ylabel
    assert [ax.get_xlabel() for ax in fig.axes[2:]] == ["fraction of fine-tuning"] * 2
    # a legend below each column's bottom panel, off the data; pruning's entries without the method's name
    assert fig.axes[0].get_legend() is None and fig.axes[1].get_legend() is None
    assert legend_labels(fig.axes[2]) == ["INT4", "FP32 control"]
    assert legend_labels(fig.axes[3]) == ["75%", "FP32 control"]
    assert fig.axes[3].get_legend().get_title().get_text() == "pruning (share removed)"
    assert fig.axes[3].get_legend().get_bbox_to_anchor().y0 < fig.axes[3].get_window_extent().y0
    qat_line, qat_start = fig.axes[0].lines[:2]  # step 0 (compressed, before fine-tuning) apart from the line
    assert qat_line.get_xdata().tolist() == [0.5, 1.0] and qat_start.get_xdata().tolist() == [0.0]
    assert qat_start.get_linestyle() == "None" and qat_start.get_markerfacecolor() == "none"
    for ax in fig.axes:  # the control is the black line of every panel
        fp32 = [line for line in ax.lines if line.get_label() == "FP32 control"]
        assert len(fp32) == 1 and fp32[0].get_color() == "k"
    check_saved(fig, results_tmp, f"representations-{metric}")


def test_plot_representations_in_one_panel_per_architecture():
    summary = representation_summary()
    fig = plot_representations(summary, by_method=False)
    assert [ax.get_title() for ax in fig.axes] == ["resnet_small", "mobilenet_small"]  # stacked, full width
    assert legend_labels(fig.axes[-1]) == ["INT4", "75% pruning"]


def test_plot_representations_darker_for_more_compression():
    summary = representation_summary((("qat", "INT8", 8, 0.0), ("qat", "INT2", 2, 0.0)))
    ax = plot_representations(summary).axes[0]
    lines = {line.get_label(): line for line in ax.lines if not line.get_label().startswith("_")}
    luminance = {k: sum(to_rgb(v.get_color())) for k, v in lines.items()}
    assert luminance["INT2"] < luminance["INT8"]


def test_plot_representations_draws_every_bit_width_of_the_parameters():
    """Every comparison point FineTuningParams accepts (ft_bits 1..15) can be drawn."""
    for b in (2, 8, 12, 15):
        summary = representation_summary((("qat", f"INT{b}", b, 0.0), ("prune", "p", None, 1 - b / 16)))
        assert isinstance(plot_representations(summary), Figure), b


def shapes_frame():
    rows = []
    for method, climb, drift in (("qat", [0.1, 0.2, 0.9], [-1.0, -2.0, 0.3]), ("prune", [1.0, 2.0, 0.1], [1, 2, 3]),
                                 ("fp32", [0.0, 0.0, 0.0], [-np.inf] * 3)):  # fmt: skip
        for layer, (c, d) in enumerate(zip(climb, drift, strict=True)):
            rows.append({"arch": "resnet_small", "method": method, "layer": f"l{layer}", "climb_db": c, "drift_db": d})
    return pd.DataFrame(rows)


def test_plot_representation_shapes(results_tmp):
    fig = plot_representation_shapes(shapes_frame(), min_change_db=0.5)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    climb, drift = fig.axes
    assert (climb.get_ylabel(), drift.get_ylabel()) == ("climb back from the lowest point (dB)", "end − step 0 (dB)")
    assert [t.get_text() for t in climb.get_xticklabels()] == ["QAT", "pruning", "FP32 control"]
    # one dot per trajectory; the control's infinite drift (from an identical network) is left out
    assert sum(len(c.get_offsets()) for c in climb.collections if len(c.get_offsets())) == 9
    assert sum(len(c.get_offsets()) for c in drift.collections if len(c.get_offsets())) == 6
    assert [line.get_ydata()[0] for line in climb.lines if line.get_linestyle() == "--"] == [0.5]
    assert [line.get_ydata()[0] for line in drift.lines if line.get_linestyle() == "--"] == [-0.5]
    check_saved(fig, results_tmp, "representation-shapes")
