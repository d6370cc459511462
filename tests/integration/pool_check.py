#!/usr/bin/env python3
"""Helpers of test_pool.sh, the alliance pool (standard library only).

usage:
  pool_check.py mksrc DIR
      DIR/src/<dataset>/... and DIR/datasets.json: a pool of three
      organisations (acme, beta, gamma) and the platform's own dataset,
      with a re-contribution of another's bytes, of the platform's and of
      an organisation's own (POOL below). Files are over a quarter of the
      64 KiB chunk size, so each is cut into 64 KiB pieces from offset 0
      and a copied file has the same chunks. Deterministic. A fourth
      organisation (delta) contributed only open data.
  pool_check.py expect REPO SRC JSON
      The ledger computed here, independently of aidata: files and bytes
      from the source tree, chunk digests and stored sizes from the
      catalogs' raw records (zstd -d + mdb_dump, FORMAT.md §5.4, §5.7),
      dataset ids and contributors from the root catalog (§5.8), a chunk
      credited to the lowest id that has it. Checks on the way that the
      root catalog's contributors are datasets.json's and that every
      dataset's chunks are exactly the 64 KiB pieces of its files.
      Prints the ledger as JSON (the fields aidata ledger --json has).
  pool_check.py compare EXPECTED ACTUAL
      Every figure of EXPECTED (pool_check.py expect) equals the one in
      ACTUAL (aidata ledger --json); the organisations and datasets are
      the same, in the same order.
  pool_check.py probe MNT DATASET...
      As the calling user: for every regular file of each dataset under
      MNT/datasets, open and read it; print "DATASET ok" when every file
      reads, "DATASET EACCES" when every open is refused with EACCES,
      else "DATASET mixed ..." with the first problems.
"""
import hashlib
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mount_tree import catalog_dump  # noqa: E402  (beside this file)

C = 64 << 10

# (dataset, contributor or None, tier, [(file, kind, size or source)])
# kind: "random" (seeded by the path), "text" (compressible), "copy"
# (the bytes of another dataset's file).
POOL = [
    ("a-law", "acme", "shared", [("r1.bin", "random", 100000),
                                 ("r2.bin", "random", 65536),
                                 ("notes.txt", "text", 200000)]),
    ("b-news", "beta", "shared", [("r3.bin", "random", 70000),
                                  ("mirror/r1.bin", "copy", "a-law/r1.bin")]),
    ("c-open", None, "open", [("r4.bin", "random", 30000)]),
    ("d-gamma", "gamma", "shared", [("r4.bin", "copy", "c-open/r4.bin"),
                                    ("r5.bin", "random", 20000)]),
    ("e-acme2", "acme", "shared", [("r2.bin", "copy", "a-law/r2.bin"),
                                   ("r6.bin", "random", 40000)]),
    ("f-beta", "beta", "open", [("r7.bin", "random", 50000)]),
    ("g-vault", "gamma", "secure", [("r8.bin", "random", 30000)]),
    ("h-delta", "delta", "open", [("r9.bin", "random", 20000)]),
]


def mksrc(top):
    src = os.path.join(top, "src")
    made = {}
    entries = []
    for name, org, tier, files in POOL:
        for rel, kind, arg in files:
            if kind == "random":
                data = random.Random("pool:%s/%s" % (name, rel)).randbytes(arg)
            elif kind == "text":
                line = b"clause 7.2: the member shall keep the records.\n"
                data = (line * (arg // len(line) + 1))[:arg]
            else:
                data = made[arg]
            made["%s/%s" % (name, rel)] = data
            path = os.path.join(src, name, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
        entry = {"name": name, "industry": "law", "modality": "text",
                 "tier": tier, "license": "CC-BY-4.0",
                 "description": "pool test dataset " + name}
        if org:
            entry["contributor"] = org
        entries.append(entry)
    with open(os.path.join(top, "datasets.json"), "w") as f:
        json.dump({"datasets": entries}, f, indent=1)


def root_digest(repo):
    with open(os.path.join(repo, "manifest")) as f:
        for line in f:
            if line.startswith("root-catalog "):
                return line.split()[1]
    sys.exit("expect: no root-catalog line in the manifest")


def le(hexstr, start, size):
    return int.from_bytes(bytes.fromhex(hexstr)[start:start + size], "little")


def source_files(path):
    out = []
    for dirpath, _, names in os.walk(path):
        for n in names:
            p = os.path.join(dirpath, n)
            if os.path.isfile(p) and not os.path.islink(p):
                out.append(p)
    return sorted(out)


def expect(repo, src, json_path):
    want_org = {d["name"]: d.get("contributor")
                for d in json.load(open(json_path))["datasets"]}
    root = catalog_dump(repo, root_digest(repo))
    contributors = {bytes.fromhex(k).decode(): bytes.fromhex(v).decode()
                    for k, v in root.get("contributors", [])}
    if contributors != {k: v for k, v in want_org.items() if v}:
        sys.exit("expect: the root catalog's contributors %r are not "
                 "datasets.json's %r" % (contributors, want_org))
    datasets = []
    for key, value in root["datasets"]:
        name = bytes.fromhex(key).decode()
        tier = ["open", "shared", "secure"][le(value, 4, 1)]
        catalog = bytes.fromhex(value)[21:53].hex()
        files = source_files(os.path.join(src, name))
        pieces = set()
        for p in files:
            data = open(p, "rb").read()
            for off in range(0, len(data), C):
                pieces.add(hashlib.sha256(data[off:off + C]).hexdigest())
        chunks = {}
        for _, rec in catalog_dump(repo, catalog).get("chunks", []):
            chunks[rec[:64]] = le(rec, 72, 4)
        if set(chunks) != pieces:
            sys.exit("expect: dataset %s: its chunks are not the 64 KiB "
                     "pieces of its files" % name)
        if le(value, 5, 8) != len(files) or \
                le(value, 13, 8) != sum(os.path.getsize(p) for p in files):
            sys.exit("expect: dataset %s: the root record's files/bytes "
                     "are not the source's" % name)
        datasets.append({"name": name, "id": le(value, 0, 4), "tier": tier,
                         "contributor": contributors.get(name),
                         "files": len(files),
                         "bytes": sum(os.path.getsize(p) for p in files),
                         "chunks": len(chunks),
                         "stored": sum(chunks.values()), "_chunks": chunks})
    datasets.sort(key=lambda d: d["id"])
    seen = set()
    for d in datasets:
        new = {c: s for c, s in d.pop("_chunks").items() if c not in seen}
        seen.update(new)
        d["credited_chunks"] = len(new)
        d["credited"] = sum(new.values())
    orgs = {}
    for d in datasets:
        if d["contributor"]:
            orgs.setdefault(d["contributor"], []).append(d)
    out = {"pool": {"chunks": sum(d["credited_chunks"] for d in datasets),
                    "stored": sum(d["credited"] for d in datasets),
                    "unattributed": sum(d["credited"] for d in datasets
                                        if not d["contributor"])},
           "organisations": [], "no_contributor": []}
    for org in sorted(orgs, key=lambda o: o.encode()):
        ds = orgs[org]
        out["organisations"].append({
            "name": org,
            "datasets": [{k: v for k, v in d.items() if k != "contributor"}
                         for d in ds],
            "files": sum(d["files"] for d in ds),
            "bytes": sum(d["bytes"] for d in ds),
            "stored": sum(d["stored"] for d in ds),
            "contributed": sum(d["credited"] for d in ds)})
    out["no_contributor"] = [{k: v for k, v in d.items() if k != "contributor"}
                             for d in datasets if not d["contributor"]]
    print(json.dumps(out, indent=1))


def compare(want, got, where="ledger"):
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return ["%s: %r is not an object" % (where, got)]
        bad = []
        for k, v in want.items():
            if k not in got:
                bad.append("%s.%s: missing" % (where, k))
            else:
                bad += compare(v, got[k], "%s.%s" % (where, k))
        return bad
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return ["%s: %r has not %d entries" % (where, got, len(want))]
        bad = []
        for i, (w, g) in enumerate(zip(want, got)):
            bad += compare(w, g, "%s[%d]" % (where, i))
        return bad
    return [] if want == got else ["%s: %r, expected %r" % (where, got, want)]


def probe(mnt, names):
    for name in names:
        results = {}
        for p in source_files(os.path.join(mnt, "datasets", name)):
            try:
                with open(p, "rb") as f:
                    while f.read(1 << 20):
                        pass
                results[p] = "ok"
            except OSError as e:
                results[p] = "EACCES" if e.errno == 13 else \
                    "errno %d" % e.errno
        kinds = set(results.values())
        if len(kinds) == 1:
            print(name, kinds.pop())
        else:
            print(name, "mixed", sorted(results.items())[:3])


def main(argv):
    if len(argv) == 2 and argv[0] == "mksrc":
        mksrc(argv[1])
    elif len(argv) == 4 and argv[0] == "expect":
        expect(*argv[1:])
    elif len(argv) == 3 and argv[0] == "compare":
        bad = compare(json.load(open(argv[1])), json.load(open(argv[2])))
        for b in bad:
            print(b, file=sys.stderr)
        return 1 if bad else 0
    elif len(argv) >= 2 and argv[0] == "probe":
        probe(argv[1], argv[2:])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
