#!/usr/bin/env python3
"""Generate a benchmark source tree, deterministically.

usage: gen_tree.py OUT --small N [--dirs D] [--big-files K --big-size BYTES]
                       [--dataset NAME]

Writes OUT/<dataset>/small/dNNNN/fNNNNNN.txt (N small text files of
64..2047 bytes spread over D directories) and OUT/<dataset>/big/bigK.bin
(incompressible), plus OUT/datasets.json.
"""
import argparse
import json
import os
import random


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--small", type=int, default=0)
    ap.add_argument("--dirs", type=int, default=1000)
    ap.add_argument("--big-files", type=int, default=0)
    ap.add_argument("--big-size", type=int, default=1 << 30)
    ap.add_argument("--dataset", default="bench")
    a = ap.parse_args()

    rng = random.Random(42)
    root = os.path.join(a.out, a.dataset)
    os.makedirs(root, exist_ok=True)
    words = [("w%03d" % i).encode() for i in range(997)]
    per_dir = max(1, (a.small + a.dirs - 1) // a.dirs)
    for i in range(a.small):
        d = os.path.join(root, "small", "d%04d" % (i // per_dir))
        if i % per_dir == 0:
            os.makedirs(d, exist_ok=True)
        n = rng.randrange(64, 2048)
        body = b" ".join(rng.choice(words) for _ in range(n // 4 + 1))[:n]
        with open(os.path.join(d, "f%07d.txt" % i), "wb") as f:
            f.write(body)
    if a.big_files:
        os.makedirs(os.path.join(root, "big"), exist_ok=True)
    for k in range(a.big_files):
        path = os.path.join(root, "big", "big%d.bin" % k)
        left = a.big_size
        with open(path, "wb") as f:
            while left > 0:
                n = min(left, 8 << 20)
                f.write(os.urandom(n))
                left -= n
    with open(os.path.join(a.out, "datasets.json"), "w") as f:
        json.dump({"datasets": [{
            "name": a.dataset, "industry": "science", "modality": "text",
            "tier": "open", "license": "CC0-1.0",
            "description": "generated benchmark tree"}]}, f)


if __name__ == "__main__":
    main()
