"""The book's look: figures at the text column's width, saved sharp, drawn in seaborn's theme without global state."""

import struct

import matplotlib as mpl
import pytest

from pvq.book import plots, training_plots
from pvq.book.publish import save_figure
from pvq.book.theme import FIGURE_WIDTH, MIN_PIXELS, figure_dpi, themed

from .test_plots import per_layer_table


def png_size(path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    data = path.read_bytes()
    return struct.unpack(">II", data[16:24])


def test_figure_dpi_puts_enough_pixels_across():
    for width in (2.0, FIGURE_WIDTH, 13.0, 40.0):
        assert figure_dpi(width) * width >= MIN_PIXELS and figure_dpi(width) >= 100
    with pytest.raises(ValueError, match="figure width"):
        figure_dpi(0)


def test_themed_leaves_the_global_style_alone():
    before = dict(mpl.rcParams)

    @themed
    def draw():
        return mpl.rcParams["axes.facecolor"], mpl.rcParams["axes.grid"]

    assert draw() == ("white", True)  # seaborn's whitegrid while drawing
    assert dict(mpl.rcParams) == before


def test_every_plot_is_themed_and_text_column_wide(results_tmp):
    public = [getattr(m, n) for m in (plots, training_plots) for n in m.__all__]
    assert all(hasattr(f, "__wrapped__") for f in public)  # drawn inside themed()
    fig = plots.plot_per_layer(per_layer_table([("m", "l0"), ("m", "l1")]))
    assert fig.get_figwidth() == pytest.approx(FIGURE_WIDTH)
    width, _ = png_size(save_figure(fig, "theme", "fig-test"))
    assert width >= 0.95 * MIN_PIXELS  # "tight" bounding box trims only the margins
