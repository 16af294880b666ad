"""``precision``: float32 unchanged, bfloat16 autocast in training and inference."""

import json

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from skorch import NeuralNet

from sklearn_teracon import ContinualUserEncoder, _cli_steps, cli
from sklearn_teracon._model_file import DESCRIPTION_KEY, DIGEST_KEY, _digest
from sklearn_teracon.training import ContinualNet
from sklearn_teracon.training._precision import autocast, check_precision

from .conftest import TINY, fit_two_tasks


def _scores(enc, toy):
    seqs, _, _ = toy
    return {
        task: enc.decision_function(seqs, task=task) for task in ("next_item", "group")
    }


@pytest.fixture(scope="module")
def module_toy():
    from .conftest import make_toy

    return make_toy()


@pytest.fixture(scope="module")
def fp32(module_toy):
    return fit_two_tasks(module_toy)


@pytest.fixture(scope="module")
def bf16(module_toy):
    return fit_two_tasks(module_toy, precision="bfloat16")


def test_float32_is_the_default_and_bit_identical_to_skorchs_step(
    fp32, module_toy, monkeypatch
):
    assert ContinualUserEncoder().precision == "float32"
    explicit = fit_two_tasks(module_toy, precision="float32")
    # skorch's own training step, without the precision override.
    monkeypatch.setattr(ContinualNet, "train_step_single", NeuralNet.train_step_single)
    plain = fit_two_tasks(module_toy)
    for other in (explicit, plain):
        for task, scores in _scores(fp32, module_toy).items():
            np.testing.assert_array_equal(_scores(other, module_toy)[task], scores)


def test_bfloat16_trains_and_predicts_finite_scores_close_to_float32(
    fp32, bf16, module_toy
):
    assert bf16.net_.precision == "bfloat16"
    for rows in bf16.history_.values():
        assert np.isfinite(rows[:, "train_loss"]).all()
    seqs, groups, _ = module_toy
    for task, scores in _scores(fp32, module_toy).items():
        low = _scores(bf16, module_toy)[task]
        assert low.dtype == np.float32 and np.isfinite(low).all()
        assert not np.array_equal(low, scores)  # autocast did act
        # Two epochs apart in rounding: the same model, not the same bits.
        assert np.corrcoef(low.ravel(), scores.ravel())[0, 1] > 0.9
    assert bf16.score(seqs, groups, task="group") == pytest.approx(
        fp32.score(seqs, groups, task="group"), abs=0.1
    )
    assert bf16.score(seqs, task="next_item") == pytest.approx(
        fp32.score(seqs, task="next_item"), abs=0.1
    )


def test_same_weights_predict_within_bfloat16_rounding(fp32, module_toy):
    seqs, _, _ = module_toy
    exact = fp32.decision_function(seqs, task="group")
    fp32.net_.precision = "bfloat16"
    try:
        low = fp32.decision_function(seqs, task="group")
    finally:
        fp32.net_.precision = "float32"
    assert not np.array_equal(low, exact)
    # bfloat16 keeps 8 bits of mantissa (relative rounding 0.4 %) per layer.
    np.testing.assert_allclose(low, exact, rtol=0, atol=0.02 * np.abs(exact).max())


def test_matmuls_run_in_bfloat16_while_weights_and_losses_stay_float32(
    bf16, module_toy
):
    seqs, groups, _ = module_toy
    head = bf16.net_.module_.heads[bf16.tasks_["group"].index]
    seen = []
    hook = head.register_forward_hook(lambda m, i, out: seen.append(out.dtype))
    try:
        bf16.partial_fit(seqs, groups, task="group")
        training = set(seen)
        seen.clear()
        bf16.predict(seqs, task="group")
    finally:
        hook.remove()
    assert training == {torch.bfloat16}
    assert set(seen) == {torch.bfloat16}
    net = bf16.net_
    assert all(p.dtype == torch.float32 for p in net.module_.parameters())
    batch = torch.as_tensor(bf16._encode(seqs[:8])), torch.zeros(8, dtype=torch.long)
    # A whole step: Adam's moments, dropped when a task ends, are made anew.
    step = net.train_step(batch)
    assert step["loss"].dtype == torch.float32
    state = [v for s in net.optimizer_.state.values() for v in s.values()]
    assert state and all(v.dtype == torch.float32 for v in state if v.dim())
    # skorch's own inference (evaluation_step) runs at the precision too.
    assert net.forward(bf16._encode(seqs[:8])).dtype == torch.bfloat16


def test_validation_runs_at_the_precision(module_toy):
    seqs, _, _ = module_toy
    params = {**TINY, "validation_fraction": 0.25, "precision": "bfloat16"}
    enc = ContinualUserEncoder(**params).fit(seqs)
    valid_loss = enc.history_["next_item"][:, "valid_loss"]
    assert len(valid_loss) == TINY["max_epochs"] and np.isfinite(valid_loss).all()
    seen = []
    net = enc.net_
    # The first convolution's output, as the layer norm after it receives it.
    norm = net.module_.backbone.blocks[0].norm1
    hook = norm.register_forward_pre_hook(lambda m, i: seen.append(i[0].dtype))
    try:
        batch = torch.as_tensor(enc._encode(seqs[:8])), torch.zeros(8)
        assert torch.isfinite(net.validation_step(batch)["loss"])
    finally:
        hook.remove()
    assert seen == [torch.bfloat16]


@pytest.mark.parametrize("value", ["float16", "fp32", "", None, 16])
def test_invalid_precision_is_refused_with_a_clear_error(module_toy, value):
    seqs, _, _ = module_toy
    with pytest.raises(ValueError, match="precision"):
        ContinualUserEncoder(**TINY, precision=value).fit(seqs)


def test_check_precision_and_autocast_validate_their_input():
    assert check_precision("bfloat16") == "bfloat16"
    with pytest.raises(TypeError, match="precision must be a string"):
        check_precision(32)
    with pytest.raises(ValueError, match="precision must be one of"):
        autocast("half", "cpu")
    with autocast("bfloat16", "cpu"):
        assert torch.is_autocast_enabled("cpu")
    with autocast("float32", "cpu"):
        assert not torch.is_autocast_enabled("cpu")


def test_precision_can_change_between_partial_fit_calls(fp32, module_toy):
    seqs, groups, _ = module_toy
    enc = fp32.__class__(**fp32.get_params())
    enc.partial_fit(seqs)
    enc.set_params(precision="bfloat16").partial_fit(seqs, groups, task="group")
    assert enc.net_.precision == "bfloat16"
    assert list(enc.tasks_) == ["next_item", "group"]


def test_save_and_load_keep_the_precision(bf16, module_toy, tmp_path):
    seqs, _, _ = module_toy
    path = tmp_path / "bf16.safetensors"
    bf16.save(path)
    loaded = ContinualUserEncoder.load(path)
    assert loaded.precision == "bfloat16"
    assert loaded.net_.precision == "bfloat16"
    np.testing.assert_array_equal(
        loaded.decision_function(seqs, task="group"),
        bf16.decision_function(seqs, task="group"),
    )


def test_a_file_saved_before_precision_existed_loads_as_float32(
    bf16, module_toy, tmp_path
):
    seqs, _, _ = module_toy
    path, old = tmp_path / "new.safetensors", tmp_path / "old.safetensors"
    bf16.save(path)
    with safe_open(str(path), framework="pt") as f:
        state = {k: f.get_tensor(k) for k in f.keys()}
        description = json.loads(f.metadata()[DESCRIPTION_KEY])
    del description["params"]["precision"], description["net"]["precision"]
    text = json.dumps(description)
    save_file(
        state, str(old), metadata={DESCRIPTION_KEY: text, DIGEST_KEY: _digest(text)}
    )
    loaded = ContinualUserEncoder.load(old)
    assert loaded.precision == "float32" and loaded.net_.precision == "float32"
    assert np.isfinite(loaded.decision_function(seqs, task="group")).all()


def test_a_saved_precision_outside_the_choices_is_refused(bf16, tmp_path):
    path, bad = tmp_path / "m.safetensors", tmp_path / "bad.safetensors"
    bf16.save(path)
    with safe_open(str(path), framework="pt") as f:
        state = {k: f.get_tensor(k) for k in f.keys()}
        description = json.loads(f.metadata()[DESCRIPTION_KEY])
    description["net"]["precision"] = "float16"
    text = json.dumps(description)
    save_file(
        state, str(bad), metadata={DESCRIPTION_KEY: text, DIGEST_KEY: _digest(text)}
    )
    with pytest.raises(ValueError, match="tampered or corrupt: .*net.precision"):
        ContinualUserEncoder.load(bad)


def test_cli_passes_precision_to_the_encoder():
    parser = cli.build_parser()
    for command in ("run", "compare"):
        args = parser.parse_args([command, "--precision", "bfloat16"])
        assert _cli_steps.make_encoder(args).precision == "bfloat16"
        assert parser.parse_args([command]).precision == "float32"
    with pytest.raises(SystemExit):
        parser.parse_args(["run", "--precision", "float16"])
