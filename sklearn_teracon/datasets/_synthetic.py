"""A seeded synthetic task stream with planted related, conflicting and noisy tasks."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.utils import check_random_state

from ._split import make_task, split_users
from ._stream import TaskStream
from ._time_periods import catalogue_at, check_drift, release_schedule

__all__ = ["make_synthetic_stream"]

_N_SECTORS = 6  # clusters per family, and category / conflict classes
_N_FAMILIES = 2  # taste (drives category, related) and rival (drives conflict)
_N_SUCCESSORS = 3
_FOLLOW = 0.5  # chance that a step follows an item transition instead of jumping
_CONCENTRATION = 3.0  # how sharply a latent plane picks clusters
_POPULARITY_EXPONENT = 0.8  # Zipf-like item popularity inside a cluster
_MIN_ITEMS = _N_FAMILIES * _N_SECTORS * (_N_SUCCESSORS + 1)
_N_TASKS = 5  # next_item, category, related, conflict, noise

RELATIONS = {
    ("next_item", "category"): "positive",
    ("next_item", "related"): "positive",
    ("next_item", "conflict"): "positive",
    ("next_item", "noise"): "none",
    ("category", "related"): "positive",
    ("category", "conflict"): "conflict",
    ("category", "noise"): "none",
    ("related", "conflict"): "conflict",
    ("related", "noise"): "none",
    ("conflict", "noise"): "none",
}


def make_synthetic_stream(
    n_users: int = 2000,
    n_items: int = 200,
    *,
    max_len: int = 30,
    test_size: float = 0.15,
    validation_size: float = 0.05,
    drift: float = 0.0,
    random_state: int | np.random.RandomState | None = 0,
) -> TaskStream:
    """A synthetic stream of user sequences with planted task relations.

    Five tasks, in this order: ``next_item``, ``category``, ``related``,
    ``conflict``, ``noise``. All share one sequence per user as input and one
    user-disjoint split.

    **What is planted.** Items ``1..n_items`` are dealt round-robin into 12
    clusters, two families of six: *taste* clusters and *rival* clusters. In each
    family cluster ``k`` sits at angle ``(k + 1/2) * 60`` degrees. Every user has
    four latent factors ``z ~ N(0, I)``: ``z[:2]`` is the user's point in the
    *taste plane*, ``z[2:]`` in the *rival plane*. A sequence is a Markov chain:

    - a step *follows* (probability 1/2): the next item is one of the previous
      item's three fixed successors inside its cluster (Dirichlet(1/2) transition
      probabilities), so sequences have real first-order structure;
    - or it *jumps*: a family is drawn (1/2 each), then a cluster ``k`` of it with
      probability proportional to ``exp(3 <z_plane, (cos a_k, sin a_k)>)`` (the
      plane of that family), then an item of the cluster with Zipf-like popularity
      (weight ``1 / rank**0.8``).

    Lengths are uniform in ``[max(2, max_len // 3), max_len]``. Labels:

    - ``category``: the 60-degree sector (0-5) of the taste point's angle, aligned
      with the taste clusters: the taste clusters a user jumps to most reveal it.
    - ``related``: ``category // 2``, the 120-degree sector (0-2). A coarsening of
      ``category``: whatever solves ``category`` solves it (a positive relation).
    - ``conflict``: the 60-degree sector (0-5) of the *rival* point's angle. Same
      input, competing features: its evidence is the rival items of the sequence,
      and for it the taste items are pure nuisance, as the rival items are for
      ``category``. A shared backbone that learns ``conflict`` unprotected turns its
      channels to the rival items and away from the taste items, so the
      ``category`` head, left on the old features, forgets. Measured on 4,000
      users (3 seeds; a two-layer MLP over mean item embeddings, 25 epochs per
      task): category test accuracy 0.68; after fine-tuning the shared MLP on
      ``conflict`` 0.22-0.27 (chance 0.17), on ``noise`` 0.48-0.54, on
      ``related`` 0.50-0.64.
    - ``noise``: uniform random labels 0-5, independent of everything.

    **Drift** (``drift > 0``): tasks arrive in time order, as in DITTO (Choi et al.,
    SIGIR 2025). In each cluster the last ``floor(drift * size)`` items of the base
    popularity order (at most ``size - 1``) are *late*: in base order they are
    released in batches spread evenly over tasks 2 to 5 (of five), and never appear
    before their release. Released items head their cluster's popularity order,
    newest first (an item's Zipf weight follows its rank among the released
    items), and a step whose successor is not released yet jumps instead. Every
    task then gets its own sequence per user, drawn with the same users, latent
    factors, lengths, labels and split as ``drift=0`` (those random draws come
    first and are unchanged):
    later tasks bring new items and a shifted item distribution, while the
    planted labels keep their meaning (they depend on clusters, not items).
    ``drift=0`` is the stream without drift, bit for bit: one sequence per user,
    shared by all tasks.

    Parameters
    ----------
    n_users : int, default=2000
    n_items : int, default=200
        At least 48 (12 clusters of at least four items).
    max_len : int, default=30
        Longest sequence, at least 2.
    test_size, validation_size : float, default=0.15, 0.05
        Shares of users in the test and validation splits (rounded up).
    drift : float, default=0.0
        In [0, 1]: the share of each cluster's items released late (see above).
    random_state : int, RandomState instance or None, default=0
        Seeds everything: clusters, transitions, users, sequences, split.

    Returns
    -------
    TaskStream
        ``stream.relations`` maps task pairs to ``"positive"``, ``"conflict"`` or
        ``"none"``. ``stream.latent_factors[split]`` is the ``(n_rows, 4)`` array of
        true factors, row-aligned with every task of that split (all tasks have
        one row per user, users in ascending order). ``info`` also holds
        ``latent_factor_names``, ``item_cluster`` (cluster of each item id, index 0
        unused), ``cluster_family`` (``"taste"`` / ``"rival"`` per cluster),
        ``drift`` and ``item_release`` (the 0-based task from which each item id
        may appear, index 0 unused; all 0 without drift).

    Examples
    --------
    >>> from sklearn_teracon.datasets import make_synthetic_stream
    >>> stream = make_synthetic_stream(n_users=500, random_state=0)
    >>> stream.names
    ['next_item', 'category', 'related', 'conflict', 'noise']
    >>> X, y = stream["category"].train
    >>> len(X) == len(y) == stream.latent_factors["train"].shape[0]
    True
    >>> stream.relations[("category", "conflict")]
    'conflict'
    """
    for label, value, low in (
        ("n_users", n_users, 2),
        ("n_items", n_items, _MIN_ITEMS),
        ("max_len", max_len, 2),
    ):
        if not isinstance(value, Integral) or value < low:
            raise ValueError(f"{label} must be an int >= {low}, got {value!r}.")
    drift = check_drift(drift)
    rng = check_random_state(random_state)
    n_clusters = _N_FAMILIES * _N_SECTORS

    # Items, dealt round-robin into clusters; members[k] lists cluster k's items in
    # popularity order (padded with -1 where a cluster is one item short).
    item_cluster = np.arange(n_items) % n_clusters
    members = np.full((n_clusters, -(-n_items // n_clusters)), -1)
    for k in range(n_clusters):
        in_k = rng.permutation(np.flatnonzero(item_cluster == k))
        members[k, : in_k.size] = in_k
    sizes = (members >= 0).sum(axis=1)

    # Each item's successors: distinct items of its own cluster, never itself.
    successors = np.empty((n_items, _N_SUCCESSORS), dtype=np.int64)
    for item in range(n_items):
        mates = members[item_cluster[item], : sizes[item_cluster[item]]]
        successors[item] = rng.choice(
            mates[mates != item], _N_SUCCESSORS, replace=False
        )
    successor_cdf = np.cumsum(
        rng.dirichlet(np.full(_N_SUCCESSORS, 0.5), size=n_items), axis=1
    )

    # Users: a point in each plane picks clusters of that plane's family.
    latent = rng.standard_normal((n_users, 2 * _N_FAMILIES))
    angles = (np.arange(_N_SECTORS) + 0.5) * 2 * np.pi / _N_SECTORS
    directions = np.stack([np.cos(angles), np.sin(angles)])
    logits = _CONCENTRATION * np.concatenate(
        [latent[:, 2 * f : 2 * f + 2] @ directions for f in range(_N_FAMILIES)], axis=1
    )
    logits = logits.reshape(n_users, _N_FAMILIES, _N_SECTORS)
    cluster_p = np.exp(logits - logits.max(axis=2, keepdims=True))
    cluster_p /= cluster_p.sum(axis=2, keepdims=True) * _N_FAMILIES
    cluster_cdf = np.cumsum(cluster_p.reshape(n_users, n_clusters), axis=1)

    def draw(cdf, u):
        # Inverse-CDF sampling, one draw per row; clipped against float round-off.
        return np.minimum((cdf < u[:, None]).sum(axis=1), cdf.shape[1] - 1)

    def walk(members, sizes, released=None):
        # Zipf-like weights by rank inside each cluster (padding -1 weighs 0).
        weights = np.where(
            members >= 0,
            1.0 / np.arange(1, members.shape[1] + 1) ** _POPULARITY_EXPONENT,
            0,
        )
        cdf = np.cumsum(weights, axis=1) / weights.sum(axis=1, keepdims=True)
        # Cluster k's CDF shifted to (k, k + 1]: one sorted array, so a draw of
        # cluster k is a single searchsorted of k + u, whatever the cluster size.
        stacked_cdf = (cdf + np.arange(n_clusters)[:, None]).ravel()

        def jump():
            cluster = draw(cluster_cdf, rng.random_sample(n_users))
            # side="right" never lands in cluster k - 1, whose CDF ends at k.
            u = cluster + rng.random_sample(n_users)
            flat = np.searchsorted(stacked_cdf, u, side="right")
            rank = np.minimum(flat - cluster * members.shape[1], sizes[cluster] - 1)
            return members[cluster, rank]

        sequences = np.empty((n_users, max_len), dtype=np.int64)
        sequences[:, 0] = jump()
        for t in range(1, max_len):
            previous = sequences[:, t - 1]
            follow = successors[
                previous, draw(successor_cdf[previous], rng.random_sample(n_users))
            ]
            go = rng.random_sample(n_users) < _FOLLOW
            if released is not None:
                go &= released[follow]  # an unreleased successor: jump instead
            sequences[:, t] = np.where(go, follow, jump())
        return sequences

    sequences = walk(members, sizes)
    lengths = rng.randint(max(2, max_len // 3), max_len + 1, size=n_users)

    sector = 2 * np.pi / _N_SECTORS
    taste_angle = np.arctan2(latent[:, 1], latent[:, 0]) % (2 * np.pi)
    rival_angle = np.arctan2(latent[:, 3], latent[:, 2]) % (2 * np.pi)
    category = np.minimum(taste_angle // sector, _N_SECTORS - 1).astype(np.int64)
    conflict = np.minimum(rival_angle // sector, _N_SECTORS - 1).astype(np.int64)
    noise = rng.randint(0, _N_SECTORS, size=n_users)

    users = np.arange(n_users)
    splits = split_users(
        users,
        test_size=test_size,
        validation_size=validation_size,
        random_state=rng,
    )
    release = np.zeros(n_items, dtype=np.int64)
    if drift > 0:
        # Drawn after everything else, so users, labels and split match drift=0.
        release = release_schedule(members, sizes, drift, _N_TASKS)
        per_task = [
            walk(*catalogue_at(members, sizes, release, t), released=release <= t)
            for t in range(_N_TASKS)
        ]
    else:
        per_task = [sequences] * _N_TASKS
    # Item ids start at 1: 0 is the estimator's padding. Without drift the tasks
    # share one list per user, as before.
    inputs = {}
    for seqs in per_task:
        if id(seqs) not in inputs:
            inputs[id(seqs)] = [row[:n].tolist() for row, n in zip(seqs + 1, lengths)]
    X = [inputs[id(seqs)] for seqs in per_task]
    specs = [
        ("next_item", "next_item", None, "Predict each next item of the sequence."),
        ("category", "profile", category, "Sector (0-5) of the user's taste point."),
        ("related", "profile", category // 2, "category // 2: a coarsening (0-2)."),
        ("conflict", "profile", conflict, "Sector (0-5) of the user's rival point."),
        ("noise", "profile", noise, "Uniform random labels (0-5), pure noise."),
    ]
    tasks = [
        make_task(name, kind, row_users=users, X=X_t, y=y, splits=splits, description=d)
        for (name, kind, y, d), X_t in zip(specs, X)
    ]
    info = {
        "n_users": n_users,
        "n_items": n_items,
        "max_len": max_len,
        "test_size": test_size,
        "validation_size": validation_size,
        "random_state": random_state,
        "relations": dict(RELATIONS),
        "latent_factors": {split: latent[ids] for split, ids in splits.items()},
        "latent_factor_names": ["taste_x", "taste_y", "rival_x", "rival_y"],
        "item_cluster": np.concatenate([[-1], item_cluster]),
        "cluster_family": ["taste"] * _N_SECTORS + ["rival"] * _N_SECTORS,
        "drift": drift,
        "item_release": np.concatenate([[-1], release]),
    }
    return TaskStream(tasks, name="synthetic", info=info)
