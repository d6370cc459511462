#!/usr/bin/env python3
"""Read one whole file, timed, and say how it went.

usage: mount_tryread.py MNTFILE [SRCFILE]

Drops the file's page cache first (posix_fadvise DONTNEED), then reads it
to the end. Prints one line:
  ok SECONDS              every byte equal to SRCFILE (if given)
  errno N NAME SECONDS    open or read failed with errno N
  mismatch SECONDS        the bytes differ from SRCFILE
Exit status 0 for ok, 1 otherwise.
"""
import errno
import os
import sys
import time


def main():
    path = sys.argv[1]
    src = sys.argv[2] if len(sys.argv) > 2 else None
    start = time.monotonic()
    data = bytearray()
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            while True:
                b = os.read(fd, 1 << 20)
                if not b:
                    break
                data += b
        finally:
            os.close(fd)
    except OSError as e:
        print("errno %d %s %.2f" % (e.errno, errno.errorcode.get(e.errno, "?"),
                                    time.monotonic() - start))
        return 1
    took = time.monotonic() - start
    if src is not None:
        with open(src, "rb") as f:
            if f.read() != bytes(data):
                print("mismatch %.2f" % took)
                return 1
    print("ok %.2f" % took)
    return 0


if __name__ == "__main__":
    sys.exit(main())
