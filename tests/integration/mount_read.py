#!/usr/bin/env python3
"""Read files through an aidatafs mount and compare them with the source.

usage: mount_read.py MNT SRC [options]

Every regular file below SRC (or the ones named with --files) is read in
full through MNT/<same relative path> and compared with SRC/<path>. Each
file ends up as one of:
  ok        every byte equal
  eio       the read failed with EIO (bytes returned before were equal)
  mismatch  the mount returned bytes that differ from the source
  error     any other failure (errno given)

Options:
  --files LIST     read only the relative paths listed in LIST (one a line)
  --jobs N         parallel reader processes (default 1)
  --expect MODE    all-ok (default): every file ok;
                   no-mismatch: ok or eio, never wrong bytes;
                   no-wrong-bytes: any error allowed, never wrong bytes
  --drop-cache     posix_fadvise(DONTNEED) each mount file before reading,
                   so the bytes come from the daemon, not the page cache
  --report FILE    write "STATUS PATH [detail]" lines, sorted by path
  --block N        read size (default 1 MiB)

Exit status 0 when every file meets --expect, 1 otherwise (the offending
files are printed), 2 on bad usage.
"""
import argparse
import errno
import hashlib
import multiprocessing
import os
import sys


def source_files(src):
    out = []
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            if os.path.isfile(path) and not os.path.islink(path):
                out.append(os.path.relpath(path, src))
    return out


def check_one(args):
    mnt, src, rel, block, drop = args
    try:
        with open(os.path.join(src, rel), "rb") as f:
            want = f.read()
    except OSError as e:
        return ("error", rel, "source: %s" % e)
    pos = 0
    try:
        fd = os.open(os.path.join(mnt, rel), os.O_RDONLY)
    except OSError as e:
        kind = "eio" if e.errno == errno.EIO else "error"
        return (kind, rel, "open: %s" % os.strerror(e.errno))
    try:
        if drop:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        while True:
            try:
                data = os.read(fd, block)
            except OSError as e:
                kind = "eio" if e.errno == errno.EIO else "error"
                return (kind, rel, "read at %d: %s (errno %d)"
                        % (pos, os.strerror(e.errno), e.errno))
            if not data:
                break
            if data != want[pos:pos + len(data)]:
                bad = next(i for i in range(len(data))
                           if pos + i >= len(want)
                           or data[i] != want[pos + i])
                return ("mismatch", rel, "first wrong byte at %d"
                        % (pos + bad))
            pos += len(data)
    finally:
        os.close(fd)
    if pos != len(want):
        return ("mismatch", rel, "got %d bytes, want %d" % (pos, len(want)))
    return ("ok", rel, hashlib.sha256(want).hexdigest()[:16])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mnt")
    ap.add_argument("src")
    ap.add_argument("--files")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--expect", default="all-ok",
                    choices=["all-ok", "no-mismatch", "no-wrong-bytes"])
    ap.add_argument("--drop-cache", action="store_true")
    ap.add_argument("--report")
    ap.add_argument("--block", type=int, default=1 << 20)
    a = ap.parse_args()

    if a.files:
        with open(a.files) as f:
            files = [line.rstrip("\n") for line in f if line.strip()]
    else:
        files = source_files(a.src)
    work = [(a.mnt, a.src, rel, a.block, a.drop_cache) for rel in files]
    if a.jobs > 1:
        with multiprocessing.Pool(a.jobs) as pool:
            results = pool.map(check_one, work, chunksize=1)
    else:
        results = [check_one(w) for w in work]
    results.sort(key=lambda r: r[1])

    allowed = {"all-ok": {"ok"}, "no-mismatch": {"ok", "eio"},
               "no-wrong-bytes": {"ok", "eio", "error"}}[a.expect]
    counts = {}
    bad = []
    for kind, rel, detail in results:
        counts[kind] = counts.get(kind, 0) + 1
        if kind not in allowed:
            bad.append("%s %s %s" % (kind, rel, detail))
    if a.report:
        with open(a.report, "w") as f:
            for kind, rel, detail in results:
                f.write("%s %s %s\n" % (kind, rel, detail))
    print("mount_read: %d files: %s" % (len(results), ", ".join(
        "%s %d" % (k, counts[k]) for k in sorted(counts))))
    for line in bad[:50]:
        print("mount_read: BAD " + line, file=sys.stderr)
    if len(bad) > 50:
        print("mount_read: ... and %d more" % (len(bad) - 50),
              file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
