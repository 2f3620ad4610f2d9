#!/bin/bash
# bench/smtp.sh - SMTP intake + Maildir delivery throughput, sluiced vs a
# private Postfix, in the same run, on loopback.
#
# For each concurrency in SMTP_CONC and each repetition, each server gets a
# fresh spool/queue and Maildir under bench/work/smtp/, then Postfix's
# smtp-source sends SMTP_MSGS messages of SMTP_SIZE bytes to
# box@example.test; the point is timed until every message is a file in the
# Maildir's new/ (bench/smtprun.py). Servers alternate, so slow drift in the
# machine's load hits both alike. Then, at the top concurrency, fsync and
# fdatasync calls are counted with strace (-c, and -y to see which file or
# directory each one was for).
#
# Output: bench/work/smtp/results.jsonl, bench/work/smtp/strace-*.txt
#
#   SMTP_MSGS=1000 SMTP_REPS=3 SMTP_CONC="1 10 50" SMTP_SIZE=4096
set -u
. "$(dirname "$0")/lib.sh"
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

MSGS=${SMTP_MSGS:-1000}
REPS=${SMTP_REPS:-3}
CONC=${SMTP_CONC:-"1 10 50"}
SIZE=${SMTP_SIZE:-4096}
TIMEOUT=${SMTP_TIMEOUT:-300}	# per point: smtp-source + delivery
OUT=$WORK/smtp

[ "$(id -u)" = 0 ] || die "run as root (a private Postfix needs it)"
for t in postfix strace $SMTP_SOURCE; do
	command -v "$t" >/dev/null || die "missing $t"
done
[ -n "${BENCH_SNAPSHOT_DONE:-}" ] || bench_snapshot
# Old results are moved aside, not deleted, and removed only at the end:
# on a journal-less ext4, creating files right after thousands were deleted
# costs extra (the inode allocator skips recently deleted inodes), which
# would slow whichever server runs first.
[ -d "$OUT" ] && mv "$OUT" "$WORK/trash.smtp.$$"
mkdir -p "$OUT"
RES=$OUT/results.jsonl
: >"$RES"
FAILS=0

# start SERVER DIR PORT - a fresh server; sets ROOTPID and NEWDIR
start() {
	case $1 in
	sluiced)
		BENCH_RAISE_RATES=1 start_sluiced "$2" "$3" '"127.0.0.0/8"'
		ROOTPID=$SLUICED_PID
		NEWDIR=$2/mail/box/new ;;
	postfix)
		start_postfix "$2" "$3"
		ROOTPID=$POSTFIX_MASTER
		NEWDIR=$2/mail/box/new ;;
	esac
}

stop() {
	case $1 in
	sluiced) stop_pid "$ROOTPID" ;;
	postfix) stop_postfix "$2" ;;
	esac
}

# problems SERVER DIR - error lines in the server's log
problems() {
	case $1 in
	sluiced) grep -E 'level=(err|crit|warn)' "$2/sluiced.log" "$2/stderr" ;;
	postfix) grep -E 'warning:|error:|fatal:|panic:|status=(deferred|bounced)' "$2/maillog" ;;
	esac | grep -v 'event=config-warning' | head -5
}

# point SERVER SESSIONS REP [TAG] - one measured run; appends to $RES
point() {
	local srv=$1 s=$2 rep=$3 tag=${4:-} port dir line rc hwm anon
	port=$(free_ports 1) || die "no free port"
	dir=$OUT/$srv-s$s-r$rep$tag
	start "$srv" "$dir" "$port"
	[ -n "$tag" ] && strace_start "$srv" "$dir" "$tag"
	line=$($PY "$BENCH_DIR/smtprun.py" --port "$port" --maildir "$NEWDIR" \
		--messages "$MSGS" --sessions "$s" --size "$SIZE" \
		--root-pid "$ROOTPID" --timeout "$TIMEOUT")
	rc=$?
	[ -n "$tag" ] && strace_stop
	if [ "$srv" = sluiced ]; then
		# the brief's figure: VmHWM of the process, read after the run
		hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$ROOTPID/status")
		anon=$(awk '/^RssAnon:/ { print $2 }' "/proc/$ROOTPID/status")
	else
		hwm=null anon=null
	fi
	local prob
	prob=$(problems "$srv" "$dir")
	stop "$srv" "$dir"
	[ $rc -eq 0 ] || { FAILS=$((FAILS + 1)); log "FAILED: $srv s=$s rep=$rep: $line"; }
	[ -n "$prob" ] && log "$srv s=$s rep=$rep log: $prob"
	$PY - "$srv" "$rep" "${tag#-}" "$hwm" "$anon" "$line" "$prob" >>"$RES" <<'EOF'
import json, sys
srv, rep, tag, hwm, anon, line, prob = sys.argv[1:]
try:
    r = json.loads(line)
except ValueError:
    r = {"error": line}
r.update(server=srv, rep=int(rep), tag=tag, problems=prob,
         after_hwm_kb=None if hwm == "null" else int(hwm),
         after_anon_kb=None if anon == "null" else int(anon))
print(json.dumps(r))
EOF
	log "$srv s=$s rep=$rep${tag:+ $tag}: $(tail -1 "$RES" | $PY -c '
import json, sys
r = json.loads(sys.stdin.read())
d = r.get("deliver_s")
print("%s msgs in %s s = %s msg/s, delivered %s, mem %s kB" % (r.get("messages"),
      d and round(d, 3), d and round(r["messages"] / d, 1), r.get("delivered"),
      r.get("after_hwm_kb") or r.get("rss_peak_kb")))')"
}

# strace_start SERVER DIR TAG - attach strace to every process of the server
STRACE_PID=
strace_start() {
	local srv=$1 dir=$2 tag=$3 pids args=() p i n
	pids=$($PY -c "
import sys; sys.path.insert(0, '$BENCH_DIR')
import smtprun; print(' '.join(map(str, smtprun.tree($ROOTPID))))")
	for p in $pids; do args+=(-p "$p"); done
	case $tag in
	-count) args+=(-c -w) ;;
	-paths) args+=(-y -T) ;;
	esac
	strace -f -e trace=fsync,fdatasync -o "$OUT/strace$tag-$srv.txt" \
		"${args[@]}" 2>"$OUT/strace$tag-$srv.err" &
	STRACE_PID=$!
	BENCH_PIDS+=("$STRACE_PID")
	n=$(echo $pids | wc -w)
	for i in $(seq 100); do	# until every process is attached (5 s)
		[ "$(grep -c attached "$OUT/strace$tag-$srv.err")" -ge "$n" ] && break
		sleep 0.05
	done
	sleep 0.2
}

strace_stop() {
	kill -INT "$STRACE_PID" 2>/dev/null
	wait "$STRACE_PID" 2>/dev/null
	forget_pid "$STRACE_PID"
}

log "smtp: $MSGS messages of $SIZE bytes per point, sessions: $CONC, $REPS repetitions"

# Disk baseline, outside any server: create a file of the message's size,
# fdatasync it (300 times, one after another), then fsync the directory.
mkdir -p "$OUT/disk"
$PY - "$OUT/disk" "$SIZE" >"$OUT/disk.json" <<'EOF'
import json, os, sys, time
d, size = sys.argv[1], int(sys.argv[2])
lat = []
for i in range(300):
    fd = os.open(f"{d}/f{i}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, b"x" * size)
    t = time.perf_counter()
    os.fdatasync(fd)
    lat.append(time.perf_counter() - t)
    os.close(fd)
dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
t = time.perf_counter()
os.fsync(dfd)
dl = time.perf_counter() - t
os.close(dfd)
lat.sort()
print(json.dumps({"fdatasync_median_ms": lat[len(lat) // 2] * 1e3,
                  "fdatasync_p90_ms": lat[len(lat) * 9 // 10] * 1e3,
                  "dir_fsync_ms": dl * 1e3, "n": len(lat)}))
EOF
log "smtp: disk baseline $(cat "$OUT/disk.json")"
for rep in $(seq "$REPS"); do
	for s in $CONC; do
		# alternate which server goes first
		if [ $((rep % 2)) = 1 ]; then order="sluiced postfix"; else order="postfix sluiced"; fi
		for srv in $order; do
			point "$srv" "$s" "$rep"
		done
	done
done

top=$(echo $CONC | awk '{ print $NF }')
log "smtp: fsync/fdatasync counts with strace at $top sessions"
for srv in sluiced postfix; do
	point "$srv" "$top" 1 -count
	point "$srv" "$top" 1 -paths
done

# Idle memory: how much of sluiced's footprint is the abuse-counter table
# (abuse.table_size, default 8192), measured on a fresh, idle instance.
: >"$OUT/idle.tsv"
for ts in default 1024; do
	port=$(free_ports 1) || die "no free port"
	dir=$OUT/idle-$ts
	start_sluiced "$dir" "$port" '"127.0.0.0/8"'
	if [ "$ts" != default ]; then
		stop_pid "$SLUICED_PID"
		printf 'abuse = { table_size = %s; };\n' "$ts" >>"$dir/sluiced.conf"
		"$BIN/sluiced" -c "$dir/sluiced.conf" >"$dir/stderr" 2>&1 &
		SLUICED_PID=$!
		BENCH_PIDS+=("$SLUICED_PID")
		wait_banner "$port" 10 || die "sluiced (table_size $ts) did not start"
	fi
	printf '%s\t%s\t%s\n' "$ts" \
		"$(awk '/^VmHWM:/ { print $2 }' "/proc/$SLUICED_PID/status")" \
		"$(awk '/^RssAnon:/ { print $2 }' "/proc/$SLUICED_PID/status")" \
		>>"$OUT/idle.tsv"
	stop_pid "$SLUICED_PID"
done

# (run.sh removes them at the very end, so that the relay benchmark does
# not start right after thousands of deletions either)
[ -z "${BENCH_KEEP_TRASH:-}" ] && [ -z "${BENCH_DEFER_TRASH:-}" ] &&
	rm -rf "$WORK"/trash.smtp.*
log "smtp: done, $FAILS failed points; results in $RES"
exit $(( FAILS > 0 ))
