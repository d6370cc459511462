"""Check a job data receipt (docs/RECEIPT.md) against what the job read.

    receipt_check.py RECEIPT SRC DATASETS_JSON CGROUP [--bytes-exact] \
        [--empty] [--resets N] REL...

RECEIPT: the receipt JSON file. SRC: the source tree the repository was
packed from; DATASETS_JSON: its datasets file. CGROUP: the cgroup the
receipt must name. REL...: the files (DATASET/PATH) the job opened; the
receipt must list exactly these, grouped by exactly their datasets,
each with the source file's SHA-256 and size, its dataset's tier and
license. --bytes-exact: each dataset's bytes_served is the sum of its
files' sizes (a cold mount, each file read once). --empty: the receipt
lists no dataset. Standard library only.
"""
import hashlib
import json
import os
import sys


def fail(msg):
    sys.exit("receipt_check: " + msg)


def main():
    args = sys.argv[1:]
    bytes_exact = "--bytes-exact" in args
    empty = "--empty" in args
    resets = None
    if "--resets" in args:
        i = args.index("--resets")
        resets = int(args[i + 1])
        del args[i:i + 2]
    args = [a for a in args if a not in ("--bytes-exact", "--empty")]
    receipt_file, src, datasets_json, cgroup = args[:4]
    rels = args[4:]
    with open(receipt_file, encoding="utf-8") as f:
        doc = json.load(f)
    r = doc["receipt"]
    if r.get("format") != "aidatafs-receipt/1":
        fail("format is %r" % r.get("format"))
    if r["cgroup"] != cgroup:
        fail("cgroup is %r, expected %r" % (r["cgroup"], cgroup))
    if resets is not None and r["resets"] != resets:
        fail("resets is %r, expected %r" % (r["resets"], resets))
    meta = {d["name"]: d for d in json.load(open(datasets_json))["datasets"]}
    if empty:
        if r["datasets"]:
            fail("expected no dataset, got %s"
                 % [d["name"] for d in r["datasets"]])
        return
    want = {}
    for rel in rels:
        want.setdefault(rel.split("/", 1)[0], set()).add(rel)
    got_names = sorted(d["name"] for d in r["datasets"])
    if got_names != sorted(want):
        fail("datasets %s, expected %s" % (got_names, sorted(want)))
    for d in r["datasets"]:
        name = d["name"]
        for key in ("tier", "license", "industry", "modality"):
            if d[key] != meta[name][key]:
                fail("%s: %s is %r, expected %r"
                     % (name, key, d[key], meta[name][key]))
        if len(d["catalog"]) != 64:
            fail("%s: no catalog digest" % name)
        paths = set()
        total = 0
        for f in d["files"]:
            if not f["path"].startswith("/datasets/"):
                fail("%s: path %r is not canonical" % (name, f["path"]))
            rel = f["path"][len("/datasets/"):]
            paths.add(rel)
            data = open(os.path.join(src, rel), "rb").read()
            if f["sha256"] != hashlib.sha256(data).hexdigest():
                fail("%s: wrong sha256" % rel)
            if f["size"] != len(data):
                fail("%s: size %d, expected %d" % (rel, f["size"], len(data)))
            if f["opens"] < 1:
                fail("%s: opens %r" % (rel, f["opens"]))
            total += len(data)
        if paths != want[name]:
            fail("%s: files %s, expected %s"
                 % (name, sorted(paths), sorted(want[name])))
        if d["files_listed"] != len(paths) or d["files_truncated"]:
            fail("%s: files_listed %r, truncated %r"
                 % (name, d["files_listed"], d["files_truncated"]))
        if d["opens"] < len(paths):
            fail("%s: %d opens for %d files" % (name, d["opens"], len(paths)))
        if bytes_exact and d["bytes_served"] != total:
            fail("%s: bytes_served %d, expected %d"
                 % (name, d["bytes_served"], total))


if __name__ == "__main__":
    main()
