#!/usr/bin/env python3
"""Checks of the sample generator, sample/make_sample.py (used by
test_sample_make.sh). Standard library only.

  coverage DIR
      What the sample promises: 8 datasets or more, 5 industries or more,
      the three tiers, the modalities text, instruction, image-text, audio,
      video and 3d, each dataset a directory and nothing else at the top;
      every file of a known format well-formed (PNG, also inside tar
      shards: chunk CRCs, IHDR, IDAT inflating to the image size; WAV by
      the wave module; AVI: RIFF structure, frame chunks and index; PLY,
      binary and ASCII: header, vertex count against the body; OBJ:
      vertices and face indices; JSON and jsonl, gzipped or not); every
      dataset of a modality holds files of that modality; every file of a
      secure dataset carries AIDATA-SECURE-PLAINTEXT-<dataset>- and no
      other file (nor any gzip or tar member) carries the prefix; every
      shared dataset names its contributor, 3 contributors or more, some
      open datasets contributed and some not (the platform's own).
      Problems to stderr, exit 1.
"""
import gzip
import io
import json
import math
import os
import re
import struct
import sys
import tarfile
import wave
import zlib

MARKER = b"AIDATA-SECURE-PLAINTEXT"
MODALITIES = {"text", "instruction", "image-text", "audio", "video", "3d"}


def walk(top):
    """Every path below top, sorted."""
    out = []
    for root, dirs, files in os.walk(top):
        rel = os.path.relpath(root, top)
        out += [name if rel == "." else os.path.join(rel, name) for name in dirs + files]
    return sorted(out)


class Problems(list):
    def check(self, ok, fmt, *args):
        if not ok:
            self.append(fmt % args)
        return ok


def check_png(data):
    """None if data is a well-formed 8-bit RGB PNG, else what is wrong."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return "no PNG signature"
    pos, kinds, idat, ihdr = 8, [], b"", None
    while pos + 12 <= len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body, crc = data[pos + 8:pos + 8 + n], data[pos + 8 + n:pos + 12 + n]
        if len(crc) != 4 or struct.unpack(">I", crc)[0] != zlib.crc32(kind + body):
            return "bad CRC in chunk %r" % kind
        kinds.append(kind)
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    if not kinds or kinds[0] != b"IHDR" or kinds[-1] != b"IEND" or pos != len(data):
        return "chunks %r (want IHDR ... IEND, nothing after)" % kinds
    w, h, depth, ctype = ihdr[:4]
    if depth != 8 or ctype != 2 or not 0 < w < 10000 or not 0 < h < 10000:
        return "IHDR %r" % (ihdr,)
    if len(zlib.decompress(idat)) != h * (1 + 3 * w):
        return "IDAT does not inflate to %dx%d RGB rows" % (w, h)
    return None


def check_wav(data):
    with wave.open(io.BytesIO(data)) as w:
        n = w.getnframes()
        if w.getnchannels() != 1 or w.getsampwidth() != 2 or w.getframerate() < 8000 or n <= 0:
            return "wave params %r" % (w.getparams(),)
        if len(w.readframes(n)) != 2 * n:
            return "fewer sample bytes than %d frames" % n
    return None


def riff_chunks(data, pos, end):
    """(fourcc, body start, body end) of the chunks in data[pos:end]."""
    out = []
    while pos + 8 <= end:
        fourcc, n = struct.unpack("<4sI", data[pos:pos + 8])
        if pos + 8 + n > end:
            raise ValueError("chunk %r overruns its parent" % fourcc)
        out.append((fourcc, pos + 8, pos + 8 + n))
        pos += 8 + n + (n & 1)
    if pos != end:
        raise ValueError("%d stray bytes after the chunks" % (end - pos))
    return out


def check_avi(data):
    if data[:4] != b"RIFF" or data[8:12] != b"AVI " or \
            struct.unpack("<I", data[4:8])[0] != len(data) - 8:
        return "not a RIFF AVI of its own size"
    # chunks by fourcc, LISTs by their list type
    top = {data[s:s + 4] if k == b"LIST" else k: (s, e)
           for k, s, e in riff_chunks(data, 12, len(data))}
    hdrl = {data[s:s + 4] if k == b"LIST" else k: (s, e)
            for k, s, e in riff_chunks(data, top[b"hdrl"][0] + 4, top[b"hdrl"][1])}
    strl = {k: (s, e) for k, s, e in riff_chunks(data, hdrl[b"strl"][0] + 4, hdrl[b"strl"][1])}
    frames, w, h = (struct.unpack("<10I", data[hdrl[b"avih"][0]:hdrl[b"avih"][0] + 40])[i]
                    for i in (4, 8, 9))
    bits, compression = struct.unpack("<HI", data[strl[b"strf"][0] + 14:strl[b"strf"][0] + 20])
    if data[strl[b"strh"][0]:strl[b"strh"][0] + 4] != b"vids" or (bits, compression) != (24, 0):
        return "not an uncompressed 24-bit video stream"
    movi = riff_chunks(data, top[b"movi"][0] + 4, top[b"movi"][1])
    if len(movi) != frames or frames == 0:
        return "%d frame chunks, avih says %d" % (len(movi), frames)
    if any(k != b"00db" or e - s != w * h * 3 for k, s, e in movi):
        return "a frame chunk is not %dx%d 24-bit RGB" % (w, h)
    if top[b"idx1"][1] - top[b"idx1"][0] != 16 * frames:
        return "idx1 does not index %d frames" % frames
    return None


PLY_TYPES = {"char": "b", "uchar": "B", "short": "h", "ushort": "H", "int": "i", "uint": "I",
             "float": "f", "double": "d"}


def check_ply(data):
    end = data.find(b"end_header\n")
    if not data.startswith(b"ply\n") or end < 0:
        return "no ply header"
    fmt, count, props = None, None, []
    for line in data[:end].decode("ascii").splitlines()[1:]:
        words = line.split()
        if words[0] == "format":
            fmt = words[1]
        elif words[:2] == ["element", "vertex"]:
            count = int(words[2])
        elif words[0] == "property":
            props.append(PLY_TYPES[words[1]])
    body = data[end + len(b"end_header\n"):]
    if not count or not props:
        return "no vertices or no properties"
    if fmt == "binary_little_endian":
        rec = struct.Struct("<" + "".join(props))
        if len(body) != count * rec.size:
            return "%d body bytes for %d vertices of %d" % (len(body), count, rec.size)
        values = [v for i in range(0, count, max(1, count // 100))
                  for v in rec.unpack_from(body, i * rec.size)]
    elif fmt == "ascii":
        rows = body.decode("ascii").splitlines()
        if len(rows) != count or any(len(r.split()) != len(props) for r in rows):
            return "%d rows for %d vertices" % (len(rows), count)
        values = [float(v) for r in rows for v in r.split()]
    else:
        return "format %r" % fmt
    return None if all(math.isfinite(v) for v in values) else "a value is not finite"


def check_obj(data):
    verts, faces = 0, 0
    for line in data.decode("ascii").splitlines():
        words = line.split()
        if words and words[0] == "v":
            [float(x) for x in words[1:4]]
            verts += 1
        elif words and words[0] == "f":
            index = [int(w.split("/")[0]) for w in words[1:]]
            if len(index) < 3 or not all(1 <= i <= verts for i in index):
                return "face %r: indices out of 1..%d" % (words, verts)
            faces += 1
    return None if verts and faces else "no vertices or no faces"


def check_jsonl(data):
    for n, line in enumerate(data.decode("utf-8").splitlines(), 1):
        if not isinstance(json.loads(line), dict):
            return "line %d is not a JSON object" % n
    return None


def formats(name, data):
    """(kind, problem or None) for each recognised thing in one file; tar
    members are checked as files of their own."""
    for ext, kind, fn in ((".png", "png", check_png), (".wav", "wav", check_wav),
                          (".avi", "avi", check_avi), (".ply", "ply", check_ply),
                          (".obj", "obj", check_obj), (".jsonl", "jsonl", check_jsonl),
                          (".jsonl.gz", "jsonl", lambda d: check_jsonl(gzip.decompress(d))),
                          (".json", "json", lambda d: json.loads(d) and None)):
        if name.endswith(ext):
            try:
                yield kind, fn(data)
            except Exception as e:  # any parse error is a problem of the file
                yield kind, "%s: %s" % (type(e).__name__, e)
    if name.endswith(".tar"):
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            for m in tar.getmembers():
                yield from formats(m.name, tar.extractfile(m).read())


NEEDS = {"text": {"jsonl"}, "instruction": {"jsonl"}, "image-text": {"png", "json"},
         "audio": {"wav"}, "video": {"avi"}, "3d": {"ply", "obj"}}


def coverage(top):
    p = Problems()
    with open(os.path.join(top, "datasets.json"), "rb") as f:
        p.check(MARKER not in f.read(), "datasets.json carries the canary prefix")
    with open(os.path.join(top, "datasets.json")) as f:
        meta = json.load(f)["datasets"]
    names = [d["name"] for d in meta]
    p.check(len(names) >= 8, "%d datasets (want 8 or more)", len(names))
    p.check(len({d["industry"] for d in meta}) >= 5, "fewer than 5 industries")
    p.check({d["tier"] for d in meta} == {"open", "shared", "secure"},
            "tiers %s", sorted({d["tier"] for d in meta}))
    p.check(MODALITIES <= {d["modality"] for d in meta}, "modalities missing: %s",
            sorted(MODALITIES - {d["modality"] for d in meta}))
    # the alliance pool: every shared dataset names its contributor, and
    # by-contributor/ shows more than one member, open datasets among them
    orgs = {d["contributor"] for d in meta if "contributor" in d}
    p.check(all("contributor" in d for d in meta if d["tier"] == "shared"),
            "a shared dataset without a contributor")
    p.check(len(orgs) >= 3, "%d contributors (want 3 or more)", len(orgs))
    p.check(any("contributor" in d for d in meta if d["tier"] == "open"),
            "no open dataset has a contributor")
    p.check(any("contributor" not in d for d in meta),
            "every dataset has a contributor (want some of the platform's own)")
    p.check(all(re.fullmatch(r"[a-z0-9-]{1,64}", o) for o in orgs),
            "contributor labels %s", sorted(orgs))
    p.check(sorted(os.listdir(top)) == sorted(names + ["datasets.json"]),
            "top level %s is not the datasets", sorted(os.listdir(top)))
    for d in meta:
        kinds, files = set(), 0
        for rel in walk(os.path.join(top, d["name"])):
            path = os.path.join(top, d["name"], rel)
            if not os.path.isfile(path) or os.path.islink(path):
                continue
            with open(path, "rb") as f:
                data = f.read()
            files += 1
            where = "%s/%s" % (d["name"], rel)
            for kind, problem in formats(rel, data):
                kinds.add(kind)
                p.check(problem is None, "%s: %s: %s", where, kind, problem)
            # gzip members too: a canary must not hide in compressed text
            plain = gzip.decompress(data) if rel.endswith(".gz") else b""
            if d["tier"] == "secure":
                p.check(MARKER + b"-" + d["name"].encode() + b"-" in data,
                        "%s: secure file without a canary", where)
            else:
                p.check(MARKER not in data and MARKER not in plain,
                        "%s: canary prefix outside the secure tier", where)
        p.check(files > 0, "%s: no files", d["name"])
        need = NEEDS.get(d["modality"], set())
        p.check(need <= kinds, "%s (%s): no %s files", d["name"], d["modality"],
                ", ".join(sorted(need - kinds)))
    for problem in p:
        print(problem, file=sys.stderr)
    print("%d datasets, %d industries, tiers %s, modalities %s, %d contributors: %s" % (
        len(names), len({d["industry"] for d in meta}), ",".join(sorted({d["tier"] for d in meta})),
        ",".join(sorted({d["modality"] for d in meta})), len(orgs),
        "ok" if not p else "%d problems" % len(p)))
    return 1 if p else 0


def main(argv):
    if len(argv) == 2 and argv[0] == "coverage":
        return coverage(argv[1])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
