#!/usr/bin/env python3
"""Stream a TEXMEX .fvecs/.ivecs file as PostgreSQL COPY text rows, standard library only.

    vecs_copy.py FILE.fvecs [--texts FILE.jsonl] [--limit N]
        -> "<row id>\t[x1,x2,...]" (+ "\t<text>" with --texts; the JSONL's "id" is the row)
    vecs_copy.py FILE.ivecs --ranks [--limit N]
        -> "<row id>\t<rank>\t<value>" for each value of each row (ground-truth lists)
"""
import argparse
import json
import struct
import sys


def records(path, fmt):
    with open(path, "rb") as f:
        while True:
            head = f.read(4)
            if not head:
                return
            (dim,) = struct.unpack("<i", head)
            yield struct.unpack(f"<{dim}{fmt}", f.read(4 * dim))


def copy_escape(s):
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("path")
    ap.add_argument("--texts")
    ap.add_argument("--ranks", action="store_true")
    ap.add_argument("--limit", type=int, default=None)
    a = ap.parse_args()
    out = sys.stdout
    texts = {}
    if a.texts:
        with open(a.texts, encoding="utf-8") as f:
            for line in f:
                o = json.loads(line)
                texts[o["id"]] = o["text"]
    fmt = "i" if a.path.endswith(".ivecs") else "f"
    for i, rec in enumerate(records(a.path, fmt)):
        if a.limit is not None and i >= a.limit:
            break
        if a.ranks:
            for rank, v in enumerate(rec, 1):
                out.write(f"{i}\t{rank}\t{v}\n")
            continue
        row = f"{i}\t[" + ",".join(repr(float(x)) for x in rec) + "]"
        if a.texts:
            row += "\t" + copy_escape(texts.get(i, ""))
        out.write(row + "\n")


if __name__ == "__main__":
    main()
