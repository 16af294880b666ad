"""Tests of sklearn_teracon.metrics: hand-computed values and input validation."""

import doctest
import math
import re
import warnings

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, ndcg_score, top_k_accuracy_score

from sklearn_teracon import metrics
from sklearn_teracon.metrics import (
    _classification,
    _continual,
    _ranking,
    _scoring,
    _validation,
    accuracy,
    backward_transfer,
    forgetting,
    forward_transfer,
    hit_rate_at_k,
    mrr_at_k,
    ndcg_at_k,
    paired_difference,
    score_with_metric,
    target_ranks,
)

# Hand case. rank = 1 + number of OTHER columns with score >= the target's score.
SCORES = np.array(
    [
        [0.1, 0.7, 0.2, 0.7],  # target 1 (0.7): col 3 ties at 0.7        -> rank 2
        [0.9, 0.3, 0.3, 0.1],  # target 2 (0.3): col 0 (0.9), col 1 (0.3) -> rank 3
        [0.5, 0.5, 0.5, 0.5],  # target 0: the 3 other columns all tie     -> rank 4
        [0.2, 0.1, 0.0, 0.4],  # target -1: not among the candidates       -> rank inf
        [0.0, 0.0, 1.0, -1.0],  # target 2 (1.0): nothing >= 1.0           -> rank 1
    ]
)
TARGETS = np.array([1, 2, 0, -1, 2])
RANKS = np.array([2.0, 3.0, 4.0, np.inf, 1.0])

RANKING_FUNCS = [mrr_at_k, hit_rate_at_k, ndcg_at_k]


def _naive_ranks(scores, targets):
    """Slow reference: a Python loop over rows and columns."""
    out = []
    for row, t in zip(scores, targets):
        if t == -1:
            out.append(math.inf)
            continue
        others = [s for j, s in enumerate(row) if j != t and s >= row[t]]
        out.append(1.0 + len(others))
    return np.array(out)


# --------------------------------------------------------------------------- #
# target_ranks
# --------------------------------------------------------------------------- #
def test_target_ranks_hand_case_pessimistic_ties_and_unknown():
    ranks = target_ranks(SCORES, TARGETS)
    assert ranks.dtype == np.float64
    np.testing.assert_array_equal(ranks, RANKS)


def test_target_ranks_constant_scores_get_the_worst_rank():
    # 10 candidates, every score equal: 9 other columns tie -> rank 10 everywhere.
    scores = np.full((4, 10), 0.25)
    np.testing.assert_array_equal(target_ranks(scores, [0, 3, 9, 5]), [10] * 4)
    assert mrr_at_k(scores, [0, 3, 9, 5], k=5) == 0.0
    assert hit_rate_at_k(scores, [0, 3, 9, 5], k=9) == 0.0
    assert hit_rate_at_k(scores, [0, 3, 9, 5], k=10) == 1.0


def test_target_ranks_infinite_scores_are_ranked():
    # row 0: target +inf, others finite -> rank 1
    # row 1: target +inf ties with another +inf -> rank 2
    # row 2: target -inf, the 2 others are larger -> rank 3
    scores = np.array([[np.inf, 1.0, 2.0], [np.inf, np.inf, 0.0], [-np.inf, 0.0, 1.0]])
    np.testing.assert_array_equal(target_ranks(scores, [0, 1, 0]), [1, 2, 3])


def test_target_ranks_accepts_int_float32_scores_and_integral_float_targets():
    as_int = (SCORES * 10).astype(np.int64)  # same order, same ties
    np.testing.assert_array_equal(target_ranks(as_int, TARGETS), RANKS)
    np.testing.assert_array_equal(
        target_ranks(SCORES.astype(np.float32), TARGETS), RANKS
    )
    np.testing.assert_array_equal(
        target_ranks(SCORES, TARGETS.astype(np.float64)), RANKS
    )
    np.testing.assert_array_equal(target_ranks(SCORES.tolist(), list(TARGETS)), RANKS)


@pytest.mark.parametrize("chunk_size", [1, 2, 7, 64, 10_000])
def test_target_ranks_chunking_matches_unchunked_and_naive(chunk_size):
    rng = np.random.default_rng(0)
    # Rounded scores create many ties; some -1 targets.
    scores = np.round(rng.normal(size=(257, 31)), 1)
    targets = rng.integers(-1, 31, size=257)
    reference = _naive_ranks(scores, targets)
    np.testing.assert_array_equal(target_ranks(scores, targets), reference)
    np.testing.assert_array_equal(
        target_ranks(scores, targets, chunk_size=chunk_size), reference
    )


def test_target_ranks_default_chunk_is_bounded(monkeypatch):
    # Force the default chunk down to 2 rows (64 elements / 31 columns): the
    # default path must loop over many chunks and still give the same ranks.
    rng = np.random.default_rng(1)
    scores = np.round(rng.normal(size=(50, 31)), 1)
    targets = rng.integers(-1, 31, size=50)
    monkeypatch.setattr(_validation, "_CHUNK_ELEMENTS", 64)
    assert _validation._check_chunk_size(None, 31) == 2
    np.testing.assert_array_equal(
        target_ranks(scores, targets), _naive_ranks(scores, targets)
    )


def test_target_ranks_nan_in_a_later_chunk_is_reported_with_its_row():
    scores = np.zeros((10, 3))
    scores[7, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN.*row 7"):
        target_ranks(scores, np.zeros(10, dtype=int), chunk_size=3)


# --------------------------------------------------------------------------- #
# mrr / hr / ndcg
# --------------------------------------------------------------------------- #
def test_mrr_at_k_hand_values():
    # ranks 2, 3, 4, inf, 1
    # k=2: 1/2 + 0 + 0 + 0 + 1       = 1.5     -> 1.5 / 5 = 0.3
    # k=3: 1/2 + 1/3 + 0 + 0 + 1     = 11/6    -> 11/30
    assert mrr_at_k(SCORES, TARGETS, k=2) == pytest.approx(0.3)
    assert mrr_at_k(SCORES, TARGETS, k=3) == pytest.approx(11 / 30)
    # k=1: only the rank-1 row counts -> 1 / 5
    assert mrr_at_k(SCORES, TARGETS, k=1) == pytest.approx(0.2)


def test_hit_rate_at_k_hand_values():
    # ranks 2, 3, 4, inf, 1: hits at k=2 -> {2, 1} = 2/5; k=3 -> 3/5; k=4 -> 4/5
    assert hit_rate_at_k(SCORES, TARGETS, k=2) == pytest.approx(0.4)
    assert hit_rate_at_k(SCORES, TARGETS, k=3) == pytest.approx(0.6)
    assert hit_rate_at_k(SCORES, TARGETS, k=4) == pytest.approx(0.8)


def test_ndcg_at_k_hand_values():
    # ranks 2, 3, 4, inf, 1; k=3: 1/log2(3) + 1/log2(4) + 0 + 0 + 1/log2(2)
    #                           = 0.6309298 + 0.5 + 1 = 2.1309298 -> / 5
    assert ndcg_at_k(SCORES, TARGETS, k=3) == pytest.approx(2.1309298 / 5)
    # k=1: only rank 1 counts, gain 1 -> 1 / 5
    assert ndcg_at_k(SCORES, TARGETS, k=1) == pytest.approx(0.2)


def test_k_larger_than_number_of_candidates_counts_every_finite_rank():
    # 4 candidates, k=100: ranks 2, 3, 4 and 1 all count; inf never does.
    # mrr  = (1/2 + 1/3 + 1/4 + 0 + 1) / 5 = (25/12) / 5 = 5/12
    # hr   = 4 / 5
    # ndcg = (1/log2 3 + 1/log2 4 + 1/log2 5 + 0 + 1) / 5
    #      = (0.6309298 + 0.5 + 0.4306766 + 1) / 5 = 2.5616064 / 5
    assert mrr_at_k(SCORES, TARGETS, k=100) == pytest.approx(5 / 12)
    assert hit_rate_at_k(SCORES, TARGETS, k=100) == pytest.approx(0.8)
    assert ndcg_at_k(SCORES, TARGETS, k=100) == pytest.approx(2.5616064 / 5)
    # k equal to n_candidates gives the same values.
    assert mrr_at_k(SCORES, TARGETS, k=4) == pytest.approx(5 / 12)


def test_unknown_targets_are_always_misses():
    # A perfect model for the known rows; the -1 row must still count as 0.
    scores = np.eye(3)
    assert hit_rate_at_k(scores, [0, 1, -1], k=3) == pytest.approx(2 / 3)
    assert mrr_at_k(scores, [0, 1, -1], k=3) == pytest.approx(2 / 3)
    assert ndcg_at_k(scores, [-1, -1, -1], k=3) == 0.0


@pytest.mark.parametrize("func", RANKING_FUNCS)
def test_ranking_metrics_return_python_float(func):
    assert type(func(SCORES, TARGETS, k=5)) is float


# --------------------------------------------------------------------------- #
# accuracy and score_with_metric
# --------------------------------------------------------------------------- #
def test_accuracy_hand_values():
    # 3 of 4 equal
    assert accuracy([1, 2, 3, 4], [1, 2, 3, 0]) == 0.75
    assert accuracy(np.array(["a", "b"]), ["b", "a"]) == 0.0
    assert type(accuracy([1], [1])) is float


@pytest.mark.parametrize(
    "y_true, y_pred, match",
    [
        ([1, 2, 3], [1, 2], "inconsistent lengths"),
        ([], [], "empty"),
        ([[1, 2]], [[1, 2]], "1-D"),
    ],
)
def test_accuracy_bad_input(y_true, y_pred, match):
    with pytest.raises(ValueError, match=match):
        accuracy(y_true, y_pred)


def test_score_with_metric_accuracy_uses_first_argmax():
    # argmax (first max): row 0 -> 0 (tie 0/1), row 1 -> 1, row 2 -> 2
    # targets 1, 1, -1: only row 1 is right -> 1/3
    scores = np.array([[0.5, 0.5, 0.0], [0.0, 1.0, 0.0], [0.2, 0.1, 0.3]])
    assert score_with_metric("accuracy", scores, [1, 1, -1]) == pytest.approx(1 / 3)
    # targets 0, 1, 2: all right -> 1
    assert score_with_metric("accuracy", scores, [0, 1, 2]) == 1.0


def test_score_with_metric_accuracy_chunked(monkeypatch):
    rng = np.random.default_rng(2)
    scores = rng.normal(size=(40, 5))
    targets = rng.integers(0, 5, size=40)
    expected = float(np.mean(scores.argmax(axis=1) == targets))
    monkeypatch.setattr(_validation, "_CHUNK_ELEMENTS", 15)  # 3 rows per chunk
    assert score_with_metric("accuracy", scores, targets) == pytest.approx(expected)


def test_score_with_metric_accuracy_rejects_nan():
    with pytest.raises(ValueError, match="NaN"):
        score_with_metric("accuracy", [[0.1, np.nan]], [0])


@pytest.mark.parametrize(
    "name, func, k",
    [
        ("mrr@5", mrr_at_k, 5),
        ("mrr@2", mrr_at_k, 2),
        ("hr@3", hit_rate_at_k, 3),
        ("HR@2", hit_rate_at_k, 2),
        (" ndcg@3 ", ndcg_at_k, 3),
        ("ndcg@10", ndcg_at_k, 10),
    ],
)
def test_score_with_metric_ranking_names(name, func, k):
    assert score_with_metric(name, SCORES, TARGETS) == func(SCORES, TARGETS, k=k)


def test_score_with_metric_parses_k():
    # mrr@2 = 0.3 and mrr@3 = 11/30 (see test_mrr_at_k_hand_values)
    assert score_with_metric("mrr@2", SCORES, TARGETS) == pytest.approx(0.3)
    assert score_with_metric("mrr@3", SCORES, TARGETS) == pytest.approx(11 / 30)


@pytest.mark.parametrize(
    "name", ["mrr", "mrr@", "mrr@x", "auc", "mrr@0", "mrr@-1", "map@5", "", "acc"]
)
def test_score_with_metric_unknown_name(name):
    with pytest.raises(ValueError, match=r"(valid forms|K must be >= 1)") as info:
        score_with_metric(name, SCORES, TARGETS)
    assert repr(name) in str(info.value)


def test_score_with_metric_unknown_name_lists_valid_forms():
    with pytest.raises(ValueError, match=r"accuracy.*mrr@K.*hr@K.*ndcg@K"):
        score_with_metric("auc", SCORES, TARGETS)


def test_score_with_metric_non_string():
    with pytest.raises(TypeError, match="metric must be a string"):
        score_with_metric(5, SCORES, TARGETS)


# --------------------------------------------------------------------------- #
# bad ranking input (every ranking function, and target_ranks)
# --------------------------------------------------------------------------- #
ALL_RANKING = [
    target_ranks,
    mrr_at_k,
    hit_rate_at_k,
    ndcg_at_k,
    lambda s, t: score_with_metric("accuracy", s, t),
    lambda s, t: score_with_metric("mrr@5", s, t),
]


@pytest.mark.parametrize("func", ALL_RANKING)
@pytest.mark.parametrize(
    "scores, targets, error, match",
    [
        ([0.1, 0.2], [0], ValueError, "2-D"),
        (np.zeros((2, 2, 2)), [0, 1], ValueError, "2-D"),
        (np.zeros((0, 3)), np.zeros(0, dtype=int), ValueError, "empty"),
        (np.zeros((2, 0)), [0, 0], ValueError, "0 columns"),
        (np.zeros((3, 4)), [0, 1], ValueError, "inconsistent lengths"),
        (np.zeros((2, 4)), [[0, 1]], ValueError, "1-D"),
        (np.zeros((2, 4)), [0, 4], ValueError, r"out of range.*targets\[1\] = 4"),
        (np.zeros((2, 4)), [-2, 0], ValueError, r"out of range.*targets\[0\] = -2"),
        (np.zeros((2, 4)), [0.5, 1.0], TypeError, "integer"),
        (np.zeros((2, 4)), [np.nan, 1.0], TypeError, "integer"),
        (np.zeros((2, 4)), [True, False], TypeError, "integer"),
        (np.zeros((2, 4)), ["a", "b"], TypeError, "integer"),
        ([[0.1, np.nan], [0.2, 0.3]], [0, 1], ValueError, "NaN"),
        ([["a", "b"], ["c", "d"]], [0, 1], TypeError, "real numbers"),
        (np.ones((2, 2), dtype=complex), [0, 1], TypeError, "real numbers"),
    ],
)
def test_ranking_bad_input(func, scores, targets, error, match):
    with pytest.raises(error, match=match):
        func(scores, targets)


@pytest.mark.parametrize("func", RANKING_FUNCS)
@pytest.mark.parametrize(
    "k, error, match",
    [
        (0, ValueError, "k must be >= 1"),
        (-3, ValueError, "k must be >= 1"),
        (2.5, TypeError, "k must be an integer"),
        (True, TypeError, "k must be an integer"),
        ("5", TypeError, "k must be an integer"),
    ],
)
def test_bad_k(func, k, error, match):
    with pytest.raises(error, match=match):
        func(SCORES, TARGETS, k=k)


def test_numpy_integer_k_is_accepted():
    assert mrr_at_k(SCORES, TARGETS, k=np.int64(2)) == pytest.approx(0.3)


@pytest.mark.parametrize(
    "chunk_size, error", [(0, ValueError), (-1, ValueError), (1.5, TypeError)]
)
def test_bad_chunk_size(chunk_size, error):
    with pytest.raises(error, match="chunk_size"):
        target_ranks(SCORES, TARGETS, chunk_size=chunk_size)


# --------------------------------------------------------------------------- #
# continual quantities
# --------------------------------------------------------------------------- #
# R[i, j]: score on task j after training through task i (0-based).
R3 = np.array(
    [
        [0.50, np.nan, np.nan],
        [0.55, 0.60, np.nan],
        [0.45, 0.68, 0.70],
    ]
)
SINGLE3 = np.array([0.50, 0.50, 0.75])


def test_backward_transfer_hand_3x3():
    # j=0: R[2,0] - R[0,0] = 0.45 - 0.50 = -0.05
    # j=1: R[2,1] - R[1,1] = 0.68 - 0.60 = +0.08
    # mean = 0.03 / 2 = 0.015
    assert backward_transfer(R3) == pytest.approx(0.015)


def test_forward_transfer_hand_3x3():
    # j=1: R[1,1] - single[1] = 0.60 - 0.50 = +0.10
    # j=2: R[2,2] - single[2] = 0.70 - 0.75 = -0.05
    # mean = 0.05 / 2 = 0.025   (single[0] unused)
    assert forward_transfer(R3, SINGLE3) == pytest.approx(0.025)
    assert forward_transfer(R3, [np.nan, 0.50, 0.75]) == pytest.approx(0.025)


def test_forgetting_hand_3x3():
    # j=0: max(R[0,0], R[1,0]) - R[2,0] = max(0.50, 0.55) - 0.45 = 0.10
    # j=1: max(R[1,1])         - R[2,1] = 0.60 - 0.68          = -0.08
    # mean = 0.02 / 2 = 0.01   (not -BWT: the max uses R[1,0], not R[0,0])
    assert forgetting(R3) == pytest.approx(0.01)


def test_continual_quantities_ignore_the_upper_triangle():
    filled = R3.copy()
    filled[np.triu_indices(3, 1)] = 99.0
    assert backward_transfer(filled) == pytest.approx(0.015)
    assert forward_transfer(filled, SINGLE3) == pytest.approx(0.025)
    assert forgetting(filled) == pytest.approx(0.01)


def test_continual_quantities_hand_2x2():
    R = [[0.8, np.nan], [0.6, 0.9]]
    # BWT = 0.6 - 0.8 = -0.2; forgetting = 0.8 - 0.6 = 0.2; FWT = 0.9 - 0.7 = 0.2
    assert backward_transfer(R) == pytest.approx(-0.2)
    assert forgetting(R) == pytest.approx(0.2)
    assert forward_transfer(R, [0.1, 0.7]) == pytest.approx(0.2)


def test_continual_quantities_single_task_are_nan_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isnan(backward_transfer([[0.4]]))
        assert math.isnan(forward_transfer([[0.4]], [0.3]))
        assert math.isnan(forward_transfer([[0.4]], [np.nan]))
        assert math.isnan(forgetting([[0.4]]))


@pytest.mark.parametrize("func", [backward_transfer, forgetting])
@pytest.mark.parametrize(
    "R, match",
    [
        (np.zeros((2, 3)), "square"),
        (np.zeros(3), "square"),
        (np.zeros((0, 0)), "empty"),
        ([[0.5, np.nan], [np.nan, 0.6]], r"finite.*R\[1, 0\]"),
        ([[np.nan, np.nan], [0.5, 0.6]], r"finite.*R\[0, 0\]"),
        ([[0.5, np.nan], [0.4, np.inf]], r"finite.*R\[1, 1\]"),
    ],
)
def test_continual_bad_matrix(func, R, match):
    with pytest.raises(ValueError, match=match):
        func(R)


@pytest.mark.parametrize(
    "R, single, match",
    [
        (np.zeros((2, 3)), [0.0, 0.0], "square"),
        ([[0.5, np.nan], [np.nan, 0.6]], [0.0, 0.0], "finite"),
        (R3, [0.5, 0.5], r"shape \(T,\)"),
        (R3, [[0.5, 0.5, 0.5]], r"shape \(T,\)"),
        (R3, [0.5, np.nan, 0.5], r"single_task_scores\[1\]"),
        (R3, [0.5, 0.5, np.inf], r"single_task_scores\[2\]"),
    ],
)
def test_forward_transfer_bad_input(R, single, match):
    with pytest.raises(ValueError, match=match):
        forward_transfer(R, single)


def test_continual_non_numeric_matrix():
    with pytest.raises(TypeError, match="real numbers"):
        backward_transfer([["a", "b"], ["c", "d"]])


# --------------------------------------------------------------------------- #
# module surface
# --------------------------------------------------------------------------- #
def test_all_is_complete_and_documented():
    for name in metrics.__all__:
        obj = getattr(metrics, name)
        assert callable(obj)
        assert "Examples" in obj.__doc__, name


def test_docstring_examples_run():
    # testmod runs a module's own docstrings: the package's, then each part's.
    modules = [metrics, _classification, _continual, _ranking, _scoring]
    results = [
        doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        for module in modules
    ]
    assert sum(result.attempted for result in results) >= 10
    assert all(result.failed == 0 for result in results)


# --------------------------------------------------------------------------- #
# agreement with scikit-learn where ties do not matter
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("k", [1, 3, 6])
def test_ranking_metrics_equal_sklearn_without_ties(k):
    rng = np.random.default_rng(0)
    scores = rng.random((40, 7))  # continuous: no ties
    targets = rng.integers(0, 7, 40)
    one_hot = np.eye(7)[targets]
    expected_hr = top_k_accuracy_score(targets, scores, k=k, labels=range(7))
    assert hit_rate_at_k(scores, targets, k=k) == pytest.approx(expected_hr)
    assert ndcg_at_k(scores, targets, k=k) == pytest.approx(
        ndcg_score(one_hot, scores, k=k)
    )


def test_ranking_metrics_are_pessimistic_where_sklearn_is_not():
    # Every candidate tied: scikit-learn credits some rows, we credit none.
    scores, targets = np.full((3, 4), 0.5), np.array([0, 1, 3])
    assert top_k_accuracy_score(targets, scores, k=1, labels=range(4)) > 0
    assert ndcg_score(np.eye(4)[targets], scores, k=2) > 0
    assert hit_rate_at_k(scores, targets, k=1) == 0.0
    assert ndcg_at_k(scores, targets, k=2) == 0.0


def test_accuracy_is_sklearns():
    y_true, y_pred = ["a", "b", "b", "c", "a"], ["a", "b", "c", "c", "b"]
    assert accuracy(y_true, y_pred) == accuracy_score(y_true, y_pred) == 0.6


# --------------------------------------------------------------------------- #
# paired differences
# --------------------------------------------------------------------------- #
def test_paired_difference_is_the_difference_of_the_means():
    rng = np.random.default_rng(0)
    a, b = rng.random(300), rng.random(300)
    d = paired_difference(a, b)
    assert d.difference == pytest.approx(a.mean() - b.mean())
    assert d.low < d.difference < d.high
    # about two standard errors of the mean difference either side
    se = (a - b).std() / np.sqrt(a.size)
    assert d.high - d.low == pytest.approx(4 * se, rel=0.15)
    assert paired_difference(a, b) == d  # seeded: reproducible


def test_paired_difference_of_a_constant_shift_has_no_spread():
    b = np.random.default_rng(1).random(50)
    assert paired_difference(b + 0.25, b) == pytest.approx((0.25, 0.25, 0.25))
    assert not paired_difference(b, b).excludes_zero()
    assert paired_difference(b + 0.25, b).excludes_zero()


def test_paired_difference_resamples_groups_not_rows():
    rng = np.random.default_rng(2)
    a, b = rng.random(80), rng.random(80)
    alone = paired_difference(a, b)
    # Each user's row three times: the same users, the same interval...
    users = np.repeat(np.arange(80), 3)
    grouped = paired_difference(np.repeat(a, 3), np.repeat(b, 3), users)
    assert grouped == pytest.approx(alone)
    # ...where treating the copies as independent users would narrow it.
    rows = paired_difference(np.repeat(a, 3), np.repeat(b, 3))
    assert rows.high - rows.low < 0.7 * (alone.high - alone.low)


def test_paired_difference_of_one_group_has_no_interval():
    d = paired_difference([1.0, 0.0], [0.0, 0.0], groups=["u", "u"])
    assert d.difference == 0.5
    assert np.isnan(d.low) and np.isnan(d.high)


@pytest.mark.parametrize(
    "args, kwargs, error, message",
    [
        (([1.0, 0.0], [1.0]), {}, ValueError, "same rows"),
        (([], []), {}, ValueError, "non-empty"),
        (([1.0, np.nan], [1.0, 0.0]), {}, ValueError, "NaN"),
        (([1.0, 0.0], [[1.0, 0.0]]), {}, ValueError, "1-D"),
        ((["x", "y"], [1.0, 0.0]), {}, TypeError, "real numbers"),
        (([1.0, 0.0], [1.0, 0.0], [1]), {}, ValueError, "one entry per row"),
        (([1.0, 0.0], [1.0, 0.0]), {"confidence_level": 1.0}, ValueError, "(0, 1)"),
        (([1.0, 0.0], [1.0, 0.0]), {"n_resamples": 10}, ValueError, ">= 100"),
    ],
)
def test_paired_difference_rejects_bad_input(args, kwargs, error, message):
    with pytest.raises(error, match=re.escape(message)):
        paired_difference(*args, **kwargs)


def test_the_loss_samples_exactly_the_tasks_the_default_metric_ranks():
    # The training layer keeps its own copy of the threshold (it may not
    # import metrics): a labelled head is an item-target task for the
    # sampled loss exactly when its task is ranked.
    from sklearn_teracon.training.losses import MAX_EXACT_CLASSES

    assert metrics.default_metric(MAX_EXACT_CLASSES) == "accuracy"
    assert metrics.default_metric(MAX_EXACT_CLASSES + 1) == "mrr@5"
