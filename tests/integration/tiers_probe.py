#!/usr/bin/env python3
"""Helpers of the tier-enforcement tests (test_tiers*.sh,
test_secure_plaintext.sh). Standard library only; some subcommands run as
an unprivileged user (via runuser), so they never touch the source tree.

  mksrc DIR
      A small platform source: DIR/src/<dataset>/... and DIR/datasets.json
      with one open, two shared and one secure dataset (TIERS below). Every
      file of the secure dataset contains AIDATA-SECURE-PLAINTEXT-<ds>-<n>.

  probe MNT DATASET...                                   (run as the user)
      For every regular file below MNT/datasets/DATASET: the value of the
      xattr user.aidata.access, os.access(R_OK), and open + read to the end
      (sha256 of the bytes, or the errno name). One JSON line per file,
      after a first line {"pid", "uid", "comm"}.

  verify PROBE SRC EXPECT LABEL GETFATTR MNT
      Check a probe's output against the source tree and EXPECT (a JSON
      object: dataset -> expected reason string). For each file of each
      dataset of EXPECT: the xattr equals the reason, as read by the probe
      and as printed by `getfattr --absolute-names -n user.aidata.access`
      (its output in GETFATTR, for files MNT/datasets/...); open succeeds
      (with the source's bytes) exactly when the reason is "granted", else
      fails with EACCES; access(R_OK) agrees. Mismatches to stderr, exit 1.

  open MNT RELPATH...                                    (run as the user)
      Open (and read) each MNT/RELPATH in this one process. Prints a JSON
      line {"pid", "uid", "comm", "t0", "t1"} then one per file
      {"path": "/RELPATH", "ok": bool, "errno": NAME|null}.

  audit-check AUDITLOG SKIP DATASETS_JSON RUNS T0 T1
      The audit records after the first SKIP lines of AUDITLOG must be
      exactly one per shared/secure open listed in RUNS (none for open
      datasets), with every field right. RUNS has one line per `open` run:
      OUTFILE<TAB>UID<TAB>JTI or -<TAB>EXPECT (dataset -> reason, JSON).
      T0/T1: unix seconds bounding the runs.

  windows OUTDIR COUNT SEED [--public PATH]... SRCROOT FILE...
      Pick COUNT non-overlapping 32-byte windows at random offsets of each
      FILE (secure plaintext): OUTDIR/windows.hex (every window, hex,
      "FILE OFFSET HEX"), OUTDIR/grep.pat (those without newline or NUL,
      one per line, for grep -F -f) and OUTDIR/grep-<n>.pat per FILE (n:
      its index). Only windows that are secret are taken: at least 12
      distinct byte values (no runs of zeros or padding, which any binary
      file has); not found in a file below SRCROOT that is not a FILE, nor
      in a --public PATH (file or directory); and sharing no 10 bytes with
      the names below SRCROOT or the strings of a --public JSON file (e.g.
      the datasets.json whose descriptions the catalogs carry). Names,
      descriptions and public data may rightly appear in catalogs, logs
      (as JSON, quoted, ...) and the cache.

  search WINDOWS_HEX [--expect-all] PATH...
      Look for every window of WINDOWS_HEX in every regular file below the
      PATHs (raw bytes, any alignment). Without --expect-all: print each
      hit and exit 1 if there is one. With --expect-all (the control):
      exit 1 unless every window is found somewhere.
"""
import datetime
import errno
import hashlib
import json
import os
import random
import sys

# name, tier, industry, modality
TIERS = [
    ("open-text", "open", "education", "text"),
    ("shared-granted", "shared", "finance", "text"),
    ("shared-other", "shared", "government", "image"),
    ("secure-med", "secure", "medicine", "instruction"),
]

WINDOW = 32


def _text(rng, n):
    words = ("alpha", "beta", "gamma", "delta", "ledger", "patient",
             "hearing", "quarter", "lecture", "sample", "model", "token")
    return " ".join(rng.choice(words) for _ in range(n))


def mksrc(out):
    src = os.path.join(out, "src")
    datasets = []
    for name, tier, industry, modality in TIERS:
        rng = random.Random(name)
        files = {
            "README.md": "# %s\n\n%s\n" % (name, _text(rng, 40)),
            "part/data-0001.jsonl": "",
            "part/deep/data-0002.txt": "",
        }
        for rel in ("part/data-0001.jsonl", "part/deep/data-0002.txt"):
            lines = []
            for i in range(60 + rng.randrange(60)):
                lines.append(json.dumps({"id": i, "text": _text(rng, 12)}))
            files[rel] = "\n".join(lines) + "\n"
        n = 0
        for rel in sorted(files):
            body = files[rel]
            if tier == "secure":
                # markers spread through the file
                parts = body.split("\n")
                for k in range(0, len(parts), 7):
                    n += 1
                    parts[k] += " AIDATA-SECURE-PLAINTEXT-%s-%d" % (name, n)
                body = "\n".join(parts)
            path = os.path.join(src, name, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(body)
        entry = {"name": name, "industry": industry,
                 "modality": modality, "tier": tier,
                 "license": "CC-BY-4.0",
                 "description": "tier test dataset " + name}
        if tier == "shared":  # the packer requires who contributed it
            entry["contributor"] = "tiers-test"
        datasets.append(entry)
    with open(os.path.join(out, "datasets.json"), "w") as f:
        json.dump({"datasets": datasets}, f, indent=1)
    return 0


def _comm():
    with open("/proc/self/comm") as f:
        return f.read().strip()


def _errname(e):
    return errno.errorcode.get(e.errno, str(e.errno))


def probe(mnt, names):
    print(json.dumps({"pid": os.getpid(), "uid": os.getuid(),
                      "comm": _comm()}))
    for ds in names:
        top = os.path.join(mnt, "datasets", ds)
        for root, dirs, files in os.walk(top):
            dirs.sort()
            for fn in sorted(files):
                p = os.path.join(root, fn)
                rec = {"dataset": ds, "rel": os.path.relpath(p, top)}
                try:
                    rec["xattr"] = os.getxattr(
                        p, "user.aidata.access").decode("utf-8", "replace")
                except OSError as e:
                    rec["xattr"] = "error " + _errname(e)
                rec["access"] = os.access(p, os.R_OK)
                try:
                    with open(p, "rb") as f:
                        data = f.read()
                    rec["open"] = "ok"
                    rec["sha256"] = hashlib.sha256(data).hexdigest()
                except OSError as e:
                    rec["open"] = _errname(e)
                print(json.dumps(rec))
    return 0


def _getfattr_values(path, mnt):
    """{(dataset, rel): value} from getfattr's text output."""
    out = {}
    cur = None
    prefix = os.path.join(mnt, "datasets") + "/"
    with open(path, "rb") as f:
        for line in f.read().decode("utf-8", "replace").splitlines():
            if line.startswith("# file: "):
                p = line[len("# file: "):]
                cur = None
                if p.startswith(prefix):
                    ds, _, rel = p[len(prefix):].partition("/")
                    cur = (ds, rel)
            elif cur and line.startswith('user.aidata.access="') and \
                    line.endswith('"'):
                out[cur] = line[len('user.aidata.access="'):-1]
    return out


def verify(probe_out, src, expect_json, label, getfattr_out, mnt):
    expect = json.loads(expect_json)
    gf = _getfattr_values(getfattr_out, mnt)
    with open(probe_out) as f:
        lines = [json.loads(x) for x in f if x.strip()]
    head, recs = lines[0], lines[1:]
    got = {(r["dataset"], r["rel"]): r for r in recs}
    bad = []
    cells = 0
    for ds, reason in sorted(expect.items()):
        top = os.path.join(src, ds)
        want_files = []
        for root, dirs, files in os.walk(top):
            for fn in files:
                want_files.append(os.path.relpath(os.path.join(root, fn),
                                                  top))
        if not want_files:
            bad.append("%s: no source files for dataset %s" % (label, ds))
        for rel in sorted(want_files):
            cells += 1
            where = "%s: uid %s %s/%s" % (label, head["uid"], ds, rel)
            r = got.pop((ds, rel), None)
            if r is None:
                bad.append("%s: not seen in the mount" % where)
                continue
            if r["xattr"] != reason:
                bad.append("%s: user.aidata.access is %r, expected %r"
                           % (where, r["xattr"], reason))
            if gf.get((ds, rel)) != reason:
                bad.append("%s: getfattr says %r, expected %r"
                           % (where, gf.get((ds, rel)), reason))
            if reason == "granted":
                if r["open"] != "ok":
                    bad.append("%s: open failed with %s, expected success"
                               % (where, r["open"]))
                else:
                    with open(os.path.join(top, rel), "rb") as f:
                        want = hashlib.sha256(f.read()).hexdigest()
                    if r["sha256"] != want:
                        bad.append("%s: bytes read differ from the source"
                                   % where)
                if not r["access"]:
                    bad.append("%s: access(R_OK) refused, expected granted"
                               % where)
            else:
                if r["open"] != "EACCES":
                    bad.append("%s: open gave %s, expected EACCES (%s)"
                               % (where, r["open"], reason))
                if r["access"]:
                    bad.append("%s: access(R_OK) succeeded, expected EACCES "
                               "(%s)" % (where, reason))
    for (ds, rel) in sorted(got):
        if ds in expect:
            bad.append("%s: %s/%s in the mount but not in the source"
                       % (label, ds, rel))
    for b in bad:
        print("MISMATCH " + b, file=sys.stderr)
    print("%s: uid %s: %d cells, %d mismatches"
          % (label, head["uid"], cells, len(bad)))
    return 1 if bad else 0


def open_files(mnt, rels):
    t0 = datetime.datetime.now(datetime.timezone.utc).timestamp()
    out = []
    for rel in rels:
        rec = {"path": "/" + rel.lstrip("/"), "ok": False, "errno": None}
        try:
            with open(os.path.join(mnt, rel), "rb") as f:
                f.read(64)
            rec["ok"] = True
        except OSError as e:
            rec["errno"] = _errname(e)
        out.append(rec)
    t1 = datetime.datetime.now(datetime.timezone.utc).timestamp()
    print(json.dumps({"pid": os.getpid(), "uid": os.getuid(),
                      "comm": _comm(), "t0": t0, "t1": t1}))
    for rec in out:
        print(json.dumps(rec))
    return 0


def _parse_time(s):
    # "2025-01-02T03:04:05.678Z"
    if not s.endswith("Z") or len(s) != 24:
        raise ValueError("not YYYY-MM-DDTHH:MM:SS.mmmZ: %r" % s)
    dt = datetime.datetime.strptime(s[:-1], "%Y-%m-%dT%H:%M:%S.%f")
    return dt.replace(tzinfo=datetime.timezone.utc).timestamp()


def audit_check(log, skip, datasets_json, runs, t0, t1):
    t0, t1, skip = float(t0), float(t1), int(skip)
    with open(datasets_json) as f:
        tiers = {d["name"]: d["tier"] for d in json.load(f)["datasets"]}
    with open(log, "rb") as f:
        raw = f.read()
    bad = []
    if raw and not raw.endswith(b"\n"):
        bad.append("audit log does not end with a newline")
    lines = raw.decode("utf-8").splitlines()[skip:]
    records = []
    for i, line in enumerate(lines):
        try:
            o = json.loads(line)
            if not isinstance(o, dict):
                raise ValueError("not an object")
        except ValueError as e:
            bad.append("audit line %d is not a JSON object (%s): %r"
                       % (skip + i + 1, e, line))
            continue
        records.append(o)
    # what each open must have produced
    wanted = []
    opens_total = opens_open_tier = 0
    with open(runs) as f:
        for spec in f:
            if not spec.strip():
                continue
            outfile, uid, jti, expect = spec.rstrip("\n").split("\t")
            expect = json.loads(expect)
            with open(outfile) as g:
                rl = [json.loads(x) for x in g if x.strip()]
            head = rl[0]
            if str(head["uid"]) != uid:
                bad.append("%s: ran as uid %s, expected %s"
                           % (outfile, head["uid"], uid))
            for r in rl[1:]:
                opens_total += 1
                ds = r["path"].split("/")[2]
                reason = expect[ds]
                granted = reason == "granted"
                if r["ok"] != granted or (not granted and
                                          r["errno"] != "EACCES"):
                    bad.append("%s: open of %s by uid %s: ok=%s errno=%s, "
                               "expected %s" % (outfile, r["path"], uid,
                                                r["ok"], r["errno"], reason))
                if tiers[ds] == "open":
                    opens_open_tier += 1
                    continue
                wanted.append({
                    "uid": int(uid), "pid": head["pid"],
                    "process": head["comm"], "path": r["path"],
                    "dataset": ds, "tier": tiers[ds],
                    "decision": "granted" if granted else "denied",
                    "reason": reason, "jti": None if jti == "-" else jti,
                })
    keys = ("uid", "pid", "process", "path", "dataset", "tier", "decision",
            "reason", "jti")
    for rec in records:
        extra = set(rec) - set(keys) - {"time"}
        missing = (set(keys) | {"time"}) - set(rec)
        if extra or missing:
            bad.append("audit record fields: missing %s, unexpected %s: %s"
                       % (sorted(missing), sorted(extra), rec))
        try:
            t = _parse_time(rec.get("time", ""))
            if not t0 - 1.0 <= t <= t1 + 1.0:
                bad.append("audit time %s outside the test window "
                           "[%.3f, %.3f]: %s" % (rec["time"], t0, t1, rec))
        except (ValueError, TypeError) as e:
            bad.append("audit time unparseable (%s): %s" % (e, rec))
    # each wanted open matches exactly one record (multiset)
    pool = [{k: r.get(k) for k in keys} for r in records]
    for w in wanted:
        if w in pool:
            pool.remove(w)
        else:
            near = [p for p in pool if p["pid"] == w["pid"] and
                    p["path"] == w["path"]]
            bad.append("no audit record %s%s" % (
                json.dumps(w), (" (nearest: %s)" % json.dumps(near[0]))
                if near else ""))
    for p in pool:
        bad.append("unexpected audit record: %s" % json.dumps(p))
    for b in bad:
        print("AUDIT " + b, file=sys.stderr)
    print("audit: %d opens (%d of the open tier), %d records checked, "
          "%d problems" % (opens_total, opens_open_tier, len(records),
                           len(bad)))
    return 1 if bad else 0


def _json_strings(o, out):
    if isinstance(o, str):
        out.append(o.encode("utf-8", "surrogateescape"))
    elif isinstance(o, dict):
        for k, v in o.items():
            _json_strings(k, out)
            _json_strings(v, out)
    elif isinstance(o, list):
        for v in o:
            _json_strings(v, out)


NAME_GRAM = 10


def _public_blobs(tops, secret):
    """(public data, names and strings): bytes to compare windows with."""
    secret = {os.path.realpath(p) for p in secret}
    parts, names = [], []

    def add_file(p):
        with open(p, "rb") as f:
            data = f.read()
        parts.append(data)
        if p.endswith(".json"):
            try:
                _json_strings(json.loads(data), names)
            except ValueError:
                pass

    for top in tops:
        if os.path.isfile(top):
            add_file(top)
            continue
        for root, dirs, files in os.walk(top):
            for fn in dirs + files:
                rel = os.path.relpath(os.path.join(root, fn), top)
                names.append(rel.encode("utf-8", "surrogateescape"))
            for fn in files:
                p = os.path.join(root, fn)
                if os.path.realpath(p) in secret or not os.path.isfile(p):
                    continue
                add_file(p)
    return b"\0\0".join(parts), b"\0".join(names)


def _secret(w, public, names):
    if len(set(w)) < 12 or w in public:
        return False
    return not any(w[i:i + NAME_GRAM] in names
                   for i in range(len(w) - NAME_GRAM + 1))


def windows(outdir, count, seed, args):
    rng = random.Random(int(seed))
    count = int(count)
    tops = []
    while len(args) >= 2 and args[0] == "--public":
        tops.append(args[1])
        args = args[2:]
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    tops.append(args[0])
    files = args[1:]
    public, names = _public_blobs(tops, files)
    os.makedirs(outdir, exist_ok=True)
    allw = []
    pats = []
    for n, path in enumerate(files):
        with open(path, "rb") as f:
            data = f.read()
        taken = []
        mine = []
        tries = 0
        while len(data) >= WINDOW and len(taken) < count and \
                tries < 200 * count:
            tries += 1
            off = rng.randrange(0, len(data) - WINDOW + 1)
            w = data[off:off + WINDOW]
            if any(abs(off - o) < WINDOW for o in taken) or \
                    not _secret(w, public, names):
                continue
            taken.append(off)
            allw.append("%s %d %s" % (path, off, w.hex()))
            if b"\n" not in w and b"\0" not in w:
                mine.append(w)
        if not taken:
            print("no secret 32-byte window in %s" % path, file=sys.stderr)
            return 1
        pats.extend(mine)
        with open(os.path.join(outdir, "grep-%d.pat" % n), "wb") as f:
            f.write(b"".join(w + b"\n" for w in mine))
    with open(os.path.join(outdir, "windows.hex"), "w") as f:
        f.write("".join(x + "\n" for x in allw))
    with open(os.path.join(outdir, "grep.pat"), "wb") as f:
        f.write(b"".join(w + b"\n" for w in pats))
    print("%d windows (%d for grep) from %d files"
          % (len(allw), len(pats), len(files)))
    return 0


def search(hexfile, args):
    expect_all = False
    if args and args[0] == "--expect-all":
        expect_all = True
        args = args[1:]
    wins = []
    with open(hexfile) as f:
        for line in f:
            path, off, hx = line.rsplit(" ", 2)
            wins.append((path, int(off), bytes.fromhex(hx.strip())))
    found = set()
    hits = []
    nfiles = 0
    for top in args:
        paths = []
        if os.path.isfile(top):
            paths = [top]
        else:
            for root, dirs, files in os.walk(top):
                for fn in files:
                    p = os.path.join(root, fn)
                    if os.path.isfile(p) and not os.path.islink(p):
                        paths.append(p)
        for p in paths:
            nfiles += 1
            with open(p, "rb") as f:
                data = f.read()
            for i, (src, off, w) in enumerate(wins):
                if w in data:
                    found.add(i)
                    hits.append("%s contains the window at %s:%d"
                                % (p, src, off))
    if expect_all:
        missing = [wins[i] for i in range(len(wins)) if i not in found]
        for src, off, w in missing:
            print("control: window %s:%d not found" % (src, off),
                  file=sys.stderr)
        print("control: %d of %d windows found in %d files"
              % (len(found), len(wins), nfiles))
        return 1 if missing else 0
    for h in hits:
        print("LEAK " + h, file=sys.stderr)
    print("search: %d windows, %d files, %d hits"
          % (len(wins), nfiles, len(hits)))
    return 1 if hits else 0


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, args = argv[1], argv[2:]
    if cmd == "mksrc" and len(args) == 1:
        return mksrc(args[0])
    if cmd == "probe" and len(args) >= 2:
        return probe(args[0], args[1:])
    if cmd == "verify" and len(args) == 6:
        return verify(*args)
    if cmd == "open" and len(args) >= 2:
        return open_files(args[0], args[1:])
    if cmd == "audit-check" and len(args) == 6:
        return audit_check(*args)
    if cmd == "windows" and len(args) >= 5:
        return windows(args[0], args[1], args[2], args[3:])
    if cmd == "search" and len(args) >= 2:
        return search(args[0], args[1:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
