"""Callbacks that keep a new labelled task useful when it has few labels.

A profile task with a hundred labelled users can be fine-tuned into a model
worse than a constant: its head starts at the class prior, the whole network
moves on ninety users and early stopping only picks among the trained epochs.
Three steps guard against it, each a skorch callback:

- :class:`ProbeHeadInit`: the new head starts as a logistic regression fitted
  on the frozen representation (linear probing before fine-tuning, "LP-FT",
  Kumar et al., ICLR 2022), its regularisation chosen by cross-validation on
  the training users, so with few labels it shrinks towards the prior;
- :class:`EarlyStoppingFromStart`: the model before the first epoch is a
  candidate of early stopping like every epoch, so training that only makes
  the validation loss worse gives back the start;
- :class:`MajorityFallback`: a task whose validation accuracy ends under the
  majority class's ends as the majority class (its head predicts the training
  prior, the rest of the network as before the task) and says so in the
  history (``majority_fallback``).
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from skorch.callbacks import Callback, EarlyStopping
from skorch.history import History

# Inverse regularisation strengths the probe chooses from; the smallest is a
# head that is nearly the prior, so few labels can always fall back to it.
PROBE_CS = np.logspace(-4, 2, 7)
PROBE_MAX_FOLDS = 5
# Standard errors by which a trained epoch must beat the start of a task
# scored by accuracy (see EarlyStoppingFromStart).
START_MARGIN = 2.0


def _no_draws():
    """A block whose random draws leave torch's CPU generator as it was.

    Every DataLoader iteration draws a seed from it, so an extra pass over
    the users would otherwise shift the shuffles of the epochs that follow.
    """
    return torch.random.fork_rng(devices=[])


def _split_indices(net, X, y) -> tuple[np.ndarray, np.ndarray | None]:
    """Indices of the training and validation users of ``net``'s split of X."""
    all_rows = np.arange(len(X))
    if net.train_split is None:
        return all_rows, None
    train, valid = net.get_split_datasets(X, y)
    return np.asarray(train.indices), np.asarray(valid.indices)


def fit_probe(
    features: np.ndarray, labels: np.ndarray, n_classes: int, random_state: int
) -> tuple[np.ndarray, np.ndarray]:
    """A logistic regression on standardised ``features``, as head weights.

    Returns ``(weight [n_classes, d], bias [n_classes])`` acting on the raw
    features (the standardisation is folded in). ``C`` is chosen among
    :data:`PROBE_CS` by cross-validation (stratified folds, log-loss). When
    the chosen probe's cross-validated accuracy is under the majority
    class's, or no class has two users, the head is the smoothed class prior
    (no weights): few labels then start where the majority class is. Classes
    absent from ``labels`` rank under the seen ones.
    """
    present, counts = np.unique(labels, return_counts=True)
    weight = np.zeros((n_classes, features.shape[1]))
    prior = np.bincount(labels, minlength=n_classes) + 1.0
    bias = np.log(prior / prior.sum())
    n_folds = min(PROBE_MAX_FOLDS, int(counts.max()))
    if len(present) < 2 or n_folds < 2:
        return weight, bias
    mean = features.mean(0)
    scale = features.std(0)
    scale[scale == 0] = 1.0
    z = (features - mean) / scale
    with warnings.catch_warnings():
        # The weakest regularisations may stop short of convergence on
        # separable users; their fit is only one candidate of the search.
        warnings.simplefilter("ignore", ConvergenceWarning)
        C = _cross_validated_C(z, labels, n_folds, random_state)
        if C is None:
            return weight, bias
        probe = LogisticRegression(C=C, max_iter=1000).fit(z, labels)
    coef, intercept = probe.coef_, probe.intercept_
    if len(present) == 2:  # one logit difference: split it between the two
        coef = np.vstack([-coef, coef]) / 2
        intercept = np.array([-intercept[0], intercept[0]]) / 2
    weight[present] = coef / scale
    bias[present] = intercept - weight[present] @ mean
    # An absent class ranks under every seen class at the mean user by the
    # log of the largest count: it wins only where the probe is unsure.
    absent = np.setdiff1d(np.arange(n_classes), present)
    if len(absent):
        bias[absent] = bias[present].min() - np.log(counts.max())
    return weight, bias


def _cross_validated_C(z, labels, n_folds: int, random_state: int) -> float | None:
    """The C of least cross-validated log-loss; None when it predicts worse
    than each fold's majority class."""
    folds = StratifiedKFold(n_folds, shuffle=True, random_state=random_state)
    losses = np.zeros(len(PROBE_CS))
    hits = np.zeros(len(PROBE_CS))
    majority_hits = 0
    with warnings.catch_warnings():
        # Classes with fewer users than folds are expected with few labels.
        warnings.simplefilter("ignore", UserWarning)
        splits = list(folds.split(z, labels))
    for train, test in splits:
        majority_hits += np.sum(labels[test] == np.bincount(labels[train]).argmax())
        for i, C in enumerate(PROBE_CS):
            probe = LogisticRegression(C=C, max_iter=1000).fit(z[train], labels[train])
            proba = np.full((len(test), labels.max() + 1), 1e-12)
            proba[:, probe.classes_] = np.clip(probe.predict_proba(z[test]), 1e-12, 1)
            losses[i] -= np.log(proba[np.arange(len(test)), labels[test]]).sum()
            hits[i] += np.sum(proba.argmax(1) == labels[test])
    best = int(np.argmin(losses))
    return None if hits[best] < majority_hits else float(PROBE_CS[best])


class ProbeHeadInit(Callback):
    """Start the current task's head as a probe on the frozen representation.

    Runs when training begins, on the users that train (not the validation
    users), with the representation the head will read under the task's
    starting masks at scale s.
    """

    def __init__(self, random_state: int = 0):
        self.random_state = random_state

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        train, _ = _split_indices(net, X, y)
        with _no_draws():
            features = net.embed(X[train], net.task_).astype(np.float64)
        head = net.module_.heads[net.task_]
        weight, bias = fit_probe(
            features, np.asarray(y)[train], head.out_features, self.random_state
        )
        with torch.no_grad():
            head.weight.copy_(torch.as_tensor(weight, dtype=head.weight.dtype))
            head.bias.copy_(torch.as_tensor(bias, dtype=head.bias.dtype))


class EarlyStoppingFromStart(EarlyStopping):
    """skorch's :class:`~skorch.callbacks.EarlyStopping` with the start as epoch 0.

    Before the first epoch the validation loss of the model as it is is the
    threshold to beat, and its weights are the best ones until an epoch beats
    it; with ``load_best`` a training that never does ends where it started.
    Without a validation split it is plain ``EarlyStopping``.

    ``start_margin`` (labelled tasks): an epoch displaces the start only if
    its per-user validation loss is lower by more than ``start_margin``
    standard errors of the paired differences. Ten or thirty validation
    users (a task with 100 or 300 labels) cannot tell a better model from a
    lucky one; the probe it started from stays unless they can.
    """

    def __init__(self, *args, start_margin: float | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.start_margin = start_margin

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        super().on_train_begin(net, X=X, y=y, **kwargs)
        self.start_loss_ = self.start_user_losses_ = None
        if net.train_split is None or self.monitor != "valid_loss":
            return
        _, valid = net.get_split_datasets(X, y)
        total, count = 0.0, 0
        # Loss terms record per-batch values (HAT's regulariser); they go to
        # a history of their own, as no epoch has begun.
        history, net.history = net.history, History()
        net.history.new_epoch()
        try:
            with _no_draws():
                for batch in net.get_iterator(valid, training=False):
                    net.history.new_batch()
                    step = net.validation_step(batch)
                    total += float(step["loss"]) * len(batch[0])
                    count += len(batch[0])
        finally:
            net.history = history
        if not count:
            return
        self.start_loss_ = total / count
        self.dynamic_threshold_ = self._calc_new_threshold(self.start_loss_)
        self.best_model_weights_ = copy.deepcopy(net.module_.state_dict())
        self.best_epoch_ = 0
        if self.start_margin is not None and y is not None:
            rows = np.asarray(valid.indices)
            self.valid_ = (X[rows], np.asarray(y)[rows])
            self.start_user_losses_ = self._user_losses(net)

    def _user_losses(self, net) -> np.ndarray:
        X, y = self.valid_
        with _no_draws():
            logits = net.predict_logits(X, net.task_).astype(np.float64)
        top = logits.max(1, keepdims=True)
        log_norm = np.log(np.exp(logits - top).sum(1)) + top[:, 0]
        return log_norm - logits[np.arange(len(y)), y]

    def _is_score_improved(self, score):
        if not super()._is_score_improved(score):
            return False
        if self.start_user_losses_ is None or self.best_epoch_ != 0:
            return True
        gain = self.start_user_losses_ - self._user_losses(self.net_)
        se = gain.std(ddof=1) / np.sqrt(len(gain)) if len(gain) > 1 else np.inf
        return bool(gain.mean() > self.start_margin * se)

    def on_epoch_end(self, net, **kwargs):
        if self.start_loss_ is not None:
            # The first epoch's row also holds the loss it had to beat.
            net.history.record("start_valid_loss", self.start_loss_)
            self.start_loss_ = None
        self.net_ = net  # _is_score_improved has no net argument
        super().on_epoch_end(net, **kwargs)
        self.net_ = None

    def on_train_end(self, net, **kwargs):
        super().on_train_end(net, **kwargs)
        self.valid_ = self.start_user_losses_ = None


class MajorityFallback(Callback):
    """End a labelled task as the majority class when it does worse on validation.

    After training (and early stopping's restore), the task's validation
    accuracy is compared with that of the training users' majority class. If
    it is lower, the network goes back to its state before the task and the
    head predicts the training prior; ``majority_fallback`` in the last
    epoch's history row says which happened.
    """

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self.start_weights_ = copy.deepcopy(net.module_.state_dict())

    def on_train_end(self, net, X=None, y=None, **kwargs):
        train, valid = _split_indices(net, X, y)
        if valid is None or not len(valid) or not len(net.history):
            return
        y = np.asarray(y)
        head = net.module_.heads[net.task_]
        counts = np.bincount(y[train], minlength=head.out_features)
        majority = float(np.mean(y[valid] == np.argmax(counts)))
        with _no_draws():
            logits = net.predict_logits(X[valid], net.task_)
        accuracy = float(np.mean(logits.argmax(1) == y[valid]))
        fallback = accuracy < majority
        if fallback:
            net.module_.load_state_dict(self.start_weights_)
            prior = counts + 1.0
            with torch.no_grad():
                head.weight.zero_()
                head.bias.copy_(torch.as_tensor(np.log(prior / prior.sum())))
        net.history.record("majority_fallback", fallback)
        self.start_weights_ = None


__all__ = [
    "START_MARGIN",
    "EarlyStoppingFromStart",
    "MajorityFallback",
    "ProbeHeadInit",
    "fit_probe",
]
