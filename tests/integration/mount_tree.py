#!/usr/bin/env python3
"""Small inspection helpers for the mount tests (standard library only).

usage:
  mount_tree.py meta ROOT [--ro]
      One line per entry below ROOT, sorted by path:
        PATH TYPE SIZE MTIME_NS MODE NLINK [-> TARGET]
      (paths are repr()-quoted). --ro gives the modes the mount shows
      for a source tree: directories 0555, files 0444 (0555 if any x
      bit is set). Symlinks show mode "-".
  mount_tree.py xattrs PATH
      listxattr + getxattr of PATH (not following a final symlink):
        NAME=VALUE   one line per attribute, sorted (value repr()-quoted
      when it is not printable UTF-8).
  mount_tree.py prom FILE
      Check that FILE is Prometheus text exposition: every line is empty,
      "# HELP name text", "# TYPE name counter|gauge|...", or
      "name{labels} value"; every sample's name has a TYPE line before it;
      no (name, labels) appears twice. Prints "name{labels} value" lines.
  mount_tree.py repomap REPO
      Which catalog and shards each dataset of REPO's current revision
      uses, read from the catalogs themselves (zstd -d + mdb_dump, whose
      hex dump shows the raw digests the records hold):
        DATASET CATALOG_HEX SHARD_HEX[,SHARD_HEX...]
"""
import os
import re
import stat
import subprocess
import sys
import tempfile


def meta(root, ro):
    rows = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            rel = os.path.relpath(path, root)
            fmt = stat.S_IFMT(st.st_mode)
            kind = {stat.S_IFDIR: "d", stat.S_IFREG: "f",
                    stat.S_IFLNK: "l"}.get(fmt, "o")
            mode = stat.S_IMODE(st.st_mode)
            if ro:
                mode = 0o555 if kind == "d" or mode & 0o111 else 0o444
            line = "%r %s %d %d %s %d" % (
                rel, kind, st.st_size, st.st_mtime_ns,
                "-" if kind == "l" else "%04o" % mode, st.st_nlink)
            if kind == "l":
                line += " -> %r" % os.readlink(path)
            rows.append((rel, line))
    rows.sort()
    for _, line in rows:
        print(line)


def xattrs(path):
    names = os.listxattr(path, follow_symlinks=False)
    for name in sorted(names):
        value = os.getxattr(path, name, follow_symlinks=False)
        try:
            text = value.decode("utf-8")
            if not text.isprintable():
                raise ValueError
        except ValueError:
            text = repr(value)
        print("%s=%s" % (name, text))


PROM_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
PROM_LABELS = r'\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"' \
              r'(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*,?)?\}'
PROM_VALUE = r"(?:[+-]?(?:[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?" \
             r"|Inf|NaN))"
SAMPLE = re.compile(r"^(%s)(%s)? (%s)(?: -?[0-9]+)?$"
                    % (PROM_NAME, PROM_LABELS, PROM_VALUE))
HELP = re.compile(r"^# HELP (%s) .*$" % PROM_NAME)
TYPE = re.compile(r"^# TYPE (%s) (counter|gauge|histogram|summary|untyped)$"
                  % PROM_NAME)


def prom(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if text and not text.endswith("\n"):
        sys.exit("prom: %s: does not end with a newline" % path)
    typed = set()
    seen = set()
    samples = 0
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if line == "":
            continue
        if line.startswith("#"):
            m = TYPE.match(line)
            if m:
                typed.add(m.group(1))
                continue
            if HELP.match(line):
                continue
            sys.exit("prom: %s:%d: bad comment line %r" % (path, n, line))
        m = SAMPLE.match(line)
        if not m:
            sys.exit("prom: %s:%d: not 'name{labels} value': %r"
                     % (path, n, line))
        if m.group(1) not in typed:
            sys.exit("prom: %s:%d: %s has no # TYPE line before it"
                     % (path, n, m.group(1)))
        key = (m.group(1), m.group(2) or "")
        if key in seen:
            sys.exit("prom: %s:%d: duplicate sample %s%s"
                     % (path, n, key[0], key[1]))
        seen.add(key)
        samples += 1
        print("%s%s %s" % (m.group(1), m.group(2) or "", m.group(3)))
    if samples == 0:
        sys.exit("prom: %s: no samples" % path)


def catalog_dump(repo, digest):
    """mdb_dump -a of the catalog object: {database: [(key, value)]}."""
    with tempfile.TemporaryDirectory() as tmp:
        mdb = os.path.join(tmp, "c.mdb")
        with open(mdb, "wb") as out:
            subprocess.run(["zstd", "-dcq", os.path.join(repo, "catalog",
                                                         digest)],
                           stdout=out, check=True)
        text = subprocess.run(["mdb_dump", "-n", "-a", mdb], check=True,
                              stdout=subprocess.PIPE,
                              universal_newlines=True).stdout
    dbs = {}
    db = None
    pending = None
    for line in text.split("\n"):
        if line.startswith("database="):
            db = line[len("database="):]
            dbs.setdefault(db, [])
        elif line.startswith(" "):
            if pending is None:
                pending = line[1:]
            else:
                dbs.setdefault(db, []).append((pending, line[1:]))
                pending = None
        elif line == "DATA=END":
            pending = None
    return dbs


def repomap(repo):
    with open(os.path.join(repo, "manifest")) as f:
        root = re.search(r"^root-catalog ([0-9a-f]{64})$", f.read(),
                         re.M).group(1)
    catalogs = set(os.listdir(os.path.join(repo, "catalog")))
    shards = set()
    for sub in os.listdir(os.path.join(repo, "data")):
        shards.update(os.listdir(os.path.join(repo, "data", sub)))
    for key, value in catalog_dump(repo, root).get("datasets", []):
        name = bytes.fromhex(key).decode("utf-8")
        found = [c for c in catalogs if c in value]
        if len(found) != 1:
            sys.exit("repomap: dataset %r: %d catalog digests in its record"
                     % (name, len(found)))
        text = "".join(v for pairs in catalog_dump(repo, found[0]).values()
                       for k, v in pairs)
        used = sorted(s for s in shards if s in text)
        if not used:
            sys.exit("repomap: dataset %r: no shard digest in its catalog"
                     % name)
        print("%s %s %s" % (name, found[0], ",".join(used)))


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "meta":
        meta(sys.argv[2], "--ro" in sys.argv[3:])
    elif len(sys.argv) == 3 and sys.argv[1] == "xattrs":
        xattrs(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "prom":
        prom(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "repomap":
        repomap(sys.argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
