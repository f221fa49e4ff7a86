"""The ETS table from runs[]: transfers grouped by operation, file size and clients started together,
with times and throughputs computed the way the report says (tests fail on a wrong grouping or a
wrong number)."""
from __future__ import annotations

import pytest

from reporter.assignments.ets.runs import batches, make_runs, peak, table
from tests.files_fixtures import conn, f, rep, report, req

MB = 1 << 20


def up(cid, t0, dur, n=10 * MB, ok=True):
    reply = rep("OK", t0 + dur, announced=f("s", n)) if ok else rep("ERROR", t0 + dur, data="busy")
    return conn(cid, req("UPLOAD", "s", t=t0 + dur * 0.9, file=f("s", n)), reply, syn=t0, end=t0 + dur + 0.001)


def down(cid, t0, dur, n=10 * MB):
    return conn(cid, req("GET", "s", t=t0 + 0.001), rep("OK", t0 + dur, file=f("s", n), announced=f("s", n)),
                syn=t0, end=t0 + dur + 0.001)


def rows_of(r):
    runs, _ = make_runs(r)
    return runs, table(runs, r)


def test_one_client_then_five_at_once_and_the_numbers():
    durs = [2.0, 2.1, 2.2, 2.3, 2.4]
    r = report(up(0, 0.0, 1.0), *[up(1 + i, 3.0 + i * 0.01, d) for i, d in enumerate(durs)])
    runs, rows = rows_of(r)
    assert [(x.operation, x.file_bytes, x.clients, x.transfers) for x in rows] == [
        ("upload", 10 * MB, 1, 1), ("upload", 10 * MB, 5, 5)]
    one, five = rows
    assert (one.time_s, one.mean_duration_s, one.throughput_Bps) == (1.0, 1.0, 10 * MB)
    assert one.peak == 1 and five.peak == 5 and five.successes == 5 and five.failures == 0
    mean = sum(durs) / 5
    assert five.mean_duration_s == pytest.approx(mean, abs=1e-6)
    assert five.throughput_Bps == pytest.approx(10 * MB / mean, rel=1e-6)  # per client: size over mean time
    wall = (3.04 + 2.4) - 3.0  # first start to last reply
    assert five.time_s == pytest.approx(wall, abs=1e-6)
    assert five.total_throughput_Bps == pytest.approx(5 * 10 * MB / wall, rel=1e-6)  # bytes moved over wall time
    assert sorted(five.runs) == [1, 2, 3, 4, 5] and one.runs == [0]
    for x in runs:
        assert x.start_s == r.connections[x.connection].handshake.syn_time_s
        assert x.throughput_Bps == pytest.approx(x.file_bytes / x.duration_s, rel=1e-6)


def test_failures_count_but_do_not_make_the_time():
    r = report(*[up(i, 1.0 + i * 0.01, 1.0 + i, ok=i != 2) for i in range(3)])
    (row,) = rows_of(r)[1]
    assert (row.clients, row.successes, row.failures) == (3, 2, 1)
    assert row.mean_duration_s == pytest.approx((1.0 + 2.0) / 2, abs=1e-6)  # the failed 3 s transfer left out
    assert row.total_throughput_Bps == pytest.approx(2 * 10 * MB / row.time_s, rel=1e-6)


def test_small_files_that_never_overlap_are_still_one_batch():
    """Each group: one transfer, then three of a batch that finish before the next connects (tiny
    files). Only the idle point every group shares cuts: 1 + 3, not 1 + 1 + 2 or 1 + 1 + 1 + 1."""
    conns, cid, t = [], 0, 0.0
    for maker in (up, down):
        for size in (1024, 2048):
            conns.append(maker(cid, t, 0.004, n=size))
            t += 0.030
            for i in range(3):  # sequential: each ends before the next starts
                conns.append(maker(cid + 1 + i, t, 0.002, n=size))
                t += 0.003 if not (maker is up and size == 1024) or i else 0.0025
            cid += 4
            t += 0.030
    r = report(*conns)
    runs, rows = rows_of(r)
    assert [(x.operation, x.file_bytes, x.clients) for x in rows] == [
        ("upload", 1024, 1), ("upload", 1024, 3), ("upload", 2048, 1), ("upload", 2048, 3),
        ("download", 1024, 1), ("download", 1024, 3), ("download", 2048, 1), ("download", 2048, 3)]
    assert all(x.peak == 1 for x in rows)  # what the wire shows: never two at once


def test_groups_of_different_sizes_cut_at_their_own_idle_points():
    # uploads: 1 then 2 overlapping; downloads: three one after another (a student's manual runs)
    r = report(up(0, 0.0, 1.0), up(1, 2.0, 1.0), up(2, 2.1, 1.0),
               down(3, 5.0, 0.5), down(4, 6.0, 0.5), down(5, 7.0, 0.5))
    runs, rows = rows_of(r)
    assert [(x.operation, x.clients, x.transfers, x.batches) for x in rows] == [
        ("upload", 1, 1, 1), ("upload", 2, 2, 1), ("download", 1, 3, 3)]
    (dl,) = [x for x in rows if x.operation == "download"]
    assert dl.time_s == pytest.approx(0.5, abs=1e-6)  # the mean of the three batches' wall times
    assert len(batches(runs, r)) == 5


def test_several_transfers_on_one_connection():
    c = conn(0, req("UPLOAD", "a", t=1.5, file=f("a", 1000)), rep("OK", 2.0),
             req("GET", "a", t=2.5), rep("OK", 3.0, file=f("a", 1000)), syn=1.0, end=3.1)
    runs, _ = make_runs(report(c))
    assert [(x.operation, x.start_s, x.end_s, x.duration_s) for x in runs] == [
        ("upload", 1.0, 2.0, 1.0), ("download", 2.0, 3.0, 1.0)]


def test_peak():
    assert peak([(0, 1), (1, 2)]) == 1  # one ends as the next starts
    assert peak([(0, 3), (1, 2), (1.5, 4)]) == 3
    assert peak([]) == 0
