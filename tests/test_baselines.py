"""The simple baselines: what each one learns, and its task semantics."""

import numpy as np
import pytest
from sklearn.base import clone

from sklearn_teracon.baselines import (
    BagOfItemsClassifier,
    ItemKNNBaseline,
    PopularityBaseline,
    baselines_for,
)


def test_popularity_ranks_the_most_frequent_targets_first():
    y = ["b", "a", "b", "c", "b", "a"]
    pop = PopularityBaseline().fit([[1, 2]] * 6, y)
    assert list(pop.classes_) == ["a", "b", "c"]
    np.testing.assert_array_equal(pop.decision_function([[5]]), [[2.0, 3.0, 1.0]])
    assert pop.score([[1]] * 3, ["b", "b", "a"]) == pytest.approx(2 / 3)


def test_popularity_next_item_counts_every_item_after_the_first():
    pop = PopularityBaseline().fit([[1, 2, 3], [4, 3]])
    assert dict(zip(pop.classes_.tolist(), pop.counts_)) == {
        1: 0.0,
        2: 1.0,
        3: 2.0,
        4: 0.0,
    }
    assert pop.predict([[9]])[0] == 3


def test_itemknn_follows_item_transitions():
    chains = [[1, 2, 3, 4], [5, 6, 7, 8]] * 5
    knn = ItemKNNBaseline(window=1).fit(chains)
    np.testing.assert_array_equal(knn.predict([[1, 2], [5, 6, 7]]), [3, 8])
    # last item predicted from the items before it: every chain is learned
    assert knn.score(chains, metric="mrr@5") == 1.0


def test_itemknn_labelled_links_history_items_to_targets():
    X = [[1, 2], [2, 1], [3, 4], [4, 3]] * 5
    y = [10, 10, 20, 20] * 5
    knn = ItemKNNBaseline().fit(X, y)
    np.testing.assert_array_equal(knn.predict([[1], [4]]), [10, 20])
    # a user with only unseen items falls back to popularity (ties: first)
    assert knn.predict([[99]])[0] in (10, 20)


def test_bag_of_items_classifier_reads_the_items():
    X = [[1, 2, 7], [2, 1, 8], [3, 4, 7], [4, 3, 8]] * 10
    y = ["a", "a", "b", "b"] * 10
    clf = BagOfItemsClassifier().fit(X, y)
    assert clf.score([[1, 7], [4, 8]], ["a", "b"]) == 1.0
    assert clf.decision_function([[1]]).shape == (1, 2)


def test_unknown_targets_count_as_misses():
    pop = PopularityBaseline().fit([[1, 2]] * 4, ["a", "a", "b", "b"])
    assert pop.score([[1], [1]], ["z", "z"]) == 0.0


def test_baselines_follow_the_task_kind():
    assert set(baselines_for("next_item")) == {"popularity", "itemknn"}
    assert set(baselines_for("item")) == {"popularity", "itemknn"}
    assert set(baselines_for("profile")) == {"popularity", "bow_lr"}


@pytest.mark.parametrize(
    "baseline", [PopularityBaseline(), ItemKNNBaseline(), BagOfItemsClassifier()]
)
def test_bad_input_and_unfitted_use_fail_clearly(baseline):
    with pytest.raises(ValueError, match="empty"):
        clone(baseline).fit([])
    with pytest.raises(ValueError, match="not fitted|fit"):
        clone(baseline).decision_function([[1, 2]])


def test_labelled_baseline_needs_y_to_score():
    pop = PopularityBaseline().fit([[1, 2]] * 2, ["a", "b"])
    with pytest.raises(ValueError, match="needs y"):
        pop.score([[1, 2]])


def test_invalid_parameters_are_refused():
    with pytest.raises(ValueError, match="window"):
        ItemKNNBaseline(window=0).fit([[1, 2]])


@pytest.mark.parametrize("metric", ["mrr@5", "hr@3", "accuracy"])
def test_score_is_the_mean_of_the_rows_scores(metric):
    X = [[1, 2, 7], [2, 1, 8], [3, 4, 7], [4, 3, 8], [1, 8], [3, 2]] * 3
    y = ["a", "a", "b", "b", "c", "a"] * 3
    for baseline in (PopularityBaseline(), ItemKNNBaseline(), BagOfItemsClassifier()):
        baseline.fit(X, y)
        rows = baseline.score_rows(X, y, metric=metric)
        assert rows.shape == (len(X),)
        assert set(np.unique(rows)) <= {0.0, 1.0, 1 / 2, 1 / 3, 1 / 4, 1 / 5}
        assert baseline.score(X, y, metric=metric) == rows.mean()
    knn = ItemKNNBaseline().fit(X)  # next item: one row per sequence
    assert knn.score_rows(X, metric=metric).shape == (len(X),)
