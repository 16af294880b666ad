"""Benchmark suite: training and inference speed against the machine's peak.

Runs every case in a process of its own (``benchmarks/cases.py``): the fp32
and bf16 matrix-multiply peak of the device, then for each model size the
first task (next item, batch 32), a later item task and a later profile task
(both retaining the first), and inference (``transform``, ``recommend``), on
MovieLens-1M-shaped synthetic rows. Prints a table and writes JSON. A case
that fails is reported and the next one runs. See ``docs/performance.rst``.

Run from the repository root::

    python -m benchmarks.run [--device cpu|cuda] [--size paper|default|all]
        [--precision float32|bfloat16] [--threads N] [--epochs 2] [--quick]
        [--retained-positions all|last] [--loss full|sampled]
        [--nproc N] [--json results.json]

``--nproc N`` runs each training case once more data-parallel under
``torchrun --nproc-per-node N`` (gloo on CPU, NCCL on CUDA), every process
with ``threads / N`` torch threads and ``1/N`` of the same global batch, and
reports its speed-up over the one-process run with all the threads; and
once more as N processes side by side that never talk (each on its 1/N of
every batch, no DDP): their summed speed is the bound on data-parallel
training on this machine, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRAINING_CASES = ("first", "item", "profile")
CASES = (*TRAINING_CASES, "inference")
# What copies side by side add up to (``run_copies``).
SUMMED = ("seq_per_s", "positions_per_s", "gflop_per_s", "peak_rss_mib")
SUMMED += ("peak_heap_in_use_mib",)
COLUMNS = [
    # (heading, result key, format)
    ("case", "case", "{}"),
    ("size", "size", "{}"),
    ("batch", "batch_size", "{}"),
    ("procs", "processes", "{}"),
    ("DDP", "ddp", "{}"),
    ("seq/s", "seq_per_s", "{:.0f}"),
    ("pos/s", "positions_per_s", "{:.0f}"),
    ("transform u/s", "transform_users_per_s", "{:.0f}"),
    ("recommend u/s", "recommend_users_per_s", "{:.0f}"),
    ("GFLOP/s", "gflop_per_s", "{:.1f}"),
    ("/fp32 peak", "fraction_of_fp32_peak", "{:.2f}"),
    ("/bf16 peak", "fraction_of_bf16_peak", "{:.2f}"),
    ("RSS MiB", "peak_rss_mib", "{:.0f}"),
    ("heap MiB", "peak_heap_in_use_mib", "{:.0f}"),
    ("CUDA MiB", "cuda_max_allocated_mib", "{:.0f}"),
]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--size", choices=["paper", "default", "all"], default="all")
    parser.add_argument(
        "--precision", choices=["float32", "bfloat16"], default="float32"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=os.cpu_count() or 1,
        help="torch threads in every case (default: all cores)",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=2,
        help="epochs per training case; the last one is measured (default 2)",
    )
    parser.add_argument(
        "--cases", nargs="+", choices=CASES, default=list(CASES), metavar="CASE"
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny data and model: a smoke run"
    )
    parser.add_argument(
        "--retained-positions",
        choices=["all", "last"],
        default="all",
        help="where the later cases retain the first (next-item) task",
    )
    parser.add_argument(
        "--loss",
        choices=["full", "sampled"],
        default="full",
        help="the encoder's loss: the exact softmax or the sampled one",
    )
    parser.add_argument(
        "--nproc",
        type=int,
        default=1,
        help="also run the training cases on N processes (torchrun)",
    )
    parser.add_argument("--timeout", type=float, default=1800, help="s per case")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    if args.threads < 1 or args.epochs < 1 or args.nproc < 1:
        parser.error("--threads, --epochs and --nproc must be at least 1")
    if not (args.device == "cpu" or args.device.startswith("cuda")):
        parser.error(f"--device must be cpu, cuda or cuda:N, got {args.device!r}")
    return args


def run_copies(spec: dict, timeout: float) -> dict:
    """``spec["copies"]`` processes of one case side by side, each on its part
    of every batch and never talking: their summed seq/s bounds what
    data-parallel training can reach here (the cores, memory bandwidth and
    threads it shares, without the all-reduce)."""
    results = [None] * spec["copies"]

    def one(i: int) -> None:
        results[i] = run_case({**spec, "copy": i}, timeout)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(results))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    failed = [r for r in results if "error" in r]
    if failed:
        return failed[0]
    summed = {key: sum(r[key] for r in results) for key in SUMMED}
    return {**results[0], **summed, "processes": len(results), "ddp": "no"}


def run_case(spec: dict, timeout: float) -> dict:
    """Run one case in a child process; its result, or its error."""
    env = dict(os.environ, OMP_NUM_THREADS=str(spec["threads"]))
    if spec["device"] == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    elif spec["device"] == "cuda" and "copy" in spec:  # one GPU a copy, as a rank
        env["CUDA_VISIBLE_DEVICES"] = str(spec["copy"])
    with tempfile.TemporaryDirectory() as folder:
        result_path = Path(folder) / "result.json"
        launcher = [sys.executable]
        if spec.get("nproc", 1) > 1:
            launcher += [
                "-m",
                "torch.distributed.run",
                "--standalone",
                f"--nproc-per-node={spec['nproc']}",
            ]
        command = [
            *launcher,
            "-m",
            "benchmarks.cases",
            json.dumps(spec),
            str(result_path),
        ]
        start = time.perf_counter()
        try:
            done = subprocess.run(
                command,
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            error = f"timed out after {timeout:.0f} s"
        else:
            if done.returncode == 0 and result_path.exists():
                result = json.loads(result_path.read_text())
                result["case_wall_s"] = time.perf_counter() - start
                return result
            error = (done.stderr or done.stdout).strip().splitlines()[-20:]
            error = "\n".join(error) or f"exit status {done.returncode}"
    return {"case": spec["case"], "size": spec["size"], "error": error}


def add_peak_fractions(results: list[dict], peak: dict) -> None:
    """Achieved GFLOP/s over the matmul peaks measured in the same run."""
    for result in results:
        if "gflop_per_s" not in result:
            continue
        for name in ("fp32", "bf16"):
            peak_gflop = peak.get(f"{name}_gflop_per_s")
            if peak_gflop:
                result[f"fraction_of_{name}_peak"] = result["gflop_per_s"] / peak_gflop


def table(results: list[dict]) -> str:
    rows = [[heading for heading, _, _ in COLUMNS]]
    for result in results:
        if "error" in result:
            continue
        rows.append(
            [
                form.format(result[key]) if key in result else "-"
                for _, key, form in COLUMNS
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(row, widths)) for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def speedups(results: list[dict]) -> list[str]:
    """The N-process runs' seq/s over the one-process runs of the same case."""
    alone = {
        (r["case"], r["size"]): r
        for r in results
        if r.get("processes") == 1 and "seq_per_s" in r
    }
    lines = []
    for r in results:
        one = alone.get((r["case"], r["size"]))
        if r.get("processes", 1) > 1 and "seq_per_s" in r and one:
            r["speedup_over_one_process"] = r["seq_per_s"] / one["seq_per_s"]
            how = "DDP" if r.get("ddp") == "yes" else "side by side, no DDP (the bound)"
            lines.append(
                f"{r['case']} ({r['size']}, {how}): {r['processes']} processes x "
                f"{r['torch_threads']} threads {r['seq_per_s']:.0f} seq/s against "
                f"1 x {one['torch_threads']} threads {one['seq_per_s']:.0f}: "
                f"{r['speedup_over_one_process']:.2f}x"
            )
    return lines


def machine(device: str) -> dict:
    info = {
        "platform": platform.platform(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }
    if device.startswith("cuda"):
        probe = "import torch; print(torch.cuda.get_device_name())"
        done = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True
        )
        info["gpu"] = done.stdout.strip() or done.stderr.strip()[-200:]
    return info


def main(argv=None) -> int:
    args = parse_args(argv)
    sizes = ["paper", "default"] if args.size == "all" else [args.size]
    base = {
        "device": args.device,
        "precision": args.precision,
        "threads": args.threads,
        "epochs": args.epochs,
        "quick": args.quick,
        "retained_positions": args.retained_positions,
        "loss": args.loss,
    }
    results = []
    with tempfile.TemporaryDirectory() as model_dir:
        base["model_dir"] = model_dir
        specs = [{**base, "case": "peak", "size": "-"}]
        specs += [
            {**base, "case": case, "size": size}
            for size in sizes
            for case in CASES
            if case in args.cases
        ]
        if args.nproc > 1:
            threads = max(1, args.threads // args.nproc)
            training = [spec for spec in specs if spec["case"] in TRAINING_CASES]
            specs += [
                {**spec, "nproc": args.nproc, "threads": threads} for spec in training
            ]
            specs += [
                {**spec, "copies": args.nproc, "threads": threads} for spec in training
            ]
        for spec in specs:
            print(f"running {spec['case']} ({spec['size']}) ...", flush=True)
            if spec.get("copies", 1) > 1:
                result = run_copies(spec, args.timeout)
            else:
                result = run_case(spec, args.timeout)
            if "error" in result:
                print(f"  FAILED: {result['error']}", flush=True)
            results.append(result)
    peak = results[0] if "error" not in results[0] else {}
    add_peak_fractions(results[1:], peak)
    print()
    if peak:
        print(
            f"matmul peak on {args.device} ({peak['matmul_n']}^2, "
            f"{args.threads} threads): fp32 {peak['fp32_gflop_per_s']:.1f} "
            f"GFLOP/s, bf16 {peak['bf16_gflop_per_s']:.1f} GFLOP/s"
        )
    print(table(results[1:]))
    for line in speedups(results[1:]):
        print(line)
    for result in results:
        if "error" in result:
            print(f"FAILED {result['case']} ({result['size']}): see above")
    report = {
        "settings": {k: v for k, v in base.items() if k != "model_dir"},
        "machine": machine(args.device),
        "peak": peak,
        "results": results[1:],
    }
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2))
        print(f"wrote {args.json}")
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
