#!/bin/bash
# bench/run.sh - run every benchmark and write bench/RESULTS.md.
#
#   make bench                      (or bench/run.sh)
#   SMTP_MSGS=1000 SMTP_REPS=3 SMTP_CONC="1 10 50" \
#   RELAY_MSGS=1000 RELAY_REPS=3 RELAY_CONC="1 10 50" \
#   PROBE_TARGETS=10 PROBE_REPS=3 bench/run.sh
#
# Needs root, Postfix (no system instance needed; its smtp-source and
# smtp-sink), nmap, strace; loopback only. Scratch files go to bench/work/
# (ignored by git).
set -u
. "$(dirname "$0")/lib.sh"
trap bench_cleanup EXIT
trap 'exit 130' INT TERM


loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# others_running - mail servers on this machine that are not ours
others_running() {
	ps -eo pid,args | awk '$2 ~ /(sluiced|postfix\/sbin\/master)$/ ||
		$2 ~ /\/sluiced$/ { n++ } END { print n + 0 }'
}

# A shared machine: wait (bounded) for the other tenants to go quiet, and
# record how busy it was. Each point also records the CPU others used.
IDLE_WAIT=${BENCH_IDLE_WAIT:-600}
IDLE_LOAD=${BENCH_IDLE_LOAD:-1.0}
waited=0
while [ "$waited" -lt "$IDLE_WAIT" ] &&
	awk -v l="$IDLE_LOAD" '{ exit !($1 >= l) }' /proc/loadavg; do
	[ "$waited" = 0 ] && log "run: load average $(loadavg), waiting up to ${IDLE_WAIT}s for it to drop below $IDLE_LOAD"
	sleep 10
	waited=$((waited + 10))
done
BUSY_START=$(top -b -n 2 -d 1 -o %CPU | awk '/^top -/ { n++ } n == 2 && $1 ~ /^[0-9]+$/ && $9 + 0 >= 5 { printf "%s%s %s%%", sep, $12, $9; sep = ", " }')

mkdir -p "$WORK"
bench_snapshot
export BENCH_SNAPSHOT_DONE=1
export BENCH_DEFER_TRASH=1	# old results are deleted at the end
rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null |
	awk '{ printf "%s%s", sep, $2; sep = ", " }')
LOAD_START=$(loadavg)
OTHERS_START=$(others_running)

status=0
log "run: smtp benchmark"
"$BENCH_DIR/smtp.sh" || { status=1; log "smtp.sh failed (see above)"; }
log "run: relay benchmark"
"$BENCH_DIR/relay.sh" || { status=1; log "relay.sh failed (see above)"; }
log "run: probe benchmark"
"$BENCH_DIR/probe.sh" || { status=1; log "probe.sh failed (see above)"; }

$PY - "$WORK/env.json" <<EOF
import json, re, subprocess, sys
def sh(c):
    try:
        return subprocess.run(c, shell=True, capture_output=True,
                              text=True).stdout.strip()
    except OSError:
        return ""
dirty = """$dirty"""
env = {
    "date": sh("date -u '+%Y-%m-%d %H:%M UTC'"),
    "cpu": sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip(),
    "nproc": sh("nproc"),
    "mem": sh("free -m | awk '/^Mem:/ { print \$2 \" MB\" }'"),
    "kernel": sh("uname -sr"),
    "fs": sh("findmnt -no FSTYPE,SOURCE,OPTIONS -T '$WORK'"),
    "journal": sh("src=\$(findmnt -no SOURCE -T '$WORK'); "
                  "[ \"\$(findmnt -no FSTYPE -T '$WORK')\" = ext4 ] || exit 0; "
                  "if ls /proc/fs/jbd2/ | grep -q \"^\${src##*/}-\"; "
                  "then echo 'has a journal (jbd2)'; else echo 'NO journal "
                  "(no /proc/fs/jbd2 entry for '\${src##*/}'): every "
                  "fsync flushes the device cache, directory updates are "
                  "durable only when the directory is synced'; fi"),
    "load_start": "$LOAD_START" + (" after waiting $waited s for it to fall"
                                   if $waited else "")
                  + (" (busiest processes then: $BUSY_START)"
                     if "$BUSY_START" else ""),
    "load_end": sh("cut -d' ' -f1-3 /proc/loadavg"),
    "others": "$OTHERS_START at start (sluiced/Postfix masters of other "
              "sessions on this machine share its CPUs and disk)"
              if "$OTHERS_START" != "0" else "",
    "sluice": "git $rev" + (" plus uncommitted changes in " + dirty
                            if dirty else "") +
              " (binaries copied from build/ at the start, sluiced built " + sh("date -u -r '$BIN/sluiced' +%H:%M") + " UTC: "
              + sh("'$BIN/sluice' version") + ", sha256 "
              + sh("sha256sum '$BIN/sluiced' | cut -c1-12") + ")",
    "postfix": sh("postconf -d -h mail_version"),
    "nmap": sh("nmap --version | head -1"),
    "strace": sh("strace -V | head -1"),
    "smtp_size": int("${SMTP_SIZE:-4096}"),
    "postfix_relay": dict(zip(
        ("default_destination_concurrency_limit",
         "initial_destination_concurrency", "default_process_limit",
         "smtp_connection_cache_on_demand",
         "smtp_connection_cache_time_limit"),
        sh("postconf -d -h default_destination_concurrency_limit "
           "initial_destination_concurrency default_process_limit "
           "smtp_connection_cache_on_demand "
           "smtp_connection_cache_time_limit").split())),
    "sluiced_relay": dict(re.findall(
        r"^ +(concurrency|per_destination) = (\\d+);",
        sh("'$BIN/sluiced' -p").split("queue = ", 1)[-1].split("};")[0],
        re.M)),
}
json.dump(env, open(sys.argv[1], "w"), indent=1)
EOF

$PY "$BENCH_DIR/report.py" "$WORK" >"$BENCH_DIR/RESULTS.md.new" &&
	mv "$BENCH_DIR/RESULTS.md.new" "$BENCH_DIR/RESULTS.md" ||
	{ status=1; log "report.py failed"; }
[ -z "${BENCH_KEEP_TRASH:-}" ] && rm -rf "$WORK"/trash.*
log "run: wrote $BENCH_DIR/RESULTS.md (status $status)"
exit $status
