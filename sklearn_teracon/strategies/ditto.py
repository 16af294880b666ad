"""DITTO (Choi et al., SIGIR 2025): continual learning when time passes between tasks.

Tasks arrive in time order, so a later task brings items the earlier ones
never saw and shifts their item distribution. DITTO (reference code:
``seungyoon-Choi/DITTO_official``, ``train_ditto.py``) keeps TERACON's
relation-aware masks and changes what happens to the earlier tasks while a
new task ``T_i`` trains:

- **growth**: the item embedding gains rows for the new items (the net's
  ``grow``), and so does every earlier next-item head, whose old rows are
  kept: at arrival the earlier tasks answer exactly as before on old items,
  and afterwards they can rank the new ones (they are re-scored on the
  shifted stream).
- **forward knowledge transfer (FKT)**: for each earlier task ``T_k``, the
  frozen copy of the model (the teacher) represents the batch's users; the
  ``S_{i,k}`` users whose representation is most similar (cosine) to
  ``T_k``'s item centroid (:class:`~sklearn_teracon.nn.ditto_state.DittoState`)
  get the teacher's logits as pseudo-labels, among those whose items the
  teacher knew. ``S_{i,k} = min(B, max(⌊ρ_{i,k}·B⌋, min_users))`` with
  ``ρ_{i,k} = 1 − mean_slots σ(c·cos(m^{T_i}, m̃^{T_k}))``; the term is
  ``Σ_k (ρ_k / Σ_j ρ_j) · MSE``.
- **backward knowledge transfer (BKT)** adapts the earlier tasks to the new
  items. An earlier next-item task (the reference's task 1) trains its own
  objective on the users with the most distinct new items (``S`` of them, by
  the same ρ). Every other earlier task ``T_k`` takes the ``S`` users *least*
  similar to its centroid that hold items newer than ``T_k``, makes two views
  of each (20 % of the items dropped; 20 % replaced by their most similar
  item of the batch) and pulls the two views together (InfoNCE on cosine
  similarities).

The loss is ``task loss + fkt_alpha·FKT + bkt_beta·BKT_next + bkt_gamma·BKT_view``.

Deviations from the paper and its code, and why
-----------------------------------------------
- The terms are means over users, not sums (the reference sums its BPR loss
  and its InfoNCE over the batch): this library's task loss is a mean, so
  the weights keep their meaning at any batch size. The defaults (0.7, 0.4,
  0.8, ``c = 2``, 20 users, 20 %) are the reference's.
- Pseudo-labels are the heads' logits, as TERACON's retention here (the
  reference compares next-item scores on 99 sampled items, and a profile
  task's hidden state); an earlier next-item head is compared at the users'
  last position (as the reference) and on the items the teacher knew only,
  since its rows for the new items are new.
- Teacher, masks and ρ run at the full scale ``s`` (the reference: the
  annealed one), as :class:`TeraconStrategy` does.
- BKT's next-item objective is the task's own loss (exact or sampled softmax)
  rather than the reference's BPR on 99 negatives; the contrastive BKT serves
  every earlier task that is not next-item (the reference skips its two
  classification tasks, which it names by index).
- The substitution view replaces an item by its most similar other item of
  the batch; the reference's ``aug_substitute`` indexes its similarity matrix
  by user instead of by item.
- The item centroid leaves out the padding and unknown rows.
- ``fkt_known_only=False`` (not in the reference) keeps FKT's most similar
  users even when they hold new items.
"""

from __future__ import annotations

import copy
import numbers

import torch
import torch.nn.functional as F
from sklearn.utils._param_validation import Interval, StrOptions

from ..nn import NEXT_ITEM
from ..nn.chunked import head_logit_mse
from ..nn.ditto_state import DittoState
from ..training.retention import RELATION_MEASURES, mask_cosine
from ..training.strategy import Strategy
from .teracon import MAX_SCALE


def ditto_sample_size(ratio: float, n_users: int, min_users: int) -> int:
    """Users DITTO samples: ``min(n, max(⌊ρ·n⌋, min_users))`` (0 for no users)."""
    if not 0 <= ratio <= 1:
        raise ValueError(f"ratio must lie in [0, 1], got {ratio!r}")
    if n_users < 0 or min_users < 0:
        raise ValueError("n_users and min_users must be non-negative")
    return min(n_users, max(int(n_users * ratio), min_users))


def similar_users(
    representations: torch.Tensor, centroid: torch.Tensor, size: int, *, most=True
) -> torch.Tensor:
    """Indices of the ``size`` users most (or least) similar to ``centroid``.

    Parameters
    ----------
    representations : Tensor of shape (n_users, d)
    centroid : Tensor of shape (d,)
    size : int
        How many users, ``0 <= size <= n_users``.
    most : bool, default=True
        The most similar users (FKT's pseudo-labels); False: the least (BKT).

    Returns
    -------
    Tensor of shape (size,)
        User indices, from the most (least) similar on, by cosine.

    Examples
    --------
    >>> import torch
    >>> from sklearn_teracon.strategies.ditto import similar_users
    >>> users = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0]])
    >>> similar_users(users, torch.tensor([1.0, 0.0]), 2)
    tensor([0, 2])
    >>> similar_users(users, torch.tensor([1.0, 0.0]), 1, most=False)
    tensor([1])
    """
    if representations.ndim != 2 or centroid.shape != representations.shape[1:]:
        raise ValueError(
            "representations must be [n_users, d] and centroid [d]; got "
            f"{tuple(representations.shape)} and {tuple(centroid.shape)}"
        )
    if not isinstance(size, numbers.Integral) or not 0 <= size <= len(representations):
        raise ValueError(f"size must be an int in [0, {len(representations)}]")
    cosine = F.cosine_similarity(representations, centroid[None], dim=-1, eps=1e-8)
    return torch.topk(cosine if most else -cosine, int(size)).indices


def _chosen_positions(items: torch.Tensor, ratio: float) -> torch.Tensor:
    """``⌊ratio · n_real⌋`` random real positions of each row (a bool mask)."""
    real = items > 0
    count = (ratio * real.sum(1)).long()
    draw = torch.rand(items.shape, device=items.device).masked_fill(~real, 2.0)
    return draw.argsort(1).argsort(1) < count[:, None]


def mask_view(items: torch.Tensor, ratio: float) -> torch.Tensor:
    """Each sequence with ``⌊ratio·n⌋`` random items dropped, left-padded again."""
    keep = (items > 0) & ~_chosen_positions(items, ratio)
    # A stable sort puts the dropped and padded places first, in order.
    order = torch.argsort(keep.int(), dim=1, stable=True)
    return items.gather(1, order) * keep.gather(1, order)


def substitute_view(
    items: torch.Tensor, embedding: torch.Tensor, ratio: float
) -> torch.Tensor:
    """Each sequence with ``⌊ratio·n⌋`` random items replaced by their most
    similar other item of the batch (cosine of ``embedding``'s rows)."""
    present = torch.unique(items[items > 0])
    if len(present) < 2:
        return items.clone()
    with torch.no_grad():
        rows = F.normalize(embedding[present].float(), dim=-1)
        similarity = rows @ rows.T
        similarity.fill_diagonal_(-float("inf"))
        nearest = present[similarity.argmax(1)]
    chosen = _chosen_positions(items, ratio)
    where = torch.searchsorted(present, items.clamp(min=int(present[0])))
    return torch.where(chosen, nearest[where.clamp(max=len(present) - 1)], items)


def view_contrastive_loss(
    first: torch.Tensor, second: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    """InfoNCE of two views ``[n, d]``: each row's positive is its other view,
    its negatives every other row of both (DITTO's BKT, mean over the 2n)."""
    z = F.normalize(torch.cat([first, second]), dim=-1, eps=1e-6)
    logits = (z @ z.T) / temperature
    n = len(first)
    logits = logits.masked_fill(
        torch.eye(2 * n, dtype=torch.bool, device=z.device), -1e9
    )
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    return F.cross_entropy(logits, targets)


class _FirstColumns:
    """A head's first ``n`` columns, answering as a ``Linear`` would."""

    def __init__(self, head, n: int):
        self.weight, self.bias, self.out_features = head.weight[:n], head.bias[:n], n

    def __call__(self, rows):
        return F.linear(rows, self.weight, self.bias)


class DittoStrategy(Strategy):
    """DITTO: TERACON's masks, growth, and forward/backward knowledge transfer.

    See the module's docstring for the algorithm and where it differs from the
    paper and its code. Pass the parameters as ``strategy_params``.

    Parameters
    ----------
    fkt_alpha : float, default=0.7
        Weight of forward knowledge transfer (the paper's α).
    bkt_beta : float, default=0.4
        Weight of the next-item BKT of earlier next-item tasks (β).
    bkt_gamma : float, default=0.8
        Weight of the contrastive BKT of the other earlier tasks (γ).
    c : float, default=2.0
        Sharpness of ρ's sigmoid (the reference's ``sample_ratio``).
    min_users : int, default=20
        Fewest users a transfer samples (fewer if the batch has fewer).
    augment_ratio : float, default=0.2
        Share of a sequence's items that a contrastive view drops or replaces.
    temperature : float, default=1.0
        Temperature of the contrastive loss (the reference has none: 1).
    relation : {"paper", "centered"}, default="paper"
        The mask cosine of ρ (:func:`~sklearn_teracon.training.retention.mask_cosine`).
    fkt_known_only : bool, default=True
        FKT only for users whose items the teacher knew (the reference's
        ``inputs_masking``); False keeps the most similar users whatever
        their items (the teacher reads new items by their new rows).
    """

    name = "ditto"
    _defaults = {
        "fkt_alpha": 0.7,
        "bkt_beta": 0.4,
        "bkt_gamma": 0.8,
        "c": 2.0,
        "min_users": 20,
        "augment_ratio": 0.2,
        "temperature": 1.0,
        "relation": "paper",
        "fkt_known_only": True,
    }
    _parameter_constraints = {
        "fkt_alpha": [Interval(numbers.Real, 0, MAX_SCALE, closed="both")],
        "bkt_beta": [Interval(numbers.Real, 0, MAX_SCALE, closed="both")],
        "bkt_gamma": [Interval(numbers.Real, 0, MAX_SCALE, closed="both")],
        "c": [Interval(numbers.Real, 0, MAX_SCALE, closed="right")],
        "min_users": [Interval(numbers.Integral, 1, None, closed="left")],
        "augment_ratio": [Interval(numbers.Real, 0, 1, closed="both")],
        "temperature": [Interval(numbers.Real, 0, MAX_SCALE, closed="neither")],
        "relation": [StrOptions(set(RELATION_MEASURES))],
        "fkt_known_only": ["boolean"],
    }

    teacher_ = None
    teacher_masks_ = None

    def task_state(self):
        return DittoState()

    def before_task(self, context) -> None:
        """Keep the teacher, then grow the earlier next-item heads to the catalogue."""
        net, model, task = context.net, context.model, context.task
        state = model.strategy_state
        self.retained_ = [
            t for t in range(model.n_tasks) if t != task and state.n_items(t) > 0
        ]
        self.teacher_ = None
        # What the teacher knew: the catalogue before this task brought items.
        self.known_ = max((state.n_items(t) for t in self.retained_), default=0)
        if self.retained_:
            self.teacher_ = copy.deepcopy(model).eval().requires_grad_(False)
            with torch.no_grad():
                self.teacher_masks_ = self.teacher_.masks.all_masks(net.s)
        n_embeddings = model.backbone.n_embeddings
        for t in self.retained_:
            if model.head_kinds[t] == NEXT_ITEM:
                model.grow_head(t, n_embeddings)
        net._to_device()

    def after_task(self, context) -> None:
        """Record the task's centroid and catalogue for later tasks."""
        context.model.strategy_state.record(context.model, context.task)

    def release(self, context) -> None:
        self.teacher_ = self.teacher_masks_ = None

    def ratios(self, net) -> list[float]:
        """ρ_{i,k} of every earlier task against the one that trains."""
        with torch.no_grad():
            own = net.module_.masks(net.task_, net.s)
            return [
                float(
                    1.0
                    - torch.sigmoid(
                        self.c
                        * mask_cosine(
                            own, self.teacher_masks_[k], measure=self.relation
                        )
                    ).mean()
                )
                for k in self.retained_
            ]

    def loss_terms(self, context):
        if not (context.training and self.teacher_ is not None):
            return None
        net, X = context.net, context.batch
        ratios = self.ratios(net)
        with torch.no_grad():  # the teacher's users, once per batch and task
            teacher_users = {
                k: net.represent(self.teacher_, X, k, net.s) for k in self.retained_
            }
        fkt = self.forward_transfer(net, X, ratios, teacher_users)
        bkt_next, bkt_view = self.backward_transfer(net, X, ratios, teacher_users)
        for key, value in (
            ("fkt", fkt),
            ("bkt_next", bkt_next),
            ("bkt_view", bkt_view),
        ):
            net.history.record_batch(f"{key}_loss", float(value.detach()))
        return (
            self.fkt_alpha * fkt + self.bkt_beta * bkt_next + self.bkt_gamma * bkt_view
        )

    # -- who transfers -------------------------------------------------------
    def fkt_users(self, net, X, k, ratio, teacher_users) -> torch.Tensor:
        """Rows of ``X`` that get task ``k``'s pseudo-labels: of the ``S`` users
        most similar to ``k``'s centroid, those whose items the teacher knew."""
        size = ditto_sample_size(ratio, len(X), self.min_users)
        centroid = net.module_.strategy_state.centroid(k)
        chosen = similar_users(teacher_users, centroid, size)
        if not self.fkt_known_only:
            return chosen
        return chosen[(X[chosen] < self.known_).all(1)]

    def bkt_next_users(self, net, X, k, ratio) -> torch.Tensor:
        """Rows of ``X`` that retrain next-item task ``k``: the ``S`` (of the users
        with items newer than ``k``) with the most distinct such items."""
        newer = X >= net.module_.strategy_state.n_items(k)
        holders = torch.nonzero(newer.any(1)).flatten()
        ordered = torch.where(newer, X, 0)[holders].sort(1).values
        distinct = (ordered[:, :1] > 0).sum(1) + (
            (ordered[:, 1:] != ordered[:, :-1]) & (ordered[:, 1:] > 0)
        ).sum(1)
        size = ditto_sample_size(ratio, len(holders), self.min_users)
        return holders[torch.topk(distinct, size).indices]

    def bkt_view_users(self, net, X, k, ratio, teacher_users) -> torch.Tensor:
        """Rows of ``X`` whose two views task ``k`` pulls together: of the ``S``
        users least similar to ``k``'s centroid, those with items newer than ``k``."""
        state = net.module_.strategy_state
        size = ditto_sample_size(ratio, len(X), self.min_users)
        chosen = similar_users(teacher_users, state.centroid(k), size, most=False)
        return chosen[(X[chosen] >= state.n_items(k)).any(1)]

    # -- the terms -----------------------------------------------------------
    def forward_transfer(self, net, X, ratios, teacher_users) -> torch.Tensor:
        """``Σ_k (ρ_k / Σρ) · MSE(student_k, teacher_k)`` on :meth:`fkt_users`."""
        loss = X.new_zeros((), dtype=torch.float32)
        if self.fkt_alpha == 0:
            return loss
        total = sum(ratios) or 1.0
        for k, ratio in zip(self.retained_, ratios):
            users = X[self.fkt_users(net, X, k, ratio, teacher_users[k])]
            if len(users):
                loss = loss + (ratio / total) * self._pseudo_label_mse(net, users, k)
        return loss

    def _pseudo_label_mse(self, net, users, k) -> torch.Tensor:
        # A next-item task at the last position only (the reference's
        # ``onecall=True``), not at every position as TERACON's default.
        teacher, student = self.teacher_, net.module_
        with torch.no_grad():
            teacher_rows = net.task_rows(teacher, users, k, net.s)
        rows = net.task_rows(student, users, k, net.s, dropout=False)
        n = teacher.heads[k].out_features
        return head_logit_mse(
            rows, _FirstColumns(student.heads[k], n), teacher_rows, teacher.heads[k]
        )

    def backward_transfer(
        self, net, X, ratios, teacher_users
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The next-item and the contrastive BKT terms (means over tasks' users)."""
        model = net.module_
        next_loss = X.new_zeros((), dtype=torch.float32)
        view_loss = X.new_zeros((), dtype=torch.float32)
        for k, ratio in zip(self.retained_, ratios):
            if model.head_kinds[k] == NEXT_ITEM:
                if self.bkt_beta == 0:
                    continue
                users = X[self.bkt_next_users(net, X, k, ratio)]
                if len(users):
                    rows = net._infer(users, k, net.s)
                    next_loss = next_loss + net._cross_entropy(rows, None, users, k)
            elif self.bkt_gamma > 0:
                users = X[self.bkt_view_users(net, X, k, ratio, teacher_users[k])]
                if len(users):
                    view_loss = view_loss + self._view_loss(net, users, k)
        return next_loss, view_loss

    def _view_loss(self, net, users, k) -> torch.Tensor:
        embedding = net.module_.backbone.item_embedding.weight
        first = mask_view(users, self.augment_ratio)
        second = substitute_view(users, embedding, self.augment_ratio)
        z = net.represent(net.module_, torch.cat([first, second]), k, net.s)
        return view_contrastive_loss(z[: len(users)], z[len(users) :], self.temperature)


__all__ = [
    "DittoStrategy",
    "ditto_sample_size",
    "mask_view",
    "similar_users",
    "substitute_view",
    "view_contrastive_loss",
]
