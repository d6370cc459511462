#!/usr/bin/env python3
"""Hold a file open across a revision switch.

usage: mount_hold.py MNTFILE OLDCOPY READY GO RESULT [--first N]

Opens MNTFILE, reads its first N bytes (default 1 MiB) and checks them
against OLDCOPY, then creates READY and waits (at most 300 s) for GO to
exist. Then, through the same descriptor, drops the page cache and reads
the whole file from offset 0 until EOF, and writes to RESULT either
"ok SIZE" (every byte equals OLDCOPY, and nothing beyond it) or
"bad DETAIL". Exit status 0 if ok.
"""
import argparse
import os
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mnt")
    ap.add_argument("old")
    ap.add_argument("ready")
    ap.add_argument("go")
    ap.add_argument("result")
    ap.add_argument("--first", type=int, default=1 << 20)
    a = ap.parse_args()

    with open(a.old, "rb") as f:
        old = f.read()

    def done(text):
        with open(a.result, "w") as f:
            f.write(text + "\n")
        return 0 if text.startswith("ok") else 1

    fd = os.open(a.mnt, os.O_RDONLY)
    try:
        first = os.pread(fd, a.first, 0)
        if first != old[:a.first]:
            open(a.ready, "w").close()
            return done("bad the first %d bytes already differ" % a.first)
        open(a.ready, "w").close()
        end = time.monotonic() + 300
        while not os.path.exists(a.go):
            if time.monotonic() > end:
                return done("bad no go signal within 300 s")
            time.sleep(0.05)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        data = bytearray()
        while True:
            try:
                b = os.pread(fd, 1 << 20, len(data))
            except OSError as e:
                return done("bad pread at %d: %s" % (len(data), e))
            if not b:
                break
            data += b
        if bytes(data) == old:
            return done("ok %d" % len(data))
        if len(data) != len(old):
            return done("bad read %d bytes, the old file has %d"
                        % (len(data), len(old)))
        i = next(i for i in range(len(old)) if data[i] != old[i])
        return done("bad first difference from the old file at %d" % i)
    finally:
        os.close(fd)


if __name__ == "__main__":
    sys.exit(main())
