"""Causal convolution kernels: ``Conv1d`` against one matrix multiply (DESIGN.md §8).

Forward + backward time of one dilated causal convolution over
``h [batch, length, d]``, computed three ways:

- ``conv1d``: ``Conv1d`` over ``[batch, d, length]`` with left padding (the
  library's implementation before this benchmark);
- ``matmul``: the k dilated shifts of ``h`` gathered into
  ``[batch, length, k·d]`` and multiplied once by the ``[k·d, d]`` weight;
- ``library``: ``sklearn_teracon.nn.backbone.CausalConv1d`` as it is now;

in fp32 and under ``torch.autocast("cpu", dtype=torch.bfloat16)``, at the
paper's size (d = 256) and the library default (d = 64), batch 32, length
30, kernel 3, dilations 1, 2, 4, 8. Then a whole training step of the
paper's model with its backbone eager or under ``torch.compile``: the
compile time and the speed.

Run: ``nice python benchmarks/conv_kernels.py [--threads 1] [--repeats 30]``
"""

import argparse
import time

import torch
import torch.nn.functional as F
from torch import nn

from sklearn_teracon.nn.backbone import CausalConv1d

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--threads", type=int, default=1)
parser.add_argument("--repeats", type=int, default=10)
parser.add_argument("--no-compile", action="store_true")
args = parser.parse_args()
torch.set_num_threads(args.threads)

BATCH, LENGTH, KERNEL, DILATIONS = 32, 30, 3, (1, 2, 4, 8)


def conv1d_forward(conv: nn.Conv1d, h: torch.Tensor) -> torch.Tensor:
    left = (conv.kernel_size[0] - 1) * conv.dilation[0]
    return conv(F.pad(h.transpose(1, 2), (left, 0))).transpose(1, 2)


def matmul_forward(conv: nn.Conv1d, h: torch.Tensor) -> torch.Tensor:
    k, r = conv.kernel_size[0], conv.dilation[0]
    if torch.is_autocast_enabled("cpu"):
        # Shift and gather in bf16: half the bytes of gathering in fp32.
        h = h.to(torch.get_autocast_dtype("cpu"))
    padded = F.pad(h, (0, 0, (k - 1) * r, 0))
    length = h.shape[1]
    shifted = torch.cat([padded[:, j * r : j * r + length] for j in range(k)], -1)
    # conv.weight [out, in, k] -> [k·in, out], tap-major like ``shifted``.
    weight = conv.weight.permute(2, 1, 0).reshape(-1, conv.out_channels)
    return torch.addmm(conv.bias, shifted.flatten(0, 1), weight).view_as(h)


def best_seconds(steps: dict, repeats: int, rounds: int = 5) -> dict:
    """Best-of-``rounds`` seconds per step of each step, the steps interleaved.

    Other processes share the cores: interleaving spreads their load over
    every variant, and the best round is the least disturbed one.
    """
    for step in steps.values():
        for _ in range(3):
            step()
    best = dict.fromkeys(steps, float("inf"))
    for _ in range(rounds):
        for name, step in steps.items():
            start = time.perf_counter()
            for _ in range(repeats):
                step()
            best[name] = min(best[name], (time.perf_counter() - start) / repeats)
    return best


def kernel_step(forward, module, dim: int, bf16: bool):
    h = torch.randn(BATCH, LENGTH, dim, requires_grad=True)
    grad = torch.randn(BATCH, LENGTH, dim)

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = forward(module, h)
        out.backward(grad)

    return step


print(
    f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); one causal "
    f"conv, batch {BATCH}, length {LENGTH}, kernel {KERNEL}, forward + backward, "
    f"ms (mean over dilations {DILATIONS})"
)
print(f"{'d':>4} {'precision':>9} {'conv1d':>8} {'matmul':>8} {'library':>8}")
for dim in (256, 64):
    for bf16 in (False, True):
        totals = {"conv1d": 0.0, "matmul": 0.0, "library": 0.0}
        for r in DILATIONS:
            library = CausalConv1d(dim, KERNEL, r)
            conv = library.conv
            steps = {
                "conv1d": kernel_step(conv1d_forward, conv, dim, bf16),
                "matmul": kernel_step(matmul_forward, conv, dim, bf16),
                "library": kernel_step(lambda m, h: m(h), library, dim, bf16),
            }
            for name, seconds in best_seconds(steps, args.repeats).items():
                totals[name] += seconds
        row = " ".join(f"{1e3 * t / len(DILATIONS):8.3f}" for t in totals.values())
        print(f"{dim:>4} {'bf16' if bf16 else 'fp32':>9} {row}")

if not args.no_compile:
    from sklearn_teracon.nn import TeraconModule
    from sklearn_teracon.nn.chunked import head_cross_entropy

    # A whole first-task training step at the paper's size (8 blocks, the
    # next-item head over 3,500 items, dropout 0.4, Adam), with the backbone
    # eager or compiled: what a user would wait for.
    dim, n_items = 256, 3502
    torch.manual_seed(0)
    module = TeraconModule(n_items, dim, [1, 4] * 4, KERNEL)
    module.add_task("next_item", n_items, s=50.0)
    module.backbone.dropout = 0.4
    module.train()
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3)
    items = torch.randint(2, n_items, (BATCH, LENGTH))
    inputs, targets = items[:, :-1], items[:, 1:]

    def training_step(backbone, bf16: bool):
        def step():
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                hidden = backbone(inputs, module.masks(0, 50.0))
                loss = head_cross_entropy(
                    hidden.flatten(0, 1), module.heads[0], targets.flatten()
                )
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()

        return step

    # A cold compile writes inductor's cache; later runs of this script reuse
    # it, so only the first run's compile time is what a user first waits.
    compiled = torch.compile(module.backbone)
    for bf16 in (False, True):
        start = time.perf_counter()
        try:
            training_step(compiled, bf16)()
        except Exception as exc:  # report why it does not work here, and go on
            print(f"torch.compile failed: {type(exc).__name__}: {exc}".splitlines()[0])
            break
        compile_s = time.perf_counter() - start
        timed = best_seconds(
            {
                "eager": training_step(module.backbone, bf16),
                "compiled": training_step(compiled, bf16),
            },
            args.repeats,
        )
        print(
            f"training step, paper's model, {'bf16' if bf16 else 'fp32'}: eager "
            f"{1e3 * timed['eager']:.1f} ms, backbone under torch.compile "
            f"{1e3 * timed['compiled']:.1f} ms (first call {compile_s:.1f} s)"
        )
