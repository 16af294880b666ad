"""The SASRec backbone (``backbone="sasrec"``): causal, masked, every strategy."""

import numpy as np
import pytest
import torch
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_teracon import ContinualUserEncoder
from sklearn_teracon.nn import BACKBONES, SASRec, TeraconModule, make_backbone
from sklearn_teracon.strategies import STRATEGIES
from sklearn_teracon.training.persistence import module_architecture


def _stream(n_users=48, seed=0):
    rng = np.random.RandomState(seed)
    X = [list(rng.randint(1, 25, size=rng.randint(3, 11))) for _ in range(n_users)]
    # A profile that the items tell: whether the user's items are mostly low.
    y = np.array([int(np.mean(items) < 12) for items in X])
    return X, y


def _encoder(**params):
    defaults = dict(
        embedding_dim=8,
        n_blocks=2,
        max_len=10,
        max_epochs=1,
        batch_size=16,
        backbone="sasrec",
        random_state=0,
    )
    return ContinualUserEncoder(**{**defaults, **params})


def _backbone(seed=0, **sizes):
    torch.manual_seed(seed)
    sizes = {"n_embeddings": 30, "dim": 8, "n_blocks": 2, "n_positions": 12, **sizes}
    return SASRec(**sizes).eval()


def test_a_later_item_does_not_change_earlier_outputs():
    backbone = _backbone()
    masks = torch.rand(backbone.n_slots, backbone.dim)
    items = torch.randint(2, 30, (4, 9))
    changed = items.clone()
    changed[:, 6] = (changed[:, 6] + 5) % 28 + 2
    before, after = backbone(items, masks), backbone(changed, masks)
    torch.testing.assert_close(before[:, :6], after[:, :6], rtol=0, atol=0)
    assert not torch.allclose(before[:, 6:], after[:, 6:])


def test_padding_before_a_user_changes_none_of_its_outputs():
    backbone = _backbone()
    masks = torch.rand(backbone.n_slots, backbone.dim)
    items = torch.randint(2, 30, (3, 6))
    padded = torch.cat([torch.zeros(3, 4, dtype=items.dtype), items], 1)
    out, out_padded = backbone(items, masks), backbone(padded, masks)
    torch.testing.assert_close(out, out_padded[:, 4:], rtol=1e-5, atol=1e-6)
    assert not out_padded[:, :4].any()  # padding positions hold zeros


def test_the_masks_gate_each_block_output():
    backbone = _backbone()
    items = torch.randint(2, 30, (2, 5))
    ones = torch.ones(backbone.n_slots, backbone.dim)
    closed = torch.zeros_like(ones)
    # Every slot closed: only the embeddings reach the (weightless) final norm.
    h = backbone.item_embedding(items) + backbone.position_embedding(
        torch.arange(5).expand(2, 5)
    )
    torch.testing.assert_close(backbone(items, closed), backbone.final_norm(h))
    assert not torch.allclose(backbone(items, ones), backbone(items, closed))


def test_maskable_weights_fresh_copy_and_growing_items():
    backbone = _backbone()
    names = [name for name, _ in backbone.maskable_weights()]
    assert len(names) == 6 * 2 and all(name.startswith("blocks.") for name in names)
    assert {name.split(".")[2] for name in names} == {
        "query",
        "key",
        "value",
        "out",
        "ffn1",
        "ffn2",
    }
    fresh = backbone.fresh_copy()
    assert fresh.architecture() == backbone.architecture()
    assert not torch.equal(
        fresh.blocks[0].query.weight, backbone.blocks[0].query.weight
    )
    old = backbone.item_embedding.weight.detach().clone()
    backbone.grow_items(40)
    assert backbone.n_embeddings == 40
    torch.testing.assert_close(backbone.item_embedding.weight[:30], old)


def test_hat_conditions_every_slot_weight():
    backbone = _backbone()
    used = torch.zeros(backbone.n_slots, backbone.dim)
    used[0, :3] = 1.0
    factors = backbone.gradient_factors(used)
    block = backbone.blocks[0]
    assert float(factors[block.query.weight]) == 0.0  # feeds the used units
    assert torch.equal(factors[block.out.bias], 1.0 - used[0])
    assert float(factors[block.ffn1.weight]) == 1.0  # its slot is all free
    slot_weights = {id(p) for b in backbone.blocks for p in b.parameters()}
    assert {id(p) for p in factors} == slot_weights


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "3"])
def test_bad_sizes_are_refused(bad):
    with pytest.raises(ValueError, match="n_positions"):
        SASRec(30, 8, 2, bad)
    with pytest.raises(ValueError, match="n_positions"):
        make_backbone("sasrec", 30, 8, [1, 4], 3)


def test_the_backbone_is_validated():
    X, _ = _stream()
    with pytest.raises(InvalidParameterError, match="backbone"):
        _encoder(backbone="transformer").fit(X)
    with pytest.raises(ValueError, match="backbone must be one of"):
        make_backbone("lstm", 30, 8, [1], 3)
    assert set(BACKBONES) == {"nextitnet", "sasrec"}


def test_the_default_backbone_is_nextitnet():
    assert ContinualUserEncoder().backbone == "nextitnet"
    module = TeraconModule(10, 8, [1, 4], 3)
    assert module_architecture(module)["backbone"] == "nextitnet"
    assert type(module.backbone).__name__ == "NextItNet"


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_strategy_learns_two_tasks_on_sasrec(name, tmp_path):
    X, y = _stream()
    enc = _encoder(strategy=name).partial_fit(X).partial_fit(X, y, task="low")
    assert isinstance(enc.net_.module_.backbone, SASRec)
    Z = enc.transform(X)
    assert Z.shape == (len(X), 8) and np.isfinite(Z).all()
    assert set(enc.predict(X, task="low")) <= {0, 1}
    assert enc.predict(X[:3], task="next_item").shape[0] == 3
    path = tmp_path / f"{name}.model"
    enc.save(path)
    loaded = ContinualUserEncoder.load(path)
    assert loaded.backbone == "sasrec"
    np.testing.assert_array_equal(loaded.transform(X), Z)
    np.testing.assert_array_equal(
        loaded.predict_proba(X, task="low"), enc.predict_proba(X, task="low")
    )


def test_max_len_shapes_a_fitted_sasrec():
    X, _ = _stream()
    enc = _encoder().fit(X)
    assert module_architecture(enc.net_.module_)["max_len"] == 10
    enc.set_params(max_len=20)  # inference reads more items...
    assert enc.transform(X).shape == (len(X), 8)
    with pytest.raises(ValueError, match="max_len=20, but the fitted network"):
        enc.partial_fit(X)  # ...but the positions cannot grow under the tasks
    with pytest.raises(ValueError, match="backbone='nextitnet', but the fitted"):
        enc.set_params(max_len=10, backbone="nextitnet").partial_fit(X)


def test_a_file_saved_before_the_backbone_loads_as_nextitnet():
    from pathlib import Path

    path = Path(__file__).parent / "data" / "models" / "teracon.model"
    enc = ContinualUserEncoder.load(path)
    assert enc.backbone == "nextitnet"
    assert module_architecture(enc.net_.module_)["backbone"] == "nextitnet"


def test_the_command_line_trains_a_sasrec(tmp_path, capsys):
    from sklearn_teracon.cli import main

    argv = ["compare", "--dataset", "synthetic", "--n-users", "120"]
    argv += ["--n-items", "48", "--epochs", "1", "--embedding-dim", "8"]
    argv += ["--n-blocks", "1", "--tasks", "next_item,category", "--quiet"]
    argv += ["--strategies", "teracon", "--backbone", "sasrec"]
    assert main([*argv, "--out", str(tmp_path)]) == 0, capsys.readouterr().err
    assert (tmp_path / "compare.json").exists()
    capsys.readouterr()
    assert main(["run", "--backbone", "lstm"]) != 0
    assert "--backbone: invalid choice: 'lstm'" in capsys.readouterr().err
