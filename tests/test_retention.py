"""Knowledge retention protects an earlier task from a conflicting later one."""

from sklearn_teracon import ContinualUserEncoder
from sklearn_teracon.datasets import make_synthetic_stream


def _category_drop(stream, alpha):
    """Category accuracy before and after learning the conflicting task."""
    enc = ContinualUserEncoder(
        embedding_dim=32,
        n_blocks=1,
        max_len=20,
        batch_size=32,
        lr=5e-3,
        max_epochs=2,
        patience=None,
        validation_fraction=0.0,
        alpha=alpha,
        random_state=0,
    )
    category = stream["category"]
    enc.partial_fit(*stream["next_item"].train, task="next_item")
    enc.set_params(max_epochs=5).partial_fit(*category.train, task="category")
    before = enc.score(*category.test, task="category")
    conflict = stream["conflict"]
    enc.set_params(max_epochs=6).partial_fit(*conflict.train, task="conflict")
    return before - enc.score(*category.test, task="category")


def test_retention_halves_forgetting_under_a_conflicting_task():
    # conflict reads the rival items and must ignore the taste items that
    # category needs: unprotected, the shared backbone forgets category.
    stream = make_synthetic_stream(1000, 60, max_len=20, random_state=0).select(
        ["next_item", "category", "conflict"]
    )
    unprotected = _category_drop(stream, alpha=0.0)
    retained = _category_drop(stream, alpha=0.7)
    assert unprotected > 0.05, "the conflicting task should make category forget"
    assert retained < 0.5 * unprotected


def test_backbone_lr_scale_sets_how_later_tasks_move_the_backbone(toy):
    import torch

    from .conftest import TINY

    seqs, groups, _ = toy
    moved = {}
    for scale in (0.0, 1.0):
        enc = ContinualUserEncoder(**TINY, backbone_lr_scale=scale)
        enc.partial_fit(seqs)
        before = {
            k: v.clone() for k, v in enc.net_.module_.backbone.state_dict().items()
        }
        head = enc.net_.module_.heads[0].weight.detach().clone()
        enc.partial_fit(seqs, groups, task="group")
        after = enc.net_.module_.backbone.state_dict()
        moved[scale] = max((after[k] - before[k]).abs().max().item() for k in before)
        # the earlier head is retained, not frozen: it trains at lr either way
        assert not torch.equal(enc.net_.module_.heads[0].weight, head)
    assert moved[0.0] == 0.0
    assert moved[1.0] > 1e-3
