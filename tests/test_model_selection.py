"""TaskEstimator views, pipelines, metadata routing and distributed searches."""

import importlib.util

import joblib
import numpy as np
import pytest
import sklearn
from sklearn.base import clone
from sklearn.exceptions import (
    DataConversionWarning,
    NotFittedError,
    UnsetMetadataPassedError,
)
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import (
    GridSearchCV,
    StratifiedKFold,
    cross_val_score,
    cross_validate,
)
from sklearn.pipeline import make_pipeline

from sklearn_teracon import ContinualUserEncoder, TaskName
from sklearn_teracon.model_selection import TaskEstimator, make_task_estimator

from .conftest import TINY, make_toy

GRID = {"s": [10.0, 50.0], "c": [2.0, 6.0]}


def _predictions(enc, seqs):
    return {task: enc.predict_proba(seqs, task=task) for task in enc.tasks_}


def _assert_unchanged(enc, before, seqs):
    assert list(enc.tasks_) == list(before)
    for task, proba in _predictions(enc, seqs).items():
        np.testing.assert_array_equal(proba, before[task])


# -- TaskEstimator ---------------------------------------------------------------
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_grid_search_over_s_and_c_keeps_earlier_tasks(fitted, toy, n_jobs):
    seqs, _, bands = toy
    before = _predictions(fitted, seqs)
    params = fitted.get_params()
    view = fitted.task_estimator("age")
    search = GridSearchCV(view, GRID, cv=3, n_jobs=n_jobs).fit(seqs, bands)

    assert len(search.cv_results_["params"]) == 4
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    best = search.best_estimator_
    assert best.encoder_.s == search.best_params_["s"]
    assert best.encoder_.c == search.best_params_["c"]
    assert list(best.encoder_.tasks_) == ["next_item", "group", "age"]
    for task in best.encoder_.tasks_:
        assert best.encoder_.predict(seqs[:5], task=task).shape == (5,)
    assert set(best.predict(seqs)) <= set(np.unique(bands))
    np.testing.assert_array_equal(best.classes_, np.unique(bands))
    # The original encoder: same tasks, same parameters, bit-identical outputs.
    _assert_unchanged(fitted, before, seqs)
    assert fitted.get_params() == params
    assert fitted.n_partial_fits_ == 2
    # Every candidate started from the same snapshot: it is unchanged too.
    _assert_unchanged(view.encoder.estimator, before, seqs)


def test_cross_val_score_is_the_views_metric_per_fold(fitted, toy):
    seqs, _, bands = toy
    view = fitted.task_estimator("age")
    scores = cross_val_score(view, seqs, bands, cv=3)
    # A classifier gets stratified folds; each fold scores with the task's metric.
    expected = []
    for train, test in StratifiedKFold(3).split(seqs, bands):
        fold = clone(view).fit([seqs[i] for i in train], bands[train])
        expected.append(
            fold.encoder_.score([seqs[i] for i in test], bands[test], task="age")
        )
    np.testing.assert_array_equal(scores, expected)


def test_clone_keeps_the_snapshot_and_later_changes_do_not_reach_it(fitted, toy):
    seqs, groups, bands = toy
    view = fitted.task_estimator("age")
    snapshot = view.encoder.estimator
    assert isinstance(view.encoder, FrozenEstimator)
    assert snapshot is not fitted
    cloned = clone(view)
    assert cloned.encoder is view.encoder
    assert cloned.encoder.estimator is snapshot

    fitted.partial_fit(seqs, bands, task="late")  # after the view was taken
    assert list(snapshot.tasks_) == ["next_item", "group"]
    assert list(cloned.fit(seqs, groups).encoder_.tasks_) == [
        "next_item",
        "group",
        "age",
    ]
    assert list(snapshot.tasks_) == ["next_item", "group"]  # fit used a copy
    assert snapshot.n_partial_fits_ == 2


def test_overrides_reach_the_fitted_encoder(fitted, toy):
    seqs, _, bands = toy
    view = fitted.task_estimator("age")
    fitted_view = view.set_params(s=7).fit(seqs, bands)
    assert fitted_view.encoder_.s == 7
    assert fitted_view.encoder_.net_.s == 7  # the training net used it
    assert view.encoder.estimator.s == fitted.s == 50.0  # the snapshot keeps its own

    view = make_task_estimator(fitted, "age", c=2.5, max_epochs=1, lr=0.01)
    enc = view.fit(seqs, bands).encoder_
    assert (enc.c, enc.max_epochs, enc.lr) == (2.5, 1, 0.01)
    assert len(enc.history_["age"]) == 1
    # None keeps the encoder's value.
    default = fitted.task_estimator("age").fit(seqs, bands).encoder_
    assert default.get_params() == fitted.get_params()


def test_view_continues_an_existing_task(fitted, toy):
    seqs, groups, _ = toy
    view = fitted.task_estimator("group").fit(seqs[:60], groups[:60])
    assert list(view.encoder_.tasks_) == ["next_item", "group"]
    assert view.encoder_.tasks_["group"].n_fits == 2
    assert fitted.tasks_["group"].n_fits == 1
    assert 0.0 <= view.score(seqs, groups) <= 1.0


def test_column_vector_labels_are_raveled_with_a_warning(fitted, toy):
    seqs, groups, _ = toy
    view = fitted.task_estimator("group", max_epochs=1)
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        view.fit(seqs[:40], groups[:40, None])
    np.testing.assert_array_equal(view.classes_, [0, 1])


def test_next_item_and_item_task_views_predict_items(fitted, toy):
    seqs, _, _ = toy
    view = fitted.task_estimator("next_item").fit(seqs)  # self-supervised: y=None
    items = view.encoder_.classes_of("next_item")
    np.testing.assert_array_equal(view.classes_, items)
    assert set(view.predict(seqs)) <= set(items)
    assert view.score(seqs) == view.encoder_.score(seqs, task="next_item")
    assert cross_val_score(view, seqs, cv=2).shape == (2,)  # no y at all

    # Item recommendation: the label is an item id; > 20 classes: MRR@5.
    history, clicked = [s[:-1] for s in seqs], np.array([s[-1] for s in seqs])
    view = fitted.task_estimator("click").fit(history, clicked)
    assert view.encoder_.tasks_["click"].metric == "mrr@5"
    assert view.predict_proba(history).shape == (len(seqs), len(view.classes_))
    assert view.decision_function(history).shape == (len(seqs), len(view.classes_))
    np.testing.assert_array_equal(
        view.predict(history), view.classes_[view.predict_proba(history).argmax(1)]
    )
    assert view.score(history, clicked) == view.encoder_.score(
        history, clicked, task="click"
    )


def test_binary_decision_function_is_one_column(fitted, toy):
    seqs, groups, _ = toy
    view = fitted.task_estimator("group2").fit(seqs, groups)
    scores = view.decision_function(seqs)
    assert scores.shape == (len(seqs),)
    np.testing.assert_array_equal(
        view.predict(seqs), view.classes_[(scores > 0).astype(int)]
    )
    # So scorers that need one score per user work.
    auc = cross_val_score(
        fitted.task_estimator("group2"), seqs, groups, cv=2, scoring="roc_auc"
    )
    assert auc.shape == (2,) and np.all((0 <= auc) & (auc <= 1))


# -- pipelines -------------------------------------------------------------------
def test_linear_probe_on_a_frozen_encoder(fitted, toy):
    seqs, groups, _ = toy
    before = _predictions(fitted, seqs)
    probe = make_pipeline(FrozenEstimator(fitted), LogisticRegression())
    probe.fit(seqs, groups)
    np.testing.assert_array_equal(probe[:-1].transform(seqs), fitted.transform(seqs))
    assert probe[-1].coef_.shape == (1, TINY["embedding_dim"])
    assert probe.score(seqs, groups) > 0.8
    scores = cross_val_score(probe, seqs, groups, cv=3)  # clone keeps the encoder
    assert scores.shape == (3,) and scores.mean() > 0.7
    _assert_unchanged(fitted, before, seqs)
    assert fitted.n_partial_fits_ == 2


def test_encoder_inside_a_pipeline_learns_one_task(toy):
    seqs, groups, _ = toy
    pipe = make_pipeline(ContinualUserEncoder(**TINY), LogisticRegression())
    pipe.fit(seqs, groups)
    assert list(pipe[0].tasks_) == ["labels"]  # it learned the labelled task
    assert pipe.score(seqs, groups) > 0.8


def _routed_encoder(**params):
    enc = ContinualUserEncoder(**{**TINY, **params})
    # fit_transform composes fit and transform: both must route the task.
    return enc.set_fit_request(task=True).set_transform_request(task=True)


def test_routing_names_the_encoders_task(toy):
    seqs, groups, _ = toy
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = make_pipeline(_routed_encoder(), LogisticRegression())
        pipe.fit(seqs, groups, task="age")
        assert list(pipe[0].tasks_) == ["age"]
        assert pipe.predict(seqs[:4], task=TaskName("age")).shape == (4,)
        with pytest.raises(ValueError, match="unknown task 'other'"):
            pipe.predict(seqs[:4], task="other")

        unrouted = make_pipeline(ContinualUserEncoder(**TINY), LogisticRegression())
        with pytest.raises(UnsetMetadataPassedError, match=r"\[task\]"):
            unrouted.fit(seqs, groups, task="age")


def test_routed_task_name_is_not_sliced_when_as_long_as_the_data():
    seqs, _, _ = make_toy(n_users=3)
    y3 = np.array([0, 1, 1])
    cv = [([0, 1], [2]), ([0, 2], [1])]  # both classes in every training fold
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = make_pipeline(_routed_encoder(max_epochs=1), LogisticRegression())
        result = cross_validate(
            pipe,
            seqs,
            y3,
            params={"task": TaskName("age")},
            cv=cv,
            return_estimator=True,
            error_score="raise",
        )
        assert [list(p[0].tasks_) for p in result["estimator"]] == [["age"], ["age"]]
        # A plain str of 3 characters for 3 users is cut up like a column.
        with pytest.raises(ValueError, match="sliced into characters.*TaskName"):
            cross_validate(
                pipe, seqs, y3, params={"task": "age"}, cv=cv, error_score="raise"
            )


def test_views_need_no_routing_when_it_is_enabled(fitted, toy):
    seqs, _, bands = toy
    with sklearn.config_context(enable_metadata_routing=True):
        search = GridSearchCV(fitted.task_estimator("age"), {"s": [10.0]}, cv=2)
        search.fit(seqs, bands)
    assert list(search.best_estimator_.encoder_.tasks_) == ["next_item", "group", "age"]


# -- beyond one machine ----------------------------------------------------------
def test_grid_search_on_a_dask_cluster():
    distributed = pytest.importorskip(
        "distributed",
        reason="dask.distributed is not installed (pip install -e .[test])",
    )
    seqs, _, bands = make_toy(n_users=60)
    enc = ContinualUserEncoder(**TINY).partial_fit(seqs)
    before = _predictions(enc, seqs)
    search = GridSearchCV(enc.task_estimator("age"), GRID, cv=2)
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        try:
            # A lambda travels by value: the workers need not import this module.
            found = client.run(
                lambda: importlib.util.find_spec("sklearn_teracon") is not None
            )
            assert all(found.values()), (
                "Dask workers cannot import sklearn_teracon: install the package "
                "(pip install -e .[test]) in the workers' environment"
            )
            with (
                distributed.get_task_stream(client) as stream,
                joblib.parallel_backend("dask"),
            ):
                search.fit(seqs, bands)
        finally:
            client.shutdown()  # stops scheduler and workers at once: faster
    # Every candidate and fold ran as a task on the workers.
    keys = [str(task["key"]) for task in stream.data]
    assert sum("fit_and_score" in key for key in keys) == 4 * 2
    assert len(search.cv_results_["params"]) == 4
    assert list(search.best_estimator_.encoder_.tasks_) == ["next_item", "age"]
    _assert_unchanged(enc, before, seqs)


# -- bad input -------------------------------------------------------------------
def test_unfitted_encoder_is_named_at_fit(toy):
    seqs, _, bands = toy
    view = ContinualUserEncoder(**TINY).task_estimator("age")
    with pytest.raises(NotFittedError, match="needs a fitted ContinualUserEncoder"):
        view.fit(seqs, bands)


def test_bare_encoder_does_not_survive_clone(fitted, toy):
    seqs, _, bands = toy
    view = TaskEstimator(fitted, "age")
    assert list(view.fit(seqs, bands).encoder_.tasks_)[-1] == "age"
    with pytest.raises(NotFittedError, match="wrap it in FrozenEstimator"):
        clone(view).fit(seqs, bands)


def test_bad_encoder_and_task_types(fitted, toy):
    seqs, _, bands = toy
    with pytest.raises(TypeError, match="must be a ContinualUserEncoder"):
        make_task_estimator(LogisticRegression(), "age")
    with pytest.raises(TypeError, match="wrapped in sklearn.frozen.FrozenEstimator"):
        TaskEstimator(FrozenEstimator(LogisticRegression()), "age").fit(seqs, bands)
    for task in (3, None, ""):
        with pytest.raises(TypeError, match="task must be a non-empty string"):
            fitted.task_estimator(task)
        with pytest.raises(TypeError, match="task must be a non-empty string"):
            TaskEstimator(FrozenEstimator(fitted), task).fit(seqs, bands)
    with pytest.raises(TypeError, match=r"unknown parameter\(s\) \['n_blocks'\]"):
        fitted.task_estimator("age", n_blocks=2)


def test_bad_override_and_task_kind_leave_the_encoder_alone(fitted, toy):
    seqs, _, bands = toy
    before = _predictions(fitted, seqs)
    with pytest.raises(ValueError, match="'s' parameter"):
        fitted.task_estimator("age", s=0.5).fit(seqs, bands)
    with pytest.raises(ValueError, match="'group' is a 'labels' task.*needs labels"):
        fitted.task_estimator("group").fit(seqs)
    _assert_unchanged(fitted, before, seqs)
    assert fitted.s == 50.0


def test_predict_before_fit(fitted):
    view = fitted.task_estimator("group")
    for method in ("predict", "predict_proba", "decision_function"):
        with pytest.raises(NotFittedError):
            getattr(view, method)([[1, 2]])
    with pytest.raises(NotFittedError):
        view.score([[1, 2]], [0])
