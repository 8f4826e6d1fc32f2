"""Batch scoring: taxieta against DuckDB's lookup join, in alternating rounds.

Run by scripts/bench/batch.sh (which installs DuckDB and builds taxieta):

    batch_duckdb.py MODEL DATA_DIR TMP ROUNDS COPIES BIN [OLD_BIN]

MODEL is the taxieta artifact (an od model) whose tables the join reads;
DATA_DIR holds the TLC files. The largest month there (most rows) is scored
as it is and repeated COPIES times in one file (the scale of a yellow
month). Each round prints `uptime`, then scores both files with taxieta
(`predict --fsync=false`, the whole process timed: start, model load,
scoring, evaluation, drift, output) and with DuckDB (2 threads; the query
alone timed, on a warm connection with the tables loaded: the pair estimate,
passenger offset, hour-of-week factor and range tables joined to the trips,
the same float32 arithmetic as the model, writing the same output columns
but the ride id as parquet with snappy), taking turns at going first. Then
DuckDB rewrites taxieta's output of the repeated file with snappy and with
zstd, and the script checks that the join's values equal taxieta's.
Speed is printed as wall-clock time and as CPU time (all threads: the
taxieta process's, DuckDB's within its query), whose ratio the load of a
shared machine moves less.
"""

import base64
import json
import os
import resource
import statistics
import struct
import subprocess
import sys
import time

import duckdb
import pyarrow as pa


def load_tables(con, artifact):
    """Loads an od model's tables into DuckDB tables pair, pax, how, rng."""
    text = open(artifact).read()
    doc, _ = json.JSONDecoder().raw_decode(text[text.index("\n") + 1:])
    if doc.get("kind") != "od":
        sys.exit(f"{artifact}: kind {doc.get('kind')!r}; the lookup join is written for the od model")
    p = doc["params"]
    raw = base64.b64decode(p["pair_estimate"]["base64"])
    est = struct.unpack("<%df" % (len(raw) // 4), raw)
    pairs = pa.table({"pu": pa.array([i // 266 for i in range(len(est))], pa.int32()),
                      "do_": pa.array([i % 266 for i in range(len(est))], pa.int32()),
                      "est": pa.array(est, pa.float32())})
    con.register("pairs", pairs)
    con.execute("CREATE TABLE pair AS SELECT * FROM pairs")
    con.unregister("pairs")
    con.execute("CREATE TABLE pax(cat INTEGER, off FLOAT)")
    con.executemany("INSERT INTO pax VALUES (?, ?)", list(enumerate(p["passenger_offset"])))
    con.execute("CREATE TABLE how(h INTEGER, f FLOAT)")
    con.executemany("INSERT INTO how VALUES (?, ?)", list(enumerate(p["hour_of_week_factor"])))
    f32 = lambda v: struct.unpack("<f", struct.pack("<f", v))[0]
    rows = []
    for with_time, sfx in ((False, ""), (True, "_time")):
        edges = [f32(e) for e in p["interval_bucket_edges" + sfx]]
        for minute in range(62):  # the model's bucket of a whole-minute estimate
            b = max([i for i, e in enumerate(edges) if minute >= e] or [0])
            rows.append((with_time, minute, p["interval_ratio_low" + sfx][b], p["interval_ratio_high" + sfx][b]))
    con.execute("CREATE TABLE rng(t BOOLEAN, m INTEGER, lo FLOAT, hi FLOAT)")
    con.executemany("INSERT INTO rng VALUES (?, ?, ?, ?)", rows)
    return doc["name"]


def join_sql(con, src, out, model_name):
    cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{src}')").fetchall()]
    pk = "lpep_pickup_datetime" if "lpep_pickup_datetime" in cols else "tpep_pickup_datetime"
    dk = pk.replace("pickup", "dropoff")
    return f"""
COPY (
  WITH t AS (
    SELECT {pk} AS pickup_datetime, PULocationID, DOLocationID, passenger_count,
           CAST(epoch_us({dk}) - epoch_us({pk}) AS DOUBLE) / 60e6 AS actual_minutes,
           CASE WHEN passenger_count IS NULL OR passenger_count < 0 OR passenger_count > 9
                     OR passenger_count <> trunc(passenger_count) THEN 10
                ELSE CAST(passenger_count AS INTEGER) END AS cat,
           CAST(((epoch_us({pk}) // 3600000000 - 96) % 168 + 168) % 168 AS INTEGER) AS h
    FROM read_parquet('{src}')
  ), v AS (
    SELECT t.*, least(greatest(CASE WHEN t.h IS NULL THEN pair.est + pax.off
                                    ELSE (pair.est + pax.off) * how.f END,
                               CAST(1 AS FLOAT)), CAST(60 AS FLOAT)) AS predicted_minutes
    FROM t JOIN pair ON pair.pu = t.PULocationID AND pair.do_ = t.DOLocationID
           JOIN pax ON pax.cat = t.cat
           LEFT JOIN how ON how.h = t.h
  )
  SELECT pickup_datetime, CAST(PULocationID AS INTEGER) AS PULocationID,
         CAST(DOLocationID AS INTEGER) AS DOLocationID, CAST(passenger_count AS DOUBLE) AS passenger_count,
         actual_minutes, predicted_minutes, predicted_minutes * rng.lo AS low_minutes,
         predicted_minutes * rng.hi AS high_minutes, '{model_name}' AS model_name, 'duckdb' AS model_version
  FROM v JOIN rng ON rng.t = (v.h IS NOT NULL) AND rng.m = CAST(floor(v.predicted_minutes) AS INTEGER)
) TO '{out}' (FORMAT parquet, COMPRESSION snappy)"""


def spread(xs):
    return f"{statistics.median(xs):.3f} ({min(xs):.3f}-{max(xs):.3f})"


def main():
    artifact, data, tmp, rounds, copies, binary = sys.argv[1:7]
    old = sys.argv[7] if len(sys.argv) > 7 else ""
    rounds, copies = int(rounds), int(copies)
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute("SET threads = 2")
    model_name = load_tables(con, artifact)

    months = sorted(f for f in os.listdir(data) if f.endswith(".parquet") and "_tripdata_" in f)
    counts = {f: con.execute(f"SELECT count(*) FROM read_parquet('{data}/{f}')").fetchone()[0] for f in months}
    month = max(months, key=lambda f: (counts[f], f))
    print(f"largest month in {data}: {month}, {counts[month]:,} rows "
          f"(of {len(months)} parquet months; the yellow files there are 10,000-row CSV samples)")
    os.makedirs(f"{tmp}/big", exist_ok=True)
    big = f"{tmp}/big/{month}"  # same name: taxieta's ride ids are the month's
    con.execute(f"COPY (SELECT * FROM read_parquet({[f'{data}/{month}'] * copies})) TO '{big}' "
                "(FORMAT parquet, COMPRESSION zstd)")
    big_rows = con.execute(f"SELECT count(*) FROM read_parquet('{big}')").fetchone()[0]
    print(f"repeated file: {copies} copies, {big_rows:,} rows, {os.path.getsize(big):,} bytes (zstd)")
    inputs = {"month": (f"{data}/{month}", counts[month]), "repeated": (big, big_rows)}

    contenders = {"taxieta": binary}
    if old:
        contenders["taxieta-old"] = old
    times = {(who, k): [] for k in inputs for who in [*contenders, "duckdb"]}
    cpu = {(who, k): [] for k in inputs for who in [*contenders, "duckdb"]}

    def children_cpu():
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        return ru.ru_utime + ru.ru_stime

    def run(who, key):
        src, _ = inputs[key]
        out = f"{tmp}/{who}-{key}.parquet"
        if os.path.exists(out):
            os.remove(out)  # each run writes a new file
        if who == "duckdb":
            q = join_sql(con, src, out, model_name)
            t0, c0 = time.perf_counter(), time.process_time()
            con.execute(q)
            c = time.process_time() - c0
        else:
            t0, c0 = time.perf_counter(), children_cpu()
            subprocess.run([contenders[who], "predict", "--in", src, "--out", out, "--fsync=false"],
                           check=True, stdout=subprocess.DEVNULL)
            c = children_cpu() - c0
        times[(who, key)].append(time.perf_counter() - t0)
        cpu[(who, key)].append(c)

    order = [*contenders, "duckdb"]
    for r in range(rounds):
        print(f"round {r + 1}: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}", flush=True)
        turn = order if r % 2 == 0 else order[::-1]
        for key in inputs:
            for who in turn:
                run(who, key)
    print()
    print(f"{'':22s} {'rows':>10s}  wall and CPU (all threads) seconds, median (min-max) over {rounds} rounds")
    for key, (_, n) in inputs.items():
        for who in order:
            ts = times[(who, key)]
            print(f"{who + ' ' + key:22s} {n:>10,}  wall {spread(ts)} s  {n / statistics.median(ts) / 1e6:.2f} M rows/s"
                  f"  cpu {spread(cpu[(who, key)])} s")
    print()
    for what, m in (("wall", times), ("cpu", cpu)):
        for key in inputs:
            for who in contenders:
                ratios = [d / t for d, t in zip(m[("duckdb", key)], m[(who, key)])]
                print(f"speed {what:4s} {key:8s} {who} / duckdb join (per round duckdb_s / {who}_s): {spread(ratios)}")
            if old:
                ratios = [o / t for o, t in zip(m[("taxieta-old", key)], m[("taxieta", key)])]
                print(f"speed {what:4s} {key:8s} taxieta / taxieta-old (per round old_s / new_s): {spread(ratios)}")

    # Sizes: taxieta's output of the repeated file, as written and as DuckDB
    # writes the same values again.
    print()
    scored = f"{tmp}/taxieta-repeated.parquet"
    sizes = {"taxieta": os.path.getsize(scored)}
    if old:
        sizes["taxieta-old"] = os.path.getsize(f"{tmp}/taxieta-old-repeated.parquet")
    sizes["duckdb join (no ride_id)"] = os.path.getsize(f"{tmp}/duckdb-repeated.parquet")
    for comp in ("snappy", "zstd"):
        out = f"{tmp}/rewrite-{comp}.parquet"
        t0 = time.perf_counter()
        con.execute(f"COPY (SELECT * FROM read_parquet('{scored}')) TO '{out}' (FORMAT parquet, COMPRESSION {comp})")
        sizes[f"duckdb rewrite {comp}"] = os.path.getsize(out)
        print(f"duckdb rewrite {comp}: {time.perf_counter() - t0:.3f} s")
    for k, v in sizes.items():
        print(f"size {k:26s} {v / 1e6:8.1f} MB  {v / big_rows:6.2f} B/row  "
              f"{v / sizes['duckdb rewrite snappy']:.2f}x duckdb snappy")
    col = "pickup_datetime, PULocationID, DOLocationID, passenger_count, actual_minutes, " \
          "predicted_minutes, low_minutes, high_minutes"
    diff = con.execute(f"SELECT (SELECT count(*) FROM (SELECT {col} FROM read_parquet('{scored}') EXCEPT ALL "
                       f"SELECT {col} FROM read_parquet('{tmp}/duckdb-repeated.parquet'))), "
                       f"(SELECT count(*) FROM read_parquet('{tmp}/duckdb-repeated.parquet'))").fetchone()
    print(f"duckdb join rows {diff[1]:,}; rows of taxieta's output the join does not have: {diff[0]}")
    if diff[0] or diff[1] != big_rows:
        sys.exit("the lookup join does not compute what taxieta does")


main()
