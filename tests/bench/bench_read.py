#!/usr/bin/env python3
"""Read helpers for tests/bench/mount_bench.sh (standard library only).

usage:
  bench_read.py seq FILE
      Read FILE sequentially in 1 MiB blocks (unbuffered, one reused
      buffer). Prints "BYTES SECONDS".
  bench_read.py list ROOT OUT
      Write the paths of the regular files under ROOT, relative to ROOT,
      sorted, one per line, to OUT. Prints the count.
  bench_read.py small ROOT LIST
      Open, read to the end and close each file of LIST (as written by
      `list`) under ROOT, in order, in this one process. Prints
      "FILES BYTES SECONDS SHA256" (SHA-256 of all the contents, in
      order, so two trees can be compared byte for byte).
  bench_read.py rand FILE COUNT SEED
      COUNT preads of 4 KiB at 4 KiB-aligned offsets of FILE drawn from
      a generator seeded with SEED (the same offsets for the same
      arguments). Prints "OPS SECONDS P99_MS SHA256" (SHA-256 of the
      bytes read, in order, to compare two files).
  bench_read.py rand-direct FILE COUNT SEED
      The same with O_DIRECT: through a FUSE mount each read reaches the
      daemon, past the mount's page cache (the cost of a request).

Exit status 1 (with the reason on stderr) on any failed open or read.
"""
import hashlib
import os
import sys
import time

BLOCK = 1 << 20


def seq(path):
    buf = bytearray(BLOCK)
    view = memoryview(buf)
    total = 0
    t0 = time.perf_counter()
    with open(path, "rb", buffering=0) as f:
        while True:
            n = f.readinto(view)
            if not n:
                break
            total += n
    dt = time.perf_counter() - t0
    print("%d %.6f" % (total, dt))


def list_files(root, out):
    paths = []
    for d, dirs, files in os.walk(root):
        rel = os.path.relpath(d, root)
        for name in files:
            p = name if rel == "." else os.path.join(rel, name)
            paths.append(p)
    paths.sort()
    with open(out, "w") as f:
        for p in paths:
            f.write(p + "\n")
    print(len(paths))


def small(root, listfile):
    with open(listfile) as f:
        paths = [os.path.join(root, line.rstrip("\n")) for line in f if line.strip()]
    h = hashlib.sha256()
    total = 0
    t0 = time.perf_counter()
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        try:
            while True:
                b = os.read(fd, BLOCK)
                if not b:
                    break
                total += len(b)
                h.update(b)
        finally:
            os.close(fd)
    dt = time.perf_counter() - t0
    print("%d %d %.6f %s" % (len(paths), total, dt, h.hexdigest()))


def rand(path, count, seed, direct=False):
    import mmap
    import random
    size = os.stat(path).st_size
    gen = random.Random(seed)
    offsets = [gen.randrange(0, size // 4096) * 4096 for _ in range(count)]
    h = hashlib.sha256()
    lat = []
    buf = mmap.mmap(-1, 4096)  # page-aligned, as O_DIRECT wants
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECT if direct else 0))
    try:
        t0 = time.perf_counter()
        for off in offsets:
            t = time.perf_counter()
            n = os.preadv(fd, [buf], off)
            b = buf[:n]
            lat.append(time.perf_counter() - t)
            if len(b) != 4096:
                raise OSError("short read at %d of %s" % (off, path))
            h.update(b)
        dt = time.perf_counter() - t0
    finally:
        os.close(fd)
    lat.sort()
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    print("%d %.6f %.3f %s" % (count, dt, p99 * 1e3, h.hexdigest()))


def main(argv):
    try:
        if len(argv) == 3 and argv[1] == "seq":
            seq(argv[2])
        elif len(argv) == 4 and argv[1] == "list":
            list_files(argv[2], argv[3])
        elif len(argv) == 4 and argv[1] == "small":
            small(argv[2], argv[3])
        elif len(argv) == 5 and argv[1] in ("rand", "rand-direct"):
            rand(argv[2], int(argv[3]), int(argv[4]), argv[1] == "rand-direct")
        else:
            sys.stderr.write(__doc__)
            return 2
    except OSError as e:
        sys.stderr.write("bench_read.py: %s\n" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
