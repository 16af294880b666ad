"""Tests of sklearn_teracon.plotting (matplotlib, Agg backend)."""

import doctest
import sys
from pathlib import Path

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from sklearn_teracon import plotting  # noqa: E402
from sklearn_teracon.plotting import (  # noqa: E402
    plot_learning_curve,
    plot_task_relations,
    plot_transfer_matrix,
)
from sklearn_teracon.transfer import LabelScarceReport  # noqa: E402

NAMES = ["next_item", "click", "five_star", "age", "gender", "occupation"]
METRICS = ["mrr@5", "mrr@5", "mrr@5", "accuracy", "accuracy", "accuracy"]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _lower_triangular(T, seed=0):
    rng = np.random.default_rng(seed)
    R = rng.uniform(0.05, 0.95, size=(T, T))
    R[np.triu_indices(T, 1)] = np.nan
    return R


def _relations(T, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.uniform(0.0, 1.0, size=(T, T))
    rel = (A + A.T) / 2
    np.fill_diagonal(rel, 1.0)
    return rel


def _tick_texts(labels):
    return [label.get_text() for label in labels]


# --------------------------------------------------------------------------- #
# plot_transfer_matrix
# --------------------------------------------------------------------------- #
def test_transfer_matrix_figure_annotations_and_labels():
    R = _lower_triangular(6)
    fig = plot_transfer_matrix(R, NAMES, metrics=METRICS)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    # One text per finite cell (lower triangle incl. diagonal: 6 * 7 / 2 = 21),
    # none for the NaN cells.
    assert len(ax.texts) == 21
    expected = [f"{R[i, j]:.3f}" for i in range(6) for j in range(i + 1)]
    assert [t.get_text() for t in ax.texts] == expected
    # Each annotation sits on its own cell.
    positions = [t.get_position() for t in ax.texts]
    assert positions == [(j, i) for i in range(6) for j in range(i + 1)]
    assert _tick_texts(ax.get_yticklabels()) == NAMES
    assert _tick_texts(ax.get_xticklabels()) == [
        f"{n}\n({m})" for n, m in zip(NAMES, METRICS)
    ]
    assert ax.get_title() == "Continual transfer matrix"
    assert ax.get_ylabel() == "after training task"
    assert ax.get_xlabel() == "score on task"


def test_transfer_matrix_without_metrics_uses_plain_names():
    fig = plot_transfer_matrix(_lower_triangular(3), NAMES[:3], title=None)
    ax = fig.axes[0]
    assert _tick_texts(ax.get_xticklabels()) == NAMES[:3]
    assert _tick_texts(ax.get_yticklabels()) == NAMES[:3]
    assert ax.get_title() == ""
    assert ax.images[0].colorbar.ax.get_ylabel() == "score"


def test_transfer_matrix_full_matrix_annotates_every_cell():
    R = np.arange(16, dtype=float).reshape(4, 4) / 16
    fig = plot_transfer_matrix(R, NAMES[:4])
    assert len(fig.axes[0].texts) == 16


def test_transfer_matrix_colorbar_and_nan_cells():
    R = _lower_triangular(4)
    fig = plot_transfer_matrix(R, NAMES[:4], metrics=["accuracy"] * 4)
    ax = fig.axes[0]
    image = ax.images[0]
    assert image.colorbar is not None
    assert len(fig.axes) == 2  # heatmap + colour bar
    # Same metric everywhere: the colour bar names it.
    assert image.colorbar.ax.get_ylabel() == "score (accuracy)"
    data = image.get_array()
    np.testing.assert_array_equal(np.ma.getmaskarray(data), np.isnan(R))
    # NaN cells are drawn grey, not with a colour of the map.
    bad = image.get_cmap().get_bad()
    assert bad[0] == bad[1] == bad[2] and 0.7 < bad[0] < 1.0
    # Colour limits span the finite values.
    assert image.norm.vmin == pytest.approx(np.nanmin(R))
    assert image.norm.vmax == pytest.approx(np.nanmax(R))


def test_transfer_matrix_mixed_metrics_colorbar_label():
    fig = plot_transfer_matrix(_lower_triangular(6), NAMES, metrics=METRICS)
    assert fig.axes[0].images[0].colorbar.ax.get_ylabel() == "score (task metric)"


def test_transfer_matrix_annotation_colour_follows_background():
    # viridis: low values are dark (white text), high values bright (black text).
    R = np.array([[0.0, np.nan], [0.5, 1.0]])
    fig = plot_transfer_matrix(R, ["a", "b"])
    colours = {t.get_text(): t.get_color() for t in fig.axes[0].texts}
    assert colours["0.000"] == "white"
    assert colours["1.000"] == "black"


def test_transfer_matrix_constant_values_do_not_break_the_colour_scale():
    fig = plot_transfer_matrix(np.full((2, 2), 0.5), ["a", "b"])
    norm = fig.axes[0].images[0].norm
    assert norm.vmin < 0.5 < norm.vmax


def test_transfer_matrix_explicit_limits():
    fig = plot_transfer_matrix(_lower_triangular(3), NAMES[:3], vmin=0.0, vmax=1.0)
    norm = fig.axes[0].images[0].norm
    assert (norm.vmin, norm.vmax) == (0.0, 1.0)


def test_transfer_matrix_draws_on_given_axes():
    fig, (left, right) = plt.subplots(1, 2)
    returned = plot_transfer_matrix(_lower_triangular(3), NAMES[:3], ax=right)
    assert returned is fig
    assert len(right.texts) == 6
    assert len(left.texts) == 0


@pytest.mark.parametrize(
    "R, names, kwargs, match",
    [
        (np.zeros((2, 3)), ["a", "b"], {}, "square"),
        (np.zeros(3), ["a", "b", "c"], {}, "square"),
        (np.zeros((0, 0)), [], {}, "non-empty"),
        (np.zeros((3, 3)), ["a", "b"], {}, "task_names has 2 entries"),
        (np.zeros((2, 2)), ["a", "b", "c"], {}, "task_names has 3 entries"),
        (np.zeros((2, 2)), ["a", "b"], {"metrics": ["accuracy"]}, "metrics has 1"),
    ],
)
def test_transfer_matrix_bad_shapes(R, names, kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot_transfer_matrix(R, names, **kwargs)


def test_transfer_matrix_single_string_names():
    with pytest.raises(TypeError, match="sequence of strings"):
        plot_transfer_matrix(np.zeros((2, 2)), "ab")


# --------------------------------------------------------------------------- #
# plot_task_relations
# --------------------------------------------------------------------------- #
def test_task_relations_figure_annotations_and_labels():
    rel = _relations(6)
    fig = plot_task_relations(rel, NAMES)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert len(ax.texts) == 36
    assert [t.get_text() for t in ax.texts] == [f"{v:.3f}" for v in rel.ravel()]
    assert _tick_texts(ax.get_xticklabels()) == NAMES
    assert _tick_texts(ax.get_yticklabels()) == NAMES
    image = ax.images[0]
    assert image.colorbar is not None
    assert image.colorbar.ax.get_ylabel() == "mask cosine similarity"
    assert ax.get_title() == "Task relations"
    # Values in [0, 1]: the colour scale is fixed to [0, 1].
    assert (image.norm.vmin, image.norm.vmax) == (0.0, 1.0)


def test_task_relations_values_outside_unit_interval_use_data_range():
    rel = np.array([[1.0, -0.4], [-0.4, 1.0]])
    norm = plot_task_relations(rel, ["a", "b"]).axes[0].images[0].norm
    assert (norm.vmin, norm.vmax) == (-0.4, 1.0)


def test_task_relations_nan_cells_left_blank():
    rel = np.array([[1.0, np.nan], [np.nan, 1.0]])
    fig = plot_task_relations(rel, ["a", "b"])
    assert [t.get_text() for t in fig.axes[0].texts] == ["1.000", "1.000"]


@pytest.mark.parametrize(
    "rel, names, match",
    [
        (np.ones((2, 3)), ["a", "b"], "square"),
        (np.ones((3, 3)), ["a", "b"], "task_names has 2 entries"),
        (np.ones((1, 1)), ["a", "b"], "task_names has 2 entries"),
    ],
)
def test_task_relations_bad_shapes(rel, names, match):
    with pytest.raises(ValueError, match=match):
        plot_task_relations(rel, names)


# --------------------------------------------------------------------------- #
# plot_learning_curve
# --------------------------------------------------------------------------- #
def _label_scarce_report(n_labelled=(10, 100, None), clipped=False):
    """Two tasks, three methods, two replicates; "all" is 150 users."""
    methods = ["teracon", "single", "popularity"]
    scores, users = {}, {}
    for t, task in enumerate(["age", "gender"]):
        for i, n in enumerate(n_labelled):
            for m, method in enumerate(methods):
                for r in range(2):
                    scores[(task, n, method, r)] = 0.1 * i + 0.05 * m + 0.02 * r + t
                drawn = 150 if n is None or (clipped and n > 150) else n
                users[(0, task, n)] = users[(1, task, n)] = np.arange(drawn)
    return LabelScarceReport(
        task_names=["age", "gender"],
        metrics=["accuracy", "accuracy"],
        n_labelled=list(n_labelled),
        methods=methods,
        encoder_method="teracon",
        baselines=["popularity"],
        replicates=[{"seed": 0}, {"seed": 1}],
        scores=scores,
        labelled_users=users,
    )


def test_learning_curve_lines_bands_and_log_axis():
    report = _label_scarce_report()
    fig = plot_learning_curve(report, "gender")
    ax = fig.axes[0]
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["teracon", "single", "popularity"]
    assert [line.get_linestyle() for line in lines] == ["-", "--", ":"]
    np.testing.assert_allclose(lines[0].get_xdata(), [10, 100, 150])
    # Mean of the two replicates: 0.00 and 0.02 above the base score.
    np.testing.assert_allclose(lines[0].get_ydata(), [1.01, 1.11, 1.21])
    assert len(ax.collections) == 3  # one +-std band per method
    assert ax.get_xscale() == "log"
    assert _tick_texts(ax.get_xticklabels()) == ["10", "100", "all (150)"]
    assert ax.get_title() == "gender: score by labelled users"
    assert ax.get_ylabel() == "test accuracy"
    # Default: the first task.
    assert plot_learning_curve(report).axes[0].get_title().startswith("age:")


def test_learning_curve_drops_an_n_clipped_to_all():
    report = _label_scarce_report((10, 1000, None), clipped=True)
    ax = plot_learning_curve(report, title=None).axes[0]
    assert _tick_texts(ax.get_xticklabels()) == ["10", "all (150)"]


def test_learning_curve_draws_on_given_axes_and_rejects_unknown_tasks():
    fig, (left, right) = plt.subplots(1, 2)
    assert plot_learning_curve(_label_scarce_report(), ax=right) is fig
    assert len(right.get_lines()) == 3 and len(left.get_lines()) == 0
    with pytest.raises(ValueError, match="no task 'height'"):
        plot_learning_curve(_label_scarce_report(), "height")


# --------------------------------------------------------------------------- #
# readability and packaging
# --------------------------------------------------------------------------- #
def test_figure_size_scales_with_number_of_tasks():
    small = plot_task_relations(_relations(3), NAMES[:3]).get_size_inches()
    names12 = [f"task{i}" for i in range(12)]
    large = plot_task_relations(_relations(12), names12).get_size_inches()
    assert large[0] > small[0] and large[1] > small[1]


def test_short_labels_stay_horizontal_long_labels_rotate():
    fig = plot_task_relations(_relations(3), ["a", "b", "c"])
    assert all(lab.get_rotation() == 0 for lab in fig.axes[0].get_xticklabels())
    long_names = [f"a_rather_long_task_name_{i}" for i in range(6)]
    fig = plot_transfer_matrix(_lower_triangular(6), long_names, metrics=METRICS)
    labels = fig.axes[0].get_xticklabels()
    assert all(lab.get_rotation() > 0 for lab in labels)
    assert all(lab.get_horizontalalignment() == "right" for lab in labels)


def test_missing_matplotlib_gives_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install sklearn-teracon\[plotting\]"):
        plot_transfer_matrix(np.eye(2), ["a", "b"])
    with pytest.raises(ImportError, match=r"pip install sklearn-teracon\[plotting\]"):
        plot_task_relations(np.eye(2), ["a", "b"])
    with pytest.raises(ImportError, match=r"pip install sklearn-teracon\[plotting\]"):
        plot_learning_curve(_label_scarce_report())


def test_module_does_not_import_matplotlib_at_import_time():
    source = Path(plotting.__file__).read_text()
    top_level = [
        line
        for line in source.splitlines()
        if line.startswith(("import matplotlib", "from matplotlib"))
    ]
    assert top_level == []


def test_docstring_examples_run():
    result = doctest.testmod(plotting, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 4
    assert result.failed == 0
