"""PyTorch anchor for the training benchmark: one epoch of Fashion-MNIST on the CPU.

Usage: OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/train_torch.py BATCH [DATA_DIR] [--flush-denormal]

With --flush-denormal, torch.set_flush_denormal(True) flushes denormal floats to zero, as
sealtrain's kernels do; without it, PyTorch's default.

Trains the benchmark's MLP (784-512-10: Linear, ReLU, Linear) with cross-entropy and Adam
(learning rate 1e-3) on two threads. The data is read from the IDX gzip files of Debian's
dataset-fashion-mnist package, scaled to [0, 1] float32 and held as tensors before any timing.
A few batches warm up untimed; then exactly one epoch over the 60,000 training samples, in an
order shuffled with a fixed seed, is timed. Prints one JSON line:
{batch, samples, seconds, samples_per_second, torch_version, threads, blas}, where blas is the
BLAS library the process loaded (Debian's reference libblas3 is about ten times slower than
OpenBLAS here, so the caller checks it).
"""

import gzip
import json
import os
import sys
import time

import numpy as np
import torch

THREADS = 2
WARMUP_BATCHES = 5
SEED = 0
DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"


def read_idx_gz(path, expected_dims):
    """The uint8 array in an IDX gzip file, checked against the header."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if raw[0:2] != b"\x00\x00" or raw[2] != 0x08 or raw[3] != expected_dims:
        raise SystemExit(f"{path}: not a uint8 IDX file with {expected_dims} dimensions")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(expected_dims))
    offset = 4 + 4 * expected_dims
    data = np.frombuffer(raw, dtype=np.uint8, offset=offset)
    if data.size != int(np.prod(shape)):
        raise SystemExit(f"{path}: expected {int(np.prod(shape))} values, found {data.size}")
    return data.reshape(shape)


def loaded_blas():
    """The path of the BLAS library this process has loaded, or "unknown"."""
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            for line in maps:
                path = line.split()[-1]
                if "blas" in os.path.basename(path):
                    return path
    except OSError:
        pass
    return "unknown"


def main():
    if len(sys.argv) < 2:
        raise SystemExit("usage: train_torch.py BATCH [DATA_DIR]")
    flush = "--flush-denormal" in sys.argv
    args = [a for a in sys.argv[1:] if a != "--flush-denormal"]
    batch = int(args[0])
    data_dir = args[1] if len(args) > 1 else DEFAULT_DIR
    torch.set_flush_denormal(flush)
    torch.set_num_threads(THREADS)
    torch.manual_seed(SEED)

    images = read_idx_gz(os.path.join(data_dir, "train-images-idx3-ubyte.gz"), 3)
    labels = read_idx_gz(os.path.join(data_dir, "train-labels-idx1-ubyte.gz"), 1)
    x = torch.from_numpy(images.reshape(len(images), 784).astype(np.float32) / 255.0)
    y = torch.from_numpy(labels.astype(np.int64))
    samples = x.shape[0]

    model = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 10))
    loss_fn = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(SEED)

    def step(xb, yb):
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        return loss

    for i in range(WARMUP_BATCHES):
        step(x[i * batch : (i + 1) * batch], y[i * batch : (i + 1) * batch])

    order = torch.randperm(samples, generator=generator)
    start = time.perf_counter()
    for i in range(0, samples, batch):
        idx = order[i : i + batch]
        loss = step(x[idx], y[idx])
    loss.item()
    seconds = time.perf_counter() - start

    print(
        json.dumps(
            {
                "batch": batch,
                "samples": samples,
                "seconds": round(seconds, 4),
                "samples_per_second": round(samples / seconds, 1),
                "torch_version": torch.__version__,
                "threads": torch.get_num_threads(),
                "blas": loaded_blas(),
                "flush_denormal": flush,
            }
        )
    )


if __name__ == "__main__":
    main()
