"""Many targets in one run: a target file (-f, comments and blank lines
allowed), --concurrency, --shard, and the exit status of a whole run."""
import pytest

from fakesmtp import _Counter
from probe_harness import FAST, FakeSMTP, ProbeProc, check_run, free_port, \
    run_probe

OUTSIDER = "127.0.0.2"
TESTS = ["--tests", "relay-plain,percent-target"]


@pytest.fixture(scope="module")
def farm(sluiced_module):
    """20 targets: 12 closed fakes, 4 that accept everything, 2 that want
    AUTH, sluiced (closed to 127.0.0.2) and a port nothing listens on.
    Every fake reply is 20 ms late, so sessions overlap."""
    counter = _Counter()
    fakes = []
    expect = {}
    try:
        for beh, n, verdict in (("closed", 12, "closed"),
                                ("accept-all", 4, "accepted"),
                                ("auth-required", 2, "auth-required")):
            for _ in range(n):
                f = FakeSMTP(beh, delay=0.02, counter=counter).start()
                fakes.append(f)
                expect[f.spec] = verdict
        srv = sluiced_module({"authorized_networks": ["127.0.0.1/32"],
                              "local_domains": ["mx.test"]})
        expect[srv.spec] = "closed"
        expect[f"127.0.0.1:{free_port()}"] = "error"
        yield expect, counter, fakes
    finally:
        for f in fakes:
            f.stop()


def target_file(tmp_path, specs, name="targets"):
    """specs in a file, with the noise real lists have."""
    lines = ["# relay check, weekly", ""]
    for i, s in enumerate(specs):
        lines.append(f"  {s}   # host {i}" if i % 3 == 0 else s)
        if i % 5 == 4:
            lines.append("   ")
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n")
    return p


def test_twenty_targets_concurrency_5(farm, tmp_path):
    expect, counter, fakes = farm
    counter.reset()
    f = target_file(tmp_path, list(expect))
    r = run_probe("--json", *FAST, *TESTS, "--source", OUTSIDER,
                  "--concurrency", "5", "-f", f, timeout=60)
    got = r.targets()
    assert set(got) == set(expect), r
    assert {s: o["verdict"] for s, o in got.items()} == expect
    assert r.rc == 1, r
    # the bound held, and it was not one at a time
    assert 2 <= counter.max <= 5, counter.max
    # each fake was tested in one session
    assert all(f.n_sessions() >= 1 for f in fakes)


def test_shards_partition_the_targets(farm, tmp_path):
    expect, _, _ = farm
    f = target_file(tmp_path, list(expect))
    procs = [ProbeProc("--json", *FAST, *TESTS, "--source", OUTSIDER,
                       "--shard", f"{i}/2", "-f", f) for i in range(2)]
    runs = [check_run(p.wait(60)) for p in procs]
    shards = [set(r.targets()) for r in runs]
    assert shards[0].isdisjoint(shards[1])
    assert shards[0] | shards[1] == set(expect)
    assert [len(s) for s in shards] == [10, 10]
    # every other line of the list (comments and blanks do not count)
    specs = list(expect)
    assert shards[0] == set(specs[0::2]) and shards[1] == set(specs[1::2])
    for r in runs:
        for s, o in r.targets().items():
            assert o["verdict"] == expect[s], (s, o["verdict"])


def by_verdict(expect, v):
    return [s for s, x in expect.items() if x == v]


def test_exit_0_when_all_closed(farm):
    expect, _, _ = farm
    closed = by_verdict(expect, "closed")[:6]
    r = run_probe("--json", *FAST, *TESTS, "--source", OUTSIDER, "-f", "-",
                  stdin=("\n".join(closed) + "\n").encode())
    assert r.rc == 0, r
    assert {o["verdict"] for o in r.json()} == {"closed"}
    assert len(r.json()) == 6


def test_exit_2_when_only_errors(tmp_path):
    dead = [f"127.0.0.1:{free_port()}" for _ in range(3)]
    r = run_probe(*FAST, "-f", target_file(tmp_path, dead))
    assert r.rc == 2, r
    assert r.text.rstrip().splitlines()[-1] == \
        "3 targets: 0 open or accepting relay, 3 could not be tested"


def test_exit_2_when_closed_and_errors(farm):
    expect, _, _ = farm
    specs = by_verdict(expect, "closed")[:2] + by_verdict(expect, "error") \
        + ["127.0.0.1:99999", "[::1"]
    r = run_probe("--json", *FAST, *TESTS, "--source", OUTSIDER, *specs)
    assert r.rc == 2, r
    got = r.targets()
    assert got["127.0.0.1:99999"]["verdict"] == "error"
    assert "bad target" in got["127.0.0.1:99999"]["note"]
    assert got["[::1"]["verdict"] == "error"
    assert [got[s]["verdict"] for s in specs[:2]] == ["closed", "closed"]


def test_exit_1_when_a_hit_and_errors(farm):
    expect, _, _ = farm
    specs = by_verdict(expect, "accepted")[:1] + by_verdict(expect, "error")
    r = run_probe("--json", *FAST, *TESTS, "--source", OUTSIDER, *specs)
    assert r.rc == 1, r
