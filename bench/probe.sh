#!/bin/bash
# bench/probe.sh - `sluice probe` vs nmap's smtp-open-relay script on the
# same kind of loopback targets: PROBE_TARGETS sluiced instances (half
# closed: authorized_networks = ["127.0.0.2/32"], so 127.0.0.1 is an
# outsider; half open: ["0.0.0.0/0"]), on random ports, in shuffled order,
# with sluiced's default abuse rules.
#
# Every tool run gets a fresh set of targets: sluiced's default
# "relay-probing" rule blocks a client for 1 h after 30 refused relay
# attempts in 10 min, so a target that has been tested once is not the same
# target any more. (That interaction is measured on its own at the end.)
# Each tool is run PROBE_REPS times (wall clock, median); every verdict is
# checked against the configuration and against the other tool.
#
# Output: bench/work/probe/{targets-TOOL-N.tsv, probe-N.json, nmap-N.xml,
#         nmap-N.txt, times.tsv, repeat*)
#
#   PROBE_TARGETS=10 PROBE_REPS=3
set -u
. "$(dirname "$0")/lib.sh"
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

NT=${PROBE_TARGETS:-10}
REPS=${PROBE_REPS:-3}
NMAP_TIMEOUT=${NMAP_TIMEOUT:-600}
PROBE_TIMEOUT=${PROBE_TIMEOUT:-300}
OUT=$WORK/probe

command -v nmap >/dev/null || die "missing nmap"
[ -n "${BENCH_SNAPSHOT_DONE:-}" ] || bench_snapshot
rm -rf "$OUT"
mkdir -p "$OUT"
bad=0
TARGET_PIDS=()

# targets TAG - start NT fresh sluiced instances; sets TARGETS, PORTLIST
targets() {
	local tag=$1 ports port kind nets i=0
	TARGET_PIDS=()
	ports=$(free_ports "$NT") || die "no free ports"
	: >"$OUT/targets-$tag.tsv"
	for port in $(printf '%s\n' $ports | shuf); do
		if [ $((i % 2)) = 0 ]; then kind=closed nets='"127.0.0.2/32"'
		else kind=open nets='"0.0.0.0/0"'; fi
		start_sluiced "$OUT/$tag/t$port" "$port" "$nets"
		TARGET_PIDS+=("$SLUICED_PID")
		printf '%s\t%s\n' "$port" "$kind" >>"$OUT/targets-$tag.tsv"
		i=$((i + 1))
	done
	TARGETS=$(awk '{ printf "127.0.0.1:%s ", $1 }' "$OUT/targets-$tag.tsv")
	PORTLIST=$(awk '{ printf "%s%s", sep, $1; sep = "," }' "$OUT/targets-$tag.tsv")
}

# untarget TAG - the targets must still be up and clean; stop them
untarget() {
	local tag=$1 p port
	for p in "${TARGET_PIDS[@]}"; do
		kill -0 "$p" 2>/dev/null || { log "$tag: sluiced $p died"; bad=1; }
	done
	for port in $(cut -f1 "$OUT/targets-$tag.tsv"); do
		if grep -E 'level=(err|crit)' "$OUT/$tag/t$port/sluiced.log" \
		    "$OUT/$tag/t$port/stderr" | head -3 | grep .; then
			bad=1
		fi
	done
	for p in "${TARGET_PIDS[@]}"; do stop_pid "$p"; done
}

: >"$OUT/times.tsv"
for rep in $(seq "$REPS"); do
	if [ $((rep % 2)) = 1 ]; then order="probe nmap"; else order="nmap probe"; fi
	for tool in $order; do
		targets "$tool-$rep"
		t0=$(now)
		if [ "$tool" = probe ]; then
			timeout "$PROBE_TIMEOUT" "$BIN/sluice" probe --json -q $TARGETS \
				>"$OUT/probe-$rep.json" 2>"$OUT/probe-$rep.err"
		else
			timeout "$NMAP_TIMEOUT" nmap -v -n -sV -p "$PORTLIST" \
				--script smtp-open-relay \
				--script-args smtp-open-relay.domain=outside.test,smtp-open-relay.ip=127.0.0.1 \
				-oX "$OUT/nmap-$rep.xml" 127.0.0.1 >"$OUT/nmap-$rep.txt" 2>&1
		fi
		rc=$?
		t1=$(now)
		printf '%s\t%s\t%s\t%s\n' "$tool" "$rep" "$(echo "$t1 - $t0" | bc)" \
			"$rc" >>"$OUT/times.tsv"
		log "$tool run $rep: $(echo "$t1 - $t0" | bc) s, exit $rc"
		untarget "$tool-$rep"
	done
done

# The interaction with sluiced's abuse rules: one closed target, default
# rules, tested by the probe three times in a row.
port=$(free_ports 1)
start_sluiced "$OUT/repeat/t$port" "$port" '"127.0.0.2/32"'
: >"$OUT/repeat.json"
for i in 1 2 3; do
	"$BIN/sluice" probe --json -q "127.0.0.1:$port" >>"$OUT/repeat.json" 2>/dev/null
	# cumulative: alerts so far, refusals by rule relay-denied so far
	printf '%s\t%s\t%s\n' "$i" \
		"$(grep -c 'event=abuse-alert' "$OUT/repeat/t$port/sluiced.log")" \
		"$(grep -c 'rule=relay-denied' "$OUT/repeat/t$port/sluiced.log")" \
		>>"$OUT/repeat.tsv"
done
# and what nmap makes of the blocked target
timeout "$NMAP_TIMEOUT" nmap -v -n -sV -p "$port" --script smtp-open-relay \
	--script-args smtp-open-relay.domain=outside.test,smtp-open-relay.ip=127.0.0.1 \
	-oX "$OUT/repeat-nmap.xml" 127.0.0.1 >"$OUT/repeat-nmap.txt" 2>&1
echo "$port" >"$OUT/repeat-port"
grep 'event=abuse-alert' "$OUT/repeat/t$port/sluiced.log" >"$OUT/repeat-alerts.log"
grep -o 'rule=[a-z-]*' "$OUT/repeat/t$port/sluiced.log" | sort | uniq -c >"$OUT/repeat-rules.txt"
stop_pid "$SLUICED_PID"

log "probe: done; outputs in $OUT"
exit $bad
