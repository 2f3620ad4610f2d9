#!/bin/bash
# bench/relay.sh - relay throughput end to end, sluiced vs a private
# Postfix, in the same run, on loopback: smtp-source -> relay -> smtp-sink.
#
# For each concurrency in RELAY_CONC and each repetition, a fresh smtp-sink
# (Postfix's test server: counters with -c, one dump file per transaction
# with -d) and a fresh relay are started under bench/work/relay/. The relay
# trusts loopback (sluiced: authorized_networks; Postfix: mynetworks) and
# routes outside.test to the sink (sluiced: outbound.routes; Postfix:
# transport_maps). smtp-source sends RELAY_MSGS messages of RELAY_SIZE bytes
# to box@outside.test; the point is timed until smtp-sink has received all
# of them (bench/relayrun.py), then the sink's counters and dump files are
# checked: every message exactly once, and how many connections and
# transactions the relay used. Servers alternate, so slow drift in the
# machine's load hits both alike.
#
# Output: bench/work/relay/results.jsonl
#
#   RELAY_MSGS=1000 RELAY_REPS=3 RELAY_CONC="1 10 50" RELAY_SIZE=4096
set -u
. "$(dirname "$0")/lib.sh"
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

MSGS=${RELAY_MSGS:-1000}
REPS=${RELAY_REPS:-3}
CONC=${RELAY_CONC:-"1 10 50"}
SIZE=${RELAY_SIZE:-4096}
TIMEOUT=${RELAY_TIMEOUT:-300}	# per point: smtp-source + relaying
DOMAIN=outside.test
OUT=$WORK/relay

[ "$(id -u)" = 0 ] || die "run as root (a private Postfix needs it)"
for t in postfix $SMTP_SOURCE $SMTP_SINK; do
	command -v "$t" >/dev/null || die "missing $t"
done
[ -n "${BENCH_SNAPSHOT_DONE:-}" ] || bench_snapshot
# Old results are moved aside, not deleted (see smtp.sh)
[ -d "$OUT" ] && mv "$OUT" "$WORK/trash.relay.$$"
mkdir -p "$OUT"
RES=$OUT/results.jsonl
: >"$RES"
FAILS=0

# start SERVER DIR PORT SINKPORT - a fresh relay to the sink; sets ROOTPID
start() {
	case $1 in
	sluiced)
		BENCH_RAISE_RATES=1 BENCH_SLUICED_EXTRA="outbound = { routes = [ \"$DOMAIN [127.0.0.1]:$4\" ]; };" \
			start_sluiced "$2" "$3" '"127.0.0.0/8"'
		ROOTPID=$SLUICED_PID ;;
	postfix)
		BENCH_POSTFIX_EXTRA="transport_maps = inline:{ $DOMAIN=smtp:[127.0.0.1]:$4 }" \
			start_postfix "$2" "$3"
		ROOTPID=$POSTFIX_MASTER ;;
	esac
}

stop() {
	case $1 in
	sluiced) stop_pid "$ROOTPID" ;;
	postfix) stop_postfix "$2" ;;
	esac
}

# problems SERVER DIR - error lines, and deliveries that did not succeed at
# once, in the server's log
problems() {
	case $1 in
	sluiced) grep -E 'level=(err|crit|warn)|status=(deferred|bounced)' \
		"$2/sluiced.log" "$2/stderr" ;;
	postfix) grep -E 'warning:|error:|fatal:|panic:|status=(deferred|bounced)' "$2/maillog" ;;
	esac | grep -v 'event=config-warning' | head -5
}

# sent SERVER DIR - deliveries the server logged as sent
sent() {
	case $1 in
	sluiced) grep -c 'event=delivery .*status=sent' "$2/sluiced.log" ;;
	postfix) grep -c ' status=sent ' "$2/maillog" ;;
	esac
}

# point SERVER SESSIONS REP - one measured run; appends to $RES
point() {
	local srv=$1 s=$2 rep=$3 ports port sport dir line rc hwm anon prob nsent
	ports=$(free_ports 2) || die "no free ports"
	port=$(echo $ports | cut -d' ' -f1)
	sport=$(echo $ports | cut -d' ' -f2)
	dir=$OUT/$srv-s$s-r$rep
	mkdir -p "$dir"
	start_sink "$dir/sink" "$sport"
	start "$srv" "$dir/$srv" "$port" "$sport"
	line=$($PY "$BENCH_DIR/relayrun.py" --port "$port" \
		--sink-port "$sport" --sink-out "$dir/sink/sink.out" \
		--sink-dump "$dir/sink/dump" --sink-pid "$SINK_PID" \
		--messages "$MSGS" --sessions "$s" --size "$SIZE" \
		--rcpt "box@$DOMAIN" --root-pid "$ROOTPID" --timeout "$TIMEOUT")
	rc=$?
	if [ "$srv" = sluiced ]; then
		hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$ROOTPID/status")
		anon=$(awk '/^RssAnon:/ { print $2 }' "/proc/$ROOTPID/status")
	else
		hwm=null anon=null
	fi
	stop "$srv" "$dir/$srv"
	stop_pid "$SINK_PID"
	prob=$(problems "$srv" "$dir/$srv")
	nsent=$(sent "$srv" "$dir/$srv")
	[ $rc -eq 0 ] || { FAILS=$((FAILS + 1)); log "FAILED: $srv s=$s rep=$rep: $line"; }
	[ -n "$prob" ] && log "$srv s=$s rep=$rep log: $prob"
	$PY - "$srv" "$rep" "$hwm" "$anon" "$nsent" "$line" "$prob" >>"$RES" <<'EOF'
import json, sys
srv, rep, hwm, anon, nsent, line, prob = sys.argv[1:]
try:
    r = json.loads(line)
except ValueError:
    r = {"error": line}
r.update(server=srv, rep=int(rep), problems=prob,
         logged_sent=int(nsent or 0),
         after_hwm_kb=None if hwm == "null" else int(hwm),
         after_anon_kb=None if anon == "null" else int(anon))
print(json.dumps(r))
EOF
	log "$srv s=$s rep=$rep: $(tail -1 "$RES" | $PY -c '
import json, sys
r = json.loads(sys.stdin.read())
d = r.get("deliver_s")
print("%s msgs in %s s = %s msg/s; sink got %s (%s distinct) in %s sessions, "
      "%s at once at most; mem %s kB" % (r.get("messages"),
      d and round(d, 3), d and round(r["messages"] / d, 1), r.get("sink_msgs"),
      r.get("ids"), r.get("sink_sessions"), r.get("conn_peak"),
      r.get("after_hwm_kb") or r.get("rss_peak_kb")))')"
}

log "relay: $MSGS messages of $SIZE bytes per point, sessions: $CONC, $REPS repetitions"
for rep in $(seq "$REPS"); do
	for s in $CONC; do
		if [ $((rep % 2)) = 1 ]; then order="sluiced postfix"; else order="postfix sluiced"; fi
		for srv in $order; do
			point "$srv" "$s" "$rep"
		done
	done
done

[ -z "${BENCH_KEEP_TRASH:-}" ] && [ -z "${BENCH_DEFER_TRASH:-}" ] &&
	rm -rf "$WORK"/trash.relay.*
log "relay: done, $FAILS failed points; results in $RES"
exit $(( FAILS > 0 ))
