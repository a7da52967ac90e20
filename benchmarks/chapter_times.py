"""Wall-clock time of every chapter notebook, executed once each, one at a time.

    python benchmarks/chapter_times.py [--book book] [--only 03_ncf 04_autoencoders] [--timeout 1800]

Each notebook in the book folder is executed top to bottom with nbclient in its own folder (as
nbmake and the book build do), at the scale that ``RECSYS_LESSON_SCALE`` selects in this
environment (unset: the default scale). The stored notebooks are not modified. The script
prints a markdown table (notebook, seconds, device) for the teachers' page, with the scale, the
date and the machine above it. The device is the one `recsys_lesson.train.get_device` picks.
A notebook that fails is listed as failed (with the error's type) and the script goes on; the
exit status is 1 if any failed. Times depend on whatever else runs on the machine.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from pathlib import Path

import nbformat
import torch
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recsys_lesson.notebook import SCALE_VARIABLE, paper_scale  # noqa: E402
from recsys_lesson.train import get_device  # noqa: E402


def device_name() -> str:
    device = get_device()
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple MPS"
    return f"CPU ({os.cpu_count()} cores)"


def run(path: Path, timeout: int) -> tuple[float, str]:
    """Execute one notebook in memory; return (seconds, "" or the error's type)."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    try:
        client.execute()
        error = ""
    except Exception as exception:  # a failing chapter is reported, not fatal for the table
        error = type(exception).__name__
    return time.perf_counter() - start, error


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--book", default=str(ROOT / "book"), help="folder of the notebooks (default: the book)")
    parser.add_argument("--only", nargs="*", help="notebook names to run (without .ipynb); default: all")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds a single cell may take")
    args = parser.parse_args(argv)
    paths = sorted(Path(args.book).glob("*.ipynb"))
    if args.only:
        unknown = set(args.only) - {p.stem for p in paths}
        if unknown:
            parser.error(f"no such notebooks in {args.book}: {', '.join(sorted(unknown))}")
        paths = [p for p in paths if p.stem in args.only]
    if not paths:
        parser.error(f"{args.book} holds no notebooks")
    scale = "paper" if paper_scale() else "default"
    device = device_name()
    print(f"Scale: {scale} ({SCALE_VARIABLE}={os.environ.get(SCALE_VARIABLE, 'unset')}); "
          f"date: {datetime.date.today().isoformat()}; machine: {platform.machine()}, {os.cpu_count()} CPU cores, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; torch {torch.__version__}.")
    print()
    print("| notebook | seconds | device |")
    print("|---|---:|---|")
    failed = False
    for path in paths:
        seconds, error = run(path, args.timeout)
        failed |= bool(error)
        shown = f"{seconds:.0f}" if not error else f"failed ({error}) after {seconds:.0f}"
        print(f"| {path.name} | {shown} | {device} |", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
