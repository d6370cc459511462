#!/usr/bin/env python3
"""Random-access read checks of files on an aidatafs mount.

usage:
  mount_pread.py random MNTFILE SRCFILE [--count N] [--chunk SIZE] [--seed S]
      N preads (default 2000) at random offsets and lengths, compared with
      the source: uniform offsets, offsets around multiples of SIZE (chunk
      boundaries; reads crossing them), reads ending at or straddling EOF,
      reads at and past EOF (must return 0 bytes), lengths from 1 byte to
      3 MiB (more than one FUSE request). Every 25 reads the page cache
      of the file is dropped (posix_fadvise DONTNEED), so most reads
      reach the daemon; every 200 reads the file is reopened.
  mount_pread.py mmap MNTFILE SRCFILE [--seed S] [--slices N]
      mmap the whole file: its bytes equal the source's, then N (default
      200) random slices of the mapping, after dropping the page cache.
  mount_pread.py concurrent --procs P --reads N [--chunk SIZE] [--seed S]
                 MNTFILE SRCFILE [MNTFILE SRCFILE ...]
      P processes, each doing N random range reads (pread) on files picked
      at random among the pairs (so several processes read the same file
      at once, and different ones), each with its own descriptors; every
      byte compared. Half the processes also drop the page cache now and
      then.
Exit status 0 when every byte matched, 1 otherwise (with the first
differences printed).
"""
import argparse
import mmap
import multiprocessing
import os
import random
import sys

MiB = 1 << 20


def pick(rng, size, chunk):
    """(offset, length, kind) for one read of a file of size bytes."""
    r = rng.random()
    maxlen = 3 * MiB
    if r < 0.30 or size == 0:
        off = rng.randrange(0, size + 1) if size else 0
        kind = "uniform"
    elif r < 0.60:
        # around a chunk boundary, usually crossing it
        nb = max(1, size // chunk)
        b = rng.randrange(0, nb + 1) * chunk
        off = max(0, min(size, b - rng.randrange(0, 2 * 4096 + 1)))
        kind = "boundary"
        if rng.random() < 0.5:
            maxlen = 2 * chunk + 8192
    elif r < 0.75:
        # ending at EOF, or straddling it
        back = rng.randrange(0, min(size, 2 * MiB) + 1)
        off = size - back
        kind = "eof"
        length = back + rng.choice([0, 0, 1, 4096, rng.randrange(1, MiB)])
        return off, max(1, length), kind
    elif r < 0.85:
        # at or past EOF: 0 bytes
        off = size + rng.choice([0, 0, 1, 4095, 4096, rng.randrange(1, 1 << 30)])
        kind = "past-eof"
    else:
        off = rng.randrange(0, size + 1)
        kind = "small"
        maxlen = 64
    lengths = [1, 2, 511, 4096, 4097, 65536, 65537, 131072, MiB, MiB + 1]
    if rng.random() < 0.5:
        length = rng.choice([x for x in lengths if x <= maxlen] or [1])
    else:
        length = rng.randrange(1, maxlen + 1)
    return off, length, kind


def compare(where, got, want, off):
    if got == want:
        return None
    if len(got) != len(want):
        return "%s: pread at %d: got %d bytes, want %d" % (
            where, off, len(got), len(want))
    i = next(i for i in range(len(got)) if got[i] != want[i])
    return "%s: pread at %d: first wrong byte at %d" % (where, off, off + i)


def cmd_random(a):
    rng = random.Random(a.seed)
    with open(a.src, "rb") as f:
        src = f.read()
    size = len(src)
    st = os.stat(a.mnt)
    if st.st_size != size:
        print("random: %s: size %d, source %d" % (a.mnt, st.st_size, size))
        return 1
    fd = os.open(a.mnt, os.O_RDONLY)
    kinds = {}
    crossing = 0
    errors = []
    total = 0
    for n in range(a.count):
        if n % 25 == 0:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        if n and n % 200 == 0:
            os.close(fd)
            fd = os.open(a.mnt, os.O_RDONLY)
        off, length, kind = pick(rng, size, a.chunk)
        kinds[kind] = kinds.get(kind, 0) + 1
        end = min(size, off + length)
        if off < end and off // a.chunk != (end - 1) // a.chunk:
            crossing += 1
        try:
            got = os.pread(fd, length, off)
        except OSError as e:
            errors.append("%s: pread(%d, %d): %s" % (a.mnt, length, off, e))
            continue
        total += len(got)
        err = compare(a.mnt, got, src[off:off + length], off)
        if err:
            errors.append(err + " (length %d, %s)" % (length, kind))
    os.close(fd)
    print("random: %s: %d preads (%s), %d cross a %d-byte boundary, "
          "%d bytes, %d errors" % (
              os.path.basename(a.mnt), a.count,
              ", ".join("%s %d" % kv for kv in sorted(kinds.items())),
              crossing, a.chunk, total, len(errors)))
    for e in errors[:20]:
        print("random: BAD " + e, file=sys.stderr)
    if size > 2 * a.chunk and crossing < a.count // 10:
        print("random: only %d reads crossed a boundary" % crossing,
              file=sys.stderr)
        return 1
    return 1 if errors else 0


def cmd_mmap(a):
    rng = random.Random(a.seed)
    with open(a.src, "rb") as f:
        src = f.read()
    errors = []
    with open(a.mnt, "rb") as f:
        os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
        if not src:
            return 0
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            if len(m) != len(src):
                errors.append("mapping has %d bytes, want %d"
                              % (len(m), len(src)))
            elif m[:] != src:
                data = m[:]
                i = next(i for i in range(len(src)) if data[i] != src[i])
                errors.append("whole mapping: first wrong byte at %d" % i)
            os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
            m.madvise(mmap.MADV_DONTNEED)
            for _ in range(a.slices):
                off = rng.randrange(0, len(src))
                end = min(len(src), off + rng.randrange(1, 2 * MiB))
                if m[off:end] != src[off:end]:
                    errors.append("slice %d..%d differs" % (off, end))
    print("mmap: %s: %d bytes, %d errors" % (os.path.basename(a.mnt),
                                             len(src), len(errors)))
    for e in errors[:20]:
        print("mmap: BAD %s: %s" % (a.mnt, e), file=sys.stderr)
    return 1 if errors else 0


def worker(args):
    index, pairs, reads, chunk, seed = args
    rng = random.Random(seed * 1000 + index)
    drop = index % 2 == 0
    srcs = {}
    fds = {}
    errors = []
    nbytes = 0
    try:
        for _ in range(reads):
            mnt, src = rng.choice(pairs)
            if mnt not in fds:
                with open(src, "rb") as f:
                    srcs[mnt] = f.read()
                fds[mnt] = os.open(mnt, os.O_RDONLY)
            data = srcs[mnt]
            off, length, kind = pick(rng, len(data), chunk)
            if drop and rng.random() < 0.05:
                os.posix_fadvise(fds[mnt], 0, 0, os.POSIX_FADV_DONTNEED)
            try:
                got = os.pread(fds[mnt], length, off)
            except OSError as e:
                errors.append("%s: pread(%d, %d): %s" % (mnt, length, off, e))
                continue
            nbytes += len(got)
            err = compare(mnt, got, data[off:off + length], off)
            if err:
                errors.append(err)
    finally:
        for fd in fds.values():
            os.close(fd)
    return index, nbytes, errors


def cmd_concurrent(a):
    if len(a.files) % 2:
        print("concurrent: want MNTFILE SRCFILE pairs", file=sys.stderr)
        return 2
    pairs = list(zip(a.files[0::2], a.files[1::2]))
    work = [(i, pairs, a.reads, a.chunk, a.seed) for i in range(a.procs)]
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(a.procs) as pool:
        results = pool.map(worker, work, chunksize=1)
    errors = [e for _, _, errs in results for e in errs]
    nbytes = sum(n for _, n, _ in results)
    print("concurrent: %d processes x %d reads over %d files: %d bytes, "
          "%d errors" % (a.procs, a.reads, len(pairs), nbytes, len(errors)))
    for e in errors[:20]:
        print("concurrent: BAD " + e, file=sys.stderr)
    return 1 if errors else 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("random")
    p.add_argument("mnt")
    p.add_argument("src")
    p.add_argument("--count", type=int, default=2000)
    p.add_argument("--chunk", type=int, default=4 * MiB)
    p.add_argument("--seed", type=int, default=1)
    p = sub.add_parser("mmap")
    p.add_argument("mnt")
    p.add_argument("src")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--slices", type=int, default=200)
    p = sub.add_parser("concurrent")
    p.add_argument("--procs", type=int, default=16)
    p.add_argument("--reads", type=int, default=200)
    p.add_argument("--chunk", type=int, default=4 * MiB)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("files", nargs="+")
    a = ap.parse_args()
    return {"random": cmd_random, "mmap": cmd_mmap,
            "concurrent": cmd_concurrent}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
