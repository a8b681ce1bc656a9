"""Damaged and truncated files: a query answers right or fails with a clear "damaged" error, never exits 0 with
a wrong answer and never dies by a signal; `info` and `check` name a truncated file. Many single-bit flips at
random places of the data area (deterministic seed), as a disk or a bad copy would make them."""
import os
import random
import re
import shutil
import subprocess

from common import ENV, FACTDB, cleanup, finish, run, scratch, test

TRIALS = int(os.environ.get("FACTDB_FLIP_TRIALS", "150"))
BIN = os.environ.get("FACTDB_BIN", FACTDB)  # to run the trials against another binary (an older build)
QUERIES = [
    "SELECT count(*), sum(id), sum(qty), sum(price), min(day), max(day) FROM t",
    "SELECT name, count(*), sum(qty) FROM t GROUP BY name ORDER BY name",
]
DAMAGE = re.compile(r"damaged|corrupt|truncated|checksum", re.I)


def make_db(d):
    db = os.path.join(d, "flip.db")
    rnd = random.Random(3)
    lines = ["id,name,qty,price,day"]
    for i in range(140000):
        lines.append("%d,%s,%d,%.2f,2024-%02d-%02d" % (i, "store-%d" % rnd.randrange(40), rnd.randrange(1000),
                                                    rnd.randrange(100000) / 100, 1 + i % 12, 1 + i % 28))
    p = subprocess.run([BIN, "load", "--create", db, "t", "-"], input="\n".join(lines) + "\n", text=True,
                       capture_output=True, env=ENV)
    assert p.returncode == 0, p.stderr
    # A deletion bitmap and a small appended chunk, so those are flipped too.
    run([BIN, "sql", db, "DELETE FROM t WHERE id % 97 = 0"])
    run([BIN, "sql", db, "INSERT INTO t VALUES (-1, 'late', 5, 1.25, '2024-05-05')"])
    run([BIN, "check", db])
    return db


def query(db, q):
    # One thread: the order of a double sum (and so its last digit) must not vary from run to run.
    return subprocess.run([BIN, "sql", "--threads", "1", "--format", "csv", db, q], capture_output=True, text=True,
                          env=ENV, timeout=120)


@test
def single_bit_flips_never_answer_wrong():
    d = scratch("flip")
    db = make_db(d)
    want = [query(db, q).stdout for q in QUERIES]
    raw = open(db, "rb").read()
    rnd = random.Random(20261129)
    trial_db = os.path.join(d, "trial.db")
    stats = {"right": 0, "detected": 0, "wrong": 0, "signal": 0, "other": 0, "check_detected": 0}
    problems = []
    for i in range(TRIALS):
        bad = bytearray(raw)
        off = rnd.randrange(2 * 4096, len(raw))  # past LMDB's two meta pages
        bit = rnd.randrange(8)
        bad[off] ^= 1 << bit
        for f in (trial_db, trial_db + "-lock"):
            if os.path.exists(f):
                os.unlink(f)
        with open(trial_db, "wb") as f:
            f.write(bad)
        c = subprocess.run([BIN, "check", trial_db], capture_output=True, text=True, env=ENV, timeout=120)
        if c.returncode < 0:
            problems.append("trial %d (byte %d bit %d): check died by signal %d" % (i, off, bit, -c.returncode))
        stats["check_detected"] += c.returncode != 0
        for q, w in zip(QUERIES, want):
            p = query(trial_db, q)
            if p.returncode < 0:
                stats["signal"] += 1
                problems.append("trial %d (byte %d bit %d): died by signal %d: %s" % (i, off, bit, -p.returncode,
                                                                                    p.stderr[:300]))
            elif p.returncode == 0 and p.stdout == w:
                stats["right"] += 1
            elif p.returncode == 0:
                stats["wrong"] += 1
                problems.append("trial %d (byte %d bit %d): exit 0 with a wrong answer for %s (check exit %d)"
                                % (i, off, bit, q, c.returncode))
            elif DAMAGE.search(p.stderr):
                stats["detected"] += 1
            else:
                stats["other"] += 1
                problems.append("trial %d (byte %d bit %d): failed without naming the damage: %s"
                                % (i, off, bit, p.stderr.strip()[:300]))
    print("bit flips: %d trials, %d queries: %s" % (TRIALS, TRIALS * len(QUERIES), stats), flush=True)
    assert not problems, "\n".join(problems[:20])
    cleanup(d)


@test
def damaged_dictionary_string_is_detected():
    # TEXT strings carry their XXH3 (dictionary format 2; format 1: the hash index holds it): a changed
    # string no longer matches it.
    d = scratch("dict")
    db = make_db(d)
    raw = open(db, "rb").read()
    assert raw.count(b"store-17") >= 1
    bad = os.path.join(d, "bad.db")
    with open(bad, "wb") as f:
        f.write(raw.replace(b"store-17", b"stoRe-17"))  # every copy: LMDB keeps old pages too
    p = query(bad, QUERIES[1])
    assert p.returncode == 1 and "damaged" in p.stderr and "dictionary" in p.stderr, (p.returncode, p.stderr)
    p = subprocess.run([BIN, "check", bad], capture_output=True, text=True, env=ENV)
    assert p.returncode == 1, p.stderr
    cleanup(d)


@test
def truncated_files_are_named_by_info_and_check():
    d = scratch("trunc")
    db = make_db(d)
    raw = open(db, "rb").read()
    tr = os.path.join(d, "tr.db")
    want = query(db, QUERIES[0])
    assert want.returncode == 0, want.stderr
    for cut in (4096, 8192 + 100, len(raw) // 10, len(raw) // 2, len(raw) * 9 // 10, len(raw) - 4096 * 3,
                len(raw) - 4096, len(raw) - 1):
        for f in (tr, tr + "-lock"):
            if os.path.exists(f):
                os.unlink(f)
        with open(tr, "wb") as f:
            f.write(raw[:cut])
        # A file may end before LMDB's last page on free pages only (pages a later transaction released): a
        # cut of the last few pages that removes only such pages leaves a sound file, which must then answer
        # as the whole one did. Which pages are free at the end depends on the layout of the writes.
        if cut >= len(raw) - 4096 * 3 and run([BIN, "info", tr], check=False).returncode == 0:
            got = query(tr, QUERIES[0])
            assert got.returncode == 0 and got.stdout == want.stdout, (cut, got.stdout, got.stderr, want.stdout)
            run([BIN, "check", tr])
            continue
        for cmd in (["info"], ["check"], ["sql", "--format", "csv"]):
            args = [BIN, *cmd, tr] + (["SELECT sum(qty) FROM t"] if cmd[0] == "sql" else [])
            p = subprocess.run(args, capture_output=True, text=True, env=ENV, timeout=120)
            assert p.returncode == 1, "%s on a file cut to %d of %d bytes exited %d: %s" % (
                cmd[0], cut, len(raw), p.returncode, p.stdout[-300:] + p.stderr[-300:])
            assert re.search(r"truncated|too short|not a factdb database", p.stderr), (cmd[0], cut, p.stderr)
    cleanup(d)


if __name__ == "__main__":
    finish()
