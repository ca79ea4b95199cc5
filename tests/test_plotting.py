import matplotlib
import numpy as np
import pytest
import torch

import matplotlib.pyplot as plt

from course_utils import plotting
from course_utils.paths import DATA_DIR
from course_utils.seeding import make_generator

matplotlib.use("Agg")


def test_to_numpy_images_ranges():
    x = torch.tensor([-1.0, 0.0, 1.0]).view(1, 1, 1, 3).expand(1, 3, 1, 3)
    arr = plotting.to_numpy_images(x)
    assert arr.shape == (1, 1, 3, 3)
    assert np.allclose(arr[0, 0, :, 0], [0.0, 0.5, 1.0])
    y = torch.full((3, 2, 2), 0.25)
    assert np.allclose(plotting.to_numpy_images(y), 0.25)                     # [0, 1] kept as is
    assert np.allclose(plotting.to_numpy_images(y, value_range=(-1, 1)), 0.625)


@pytest.mark.parametrize("shape", [(2, 4, 8, 8), (8, 8, 3), (8, 8), (1, 2, 3, 8, 8)])
def test_wrong_shapes_are_clear_errors(shape):
    with pytest.raises(ValueError, match=r"\[N, C, H, W\]"):
        plotting.show_images(torch.zeros(shape))


def test_not_a_tensor():
    with pytest.raises(TypeError, match="torch.Tensor"):
        plotting.show_images(np.zeros((1, 3, 4, 4)))


def test_show_images_titles_and_grid():
    fig = plotting.show_images(torch.rand(5, 3, 8, 8, generator=torch.Generator().manual_seed(0)), titles=list("abcde"), ncols=3)
    axes = fig.axes
    assert len(axes) == 6 and [a.get_title() for a in axes[:5]] == list("abcde")
    with pytest.raises(ValueError, match="one title per image"):
        plotting.show_images(torch.zeros(2, 3, 8, 8), titles=["only one"])
    plotting.close_all()


def test_histogram_and_curves():
    fig = plotting.show_histogram(torch.randn(1000, generator=torch.Generator().manual_seed(0)), title="h")
    assert fig.axes[0].get_title() == "h" and len(fig.axes[0].lines) == 1
    fig = plotting.plot_curves([0, 1, 2], {"a": [1, 2, 3], "b": [3, 2, 1]}, logy=True)
    assert len(fig.axes[0].lines) == 2 and fig.axes[0].get_yscale() == "log"
    with pytest.raises(ValueError, match="has 2 values"):
        plotting.plot_curves([0, 1, 2], {"a": [1, 2]})
    plotting.close_all()


def test_palette_is_the_course_style():
    plotting.use_course_style()
    cycle = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    assert tuple(cycle) == plotting.PALETTE


def test_animate_images_one_frame_per_step():
    import matplotlib.pyplot as plt
    frames = torch.linspace(-1, 1, 3).view(3, 1, 1, 1, 1).expand(3, 2, 3, 4, 4)       # 3 frames of 2 images
    open_before = len(plt.get_fignums())
    anim = plotting.animate_images(frames, [f"step {i}" for i in range(3)], labels=["x_t", "x̂0"])
    assert len(plt.get_fignums()) == open_before                              # closed: no stray static copy
    html = anim.to_jshtml()
    assert html.count("data:image/png;base64") == 3                           # one embedded PNG per frame
    with pytest.raises(ValueError, match=r"\[F, N, C, H, W\]"):
        plotting.animate_images(frames[0])
    with pytest.raises(ValueError, match="2 titles for 3 frames"):
        plotting.animate_images(frames, ["a", "b"])


def test_animate_images_draws_one_channel_in_grey():
    frames = torch.linspace(-1, 1, 2).view(2, 1, 1, 1, 1).expand(2, 1, 1, 4, 4)     # 2 frames, 1 grey image
    anim = plotting.animate_images(frames, value_range=(-1, 1))
    image = anim._fig.axes[0].images[0]
    assert image.get_cmap().name == "gray" and image.get_array().shape == (4, 4)
    assert anim.to_jshtml().count("data:image/png") == 2     # drawn, so matplotlib does not warn it never was


def test_show_rows_draws_one_labelled_row_per_model():
    fig = plotting.show_rows({"a": torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1,
                              "b": torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1})
    axes = fig.axes
    assert len(axes) == 6 and axes[0].get_ylabel() == "a" and axes[3].get_ylabel() == "b"
    assert len(axes[5].images) == 0 and len(axes[4].images) == 1          # row b has 2 images in 3 columns
    with pytest.raises(ValueError, match="rows is empty"):
        plotting.show_rows({})


def test_show_bars_one_labelled_bar_per_value_and_a_reference_line():
    fig = plotting.show_bars({"a": 3.0, "b": 1.5}, line=1.0, line_label="floor", title="t")
    ax = fig.axes[0]
    assert [p.get_width() for p in ax.patches] == [3.0, 1.5]
    assert [t.get_text() for t in ax.texts] == ["3.0", "1.5"] and ax.get_title() == "t"
    assert ax.lines[0].get_xdata()[0] == 1.0 and ax.get_legend().get_texts()[0].get_text() == "floor"
    assert ax.get_xlim()[1] > 3.0                                           # the longest bar fits
    with pytest.raises(ValueError, match="values is empty"):
        plotting.show_bars({})
    plotting.close_all()


def test_show_spread_draws_every_value_and_each_sets_median_in_order():
    fig = plotting.show_spread({"samples": [0.3, 0.1, 0.2], "renders": torch.tensor([0.5])}, line=0.0,
                               line_label="a copy", xlabel="distance", title="t")
    ax = fig.axes[0]
    dots, median, dot, median_b, zero = ax.lines
    assert sorted(dots.get_xdata()) == [0.1, 0.2, 0.3] and list(dot.get_xdata()) == [0.5]
    assert list(median.get_xdata()) == [0.2, 0.2] and list(median_b.get_xdata()) == [0.5, 0.5]
    assert all(abs(y) <= 0.3 for y in dots.get_ydata()) and all(abs(y - 1) <= 0.3 for y in dot.get_ydata())
    assert [t.get_text() for t in ax.get_yticklabels()] == ["samples", "renders"]
    assert zero.get_xdata()[0] == 0.0 and ax.get_legend().get_texts()[0].get_text() == "a copy"
    for bad in ({}, {"samples": []}):
        with pytest.raises(ValueError, match="at least one"):
            plotting.show_spread(bad)
    plotting.close_all()


# ----------------------------------------------------------------------------- 2D points (notebooks 03, 09)
def test_toy_plots_return_figures_and_draw_the_given_paths():
    from course_utils.plotting import plot_points, plot_score_field, plot_trajectories
    paths = torch.cumsum(torch.randn(6, 5, 2, generator=make_generator(0)), 0)   # [T, N, 2]
    grid = torch.stack(torch.meshgrid(torch.linspace(-1.3, 1.3, 5), torch.linspace(-1.3, 1.3, 5), indexing="xy"), -1)
    grid = grid.reshape(-1, 2)
    for fig in (plot_points(paths[-1], title="samples"), plot_trajectories(paths, n=3),
                plot_score_field(grid, -grid, data=paths[-1], title="score")):
        assert isinstance(fig, matplotlib.figure.Figure)
    ax = plot_trajectories(paths, n=5).axes[0]
    assert len(ax.lines) == 5 and (ax.lines[0].get_xydata() == paths[:, 0].numpy()).all()
    with pytest.raises(ValueError, match=r"\[T, N, 2\]"):
        plot_trajectories(paths[0])
    plt.close("all")


def test_score_arrows_grow_with_the_score_and_are_capped():
    from course_utils.plotting import plot_score_field
    grid = torch.stack(torch.meshgrid(torch.linspace(-1.3, 1.3, 5), torch.linspace(-1.3, 1.3, 5), indexing="xy"), -1)
    grid = grid.reshape(-1, 2)
    score = -grid * torch.linspace(0.1, 10, 25)[:, None]          # growing |score|
    quiver = plot_score_field(grid, score).axes[0].collections[-1]
    lengths = torch.from_numpy((quiver.U ** 2 + quiver.V ** 2) ** 0.5)
    step = 2 * 1.3 / 4
    assert float(lengths.max()) <= 1.5 * step + 1e-6                # capped at 1.5 grid steps
    nonzero = lengths[grid.norm(dim=1) > 0]
    assert float(nonzero.max() / nonzero.min()) > 3                # not all the same length
    plt.close("all")


# ----------------------------------------------------------------------------- the UNet diagram
def test_unet_levels_read_a_text_to_image_unet_config():
    from diffusers import UNet2DConditionModel
    config = UNet2DConditionModel.load_config(DATA_DIR / "storybook-sd" / "unet")
    u = plotting.unet_levels(config)
    assert [lv["side"] for lv in u["levels"]] == [16 // 2 ** i for i in range(len(config["block_out_channels"]))]
    assert [lv["channels"] for lv in u["levels"]] == list(config["block_out_channels"])
    assert [lv["attention"] for lv in u["levels"]] == ["cross" if "CrossAttn" in b else "" for b in config["down_block_types"]]
    assert u["mid"]["attention"] == "cross" and str(config["cross_attention_dim"]) in u["conditioning"]


def test_unet_levels_read_a_pixel_unet_with_self_attention_and_its_up_blocks():
    from diffusers import UNet2DModel
    unet = UNet2DModel(sample_size=16, block_out_channels=(8, 16, 16), layers_per_block=2, norm_num_groups=4,
                       down_block_types=("DownBlock2D", "AttnDownBlock2D", "DownBlock2D"),
                       up_block_types=("UpBlock2D", "AttnUpBlock2D", "UpBlock2D"))
    u = plotting.unet_levels(unet)                                   # the model or its config
    assert [(lv["side"], lv["channels"], lv["attention"], lv["layers"]) for lv in u["levels"]] == [
        (16, 8, "", 2), (8, 16, "self", 2), (4, 16, "", 2)]
    assert [lv["up"] for lv in u["levels"]] == ["UpBlock2D", "AttnUpBlock2D", "UpBlock2D"]   # same level, same side
    assert u["mid"] == {"side": 4, "channels": 16, "attention": "self"} and u["in_channels"] == 3
    fig = plotting.unet_diagram(unet.config)
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "AttnDownBlock2D\n8×8, 16 ch\n2 residual blocks" in texts and "cross-attention" not in texts
    plt.close(fig)


@pytest.mark.parametrize("config, message", [
    ({"block_out_channels": [32, 64]}, "has no"),
    ({"block_out_channels": [32], "down_block_types": ["DownBlock2D", "DownBlock2D"], "up_block_types": ["UpBlock2D"],
      "layers_per_block": 1, "sample_size": 32}, "one channel count per level"),
    ({"block_out_channels": [32], "down_block_types": ["Conv"], "up_block_types": ["UpBlock2D"],
      "layers_per_block": 1, "sample_size": 32}, "DownBlock2D"),
])
def test_unet_levels_refuse_a_config_they_cannot_read(config, message):
    with pytest.raises(ValueError, match=message):
        plotting.unet_levels(config)
    with pytest.raises(TypeError, match="config"):
        plotting.unet_levels([1, 2])


# ----------------------------------------------------------------------------- show_source
def _example(x):
    """Doc."""
    y = x + 1
    # the line that matters
    z = y * 2
    return z


def test_show_source_prints_the_chosen_lines_numbered_as_in_the_file(capsys):
    import inspect
    plotting.show_source(_example, "the line that matters", "return")
    out = capsys.readouterr().out.splitlines()
    first = inspect.getsourcelines(_example)[1]
    assert out[0] == f"test_plotting.py, _example, lines {first + 3}–{first + 5}:"
    assert [line.split(None, 1) for line in out[1:]] == [
        [str(first + 3), "# the line that matters"], [str(first + 4), "z = y * 2"], [str(first + 5), "return z"]]
    plotting.show_source(_example)
    assert len(capsys.readouterr().out.splitlines()) == 1 + len(inspect.getsourcelines(_example)[0])


def test_show_source_names_a_course_module_and_refuses_missing_anchors(capsys):
    plotting.show_source(plotting.show_source, "def find", "return hit")
    assert capsys.readouterr().out.startswith("course_utils/plotting.py, show_source, lines ")
    with pytest.raises(ValueError, match="no line of _example .* contains 'nowhere'"):
        plotting.show_source(_example, "nowhere")
    with pytest.raises(ValueError, match="contains 'y = x'"):
        plotting.show_source(_example, "return", "y = x")            # stop is searched after start
    with pytest.raises(TypeError, match="function"):
        plotting.show_source("not a function")
