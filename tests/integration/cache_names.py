"""The names a cache must give the files of a repository's chunks.

    cache_names.py REPO

For every chunk of every dataset of the revision REPO's manifest names,
one line "KIND NAME": NAME (hex) is the file name under CACHE/chunks
that cache_chunk_key() (cache/cache_chunk.c) gives the chunk, worked out
here from the catalogs as docs/FORMAT.md describes them. KIND says which
rule gave it:

  frame      a zstd chunk (flags exactly 1) with a stored digest
             (FORMAT.md §5.9): SHA-256("aidata-stored-chunk" ‖ stored
             digest)
  digest     any other chunk that is not encrypted: its content digest
  encrypted  flags bit 1 (secure tier): SHA-256("aidata-encrypted-chunk"
             ‖ content digest ‖ shard ‖ offset as u64 big-endian)

A chunk several catalogs share is printed once per catalog. The catalogs
are read with zstd and mdb_dump (lmdb-utils). Standard library only.
"""
import hashlib
import os
import re
import subprocess
import sys
import tempfile

STORED_PREFIX = b"aidata-stored-chunk"
ENCRYPTED_PREFIX = b"aidata-encrypted-chunk"
FLAG_ZSTD = 1
FLAG_ENCRYPTED = 2


def fail(msg):
    sys.exit("cache_names: " + msg)


def catalog_tables(repo, digest, work):
    """{table name: {key: value}} (bytes) of catalog object DIGEST."""
    mdb = os.path.join(work, digest + ".mdb")
    with open(mdb, "wb") as out:
        subprocess.run(["zstd", "-qdc", "--", os.path.join(repo, "catalog", digest)],
                       stdout=out, check=True)
    dump = subprocess.run(["mdb_dump", "-n", "-a", mdb], stdout=subprocess.PIPE,
                          check=True, text=True).stdout
    # each table: header lines (database=NAME among them), HEADER=END,
    # then " KEY" and " VALUE" lines in turn (hex), DATA=END
    tables = {}
    name = None
    rows = None
    for line in dump.splitlines():
        if line.startswith("database="):
            name = line[len("database="):]
        elif line == "HEADER=END":
            rows = []
        elif line == "DATA=END":
            if name is None or len(rows) % 2:
                fail("catalog %s: cannot read mdb_dump's output" % digest)
            tables[name] = {bytes.fromhex(rows[i]): bytes.fromhex(rows[i + 1])
                            for i in range(0, len(rows), 2)}
            name = rows = None
        elif rows is not None:
            rows.append(line.strip())
    return tables


def sha256(*parts):
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return h.hexdigest()


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: cache_names.py REPO")
    repo = sys.argv[1]
    with open(os.path.join(repo, "manifest"), encoding="utf-8") as f:
        m = re.search(r"^root-catalog ([0-9a-f]{64})$", f.read(), re.M)
    if not m:
        fail("%s/manifest names no root catalog" % repo)
    with tempfile.TemporaryDirectory() as work:
        datasets = catalog_tables(repo, m.group(1), work).get("datasets", {})
        if not datasets:
            fail("the root catalog lists no dataset")
        for ds, record in sorted(datasets.items()):
            # the dataset catalog's digest: bytes 21-52 (FORMAT.md §5.4)
            tables = catalog_tables(repo, record[21:53].hex(), work)
            stored = tables.get("stored-digests", {})
            for key, rec in sorted(tables.get("chunks", {}).items()):
                # FORMAT.md §5.7: digest, shard, offset (u64 LE),
                # stored_size, size, flags (u32 LE)
                if len(rec) != 84:
                    fail("dataset %s, chunk %s: a %d-byte record"
                         % (ds.decode(), key.hex(), len(rec)))
                digest, shard = rec[0:32], rec[32:64]
                offset = int.from_bytes(rec[64:72], "little")
                flags = int.from_bytes(rec[80:84], "little")
                if flags & FLAG_ENCRYPTED:
                    print("encrypted", sha256(ENCRYPTED_PREFIX, digest, shard,
                                              offset.to_bytes(8, "big")))
                elif flags == FLAG_ZSTD and key in stored:
                    print("frame", sha256(STORED_PREFIX, stored[key]))
                else:
                    print("digest", digest.hex())


if __name__ == "__main__":
    main()
