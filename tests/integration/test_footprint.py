"""Memory sluiced holds while idle: the abuse table is sized for the worst
day, but only the entries in use may cost memory."""
import json
import subprocess

from sluicetest import SLUICE


def test_unused_abuse_table_costs_no_memory(sluiced):
    small = sluiced(keys={"abuse": {"table_size": 1024}})
    big = sluiced(keys={"abuse": {"table_size": 200000}})
    # 200,000 entries of about 1.6 KB would be some 330 MB if the table
    # were touched at start; untouched pages are never resident
    grown = big.rss_kb() - small.rss_kb()
    assert grown < 40 * 1024, f"{grown} kB more for a bigger, unused table"
    # and it works: connections are counted in the big one
    for _ in range(3):
        with big.smtp() as s:
            s.noop()
    out = subprocess.run([SLUICE, "stats", "--json", "-c",
                          str(big.conf_path)], capture_output=True,
                         text=True, timeout=30, check=True).stdout
    src = json.loads(out)["sources"]
    assert src["capacity"] == 200000 and src["tracked"] >= 1, src
