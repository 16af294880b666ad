"""Small, seeded data and models shared by the tests (offline, seconds)."""

import os

import numpy as np
import pytest
import torch

from sklearn_teracon import ContinualUserEncoder

try:  # the fuzz tests' profiles: `ci` by default, HYPOTHESIS_PROFILE to choose
    from hypothesis import HealthCheck, settings
except ImportError:  # tests/test_fuzz.py skips itself
    pass
else:
    _quiet = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
    settings.register_profile(
        "ci",
        max_examples=40,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=_quiet,
    )
    settings.register_profile(
        "thorough", max_examples=1000, deadline=None, suppress_health_check=_quiet
    )
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

TINY = dict(
    embedding_dim=16,
    n_blocks=1,
    max_len=12,
    max_epochs=2,
    batch_size=32,
    patience=None,
    validation_fraction=0.0,
    random_state=0,
)


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """Tiny models gain nothing from intra-op threads, and they collapse when
    the cores are shared with the worker processes some tests start."""
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n_threads)


def make_toy(n_users=160, seed=0):
    """Users of two groups walking through their group's items in order.

    Returns sequences (ragged), the group label and a 3-class "band" label.
    """
    rng = np.random.default_rng(seed)
    groups = rng.integers(0, 2, n_users)
    seqs = []
    for g in groups:
        start = rng.integers(0, 20)
        length = rng.integers(4, 15)
        seqs.append([int(1 + 20 * g + (start + i) % 20) for i in range(length)])
    bands = np.array([len(s) % 3 for s in seqs])
    return seqs, groups, bands


@pytest.fixture
def toy():
    return make_toy()


@pytest.fixture
def tiny_encoder():
    return ContinualUserEncoder(**TINY)


def fit_two_tasks(toy, **params):
    """A TINY encoder (``params`` override) that learned next_item, then group."""
    seqs, groups, _ = toy
    enc = ContinualUserEncoder(**TINY, **params)
    enc.partial_fit(seqs)
    enc.partial_fit(seqs, groups, task="group")
    return enc


@pytest.fixture
def fitted(toy):
    """An encoder that has learned next_item, then group."""
    return fit_two_tasks(toy)
