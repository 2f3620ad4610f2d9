# bench/lib.sh - helpers shared by bench/smtp.sh, bench/relay.sh and
# bench/probe.sh.
# Sourced, not run. Loopback only; everything started here is recorded in
# BENCH_PIDS / BENCH_POSTFIX and stopped by bench_cleanup (trap EXIT).

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
WORK=${BENCH_WORK:-$BENCH_DIR/work}
BIN=$WORK/bin			# snapshot of build/ taken by bench_snapshot
PY=/usr/bin/python3
SMTP_SOURCE=/usr/sbin/smtp-source
SMTP_SINK=/usr/sbin/smtp-sink

BENCH_PIDS=()			# processes we started (killed by pid)
BENCH_POSTFIX=()		# config dirs of Postfix instances we started

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }
now() { date +%s.%N; }

bench_cleanup() {
	local d p
	for d in "${BENCH_POSTFIX[@]}"; do
		[ -d "$d" ] && postfix -c "$d" stop >/dev/null 2>&1
	done
	for p in "${BENCH_PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	sleep 0.3
	for p in "${BENCH_PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null
	done
	BENCH_PIDS=()
	BENCH_POSTFIX=()
}

# forget_pid PID - it has been stopped already
forget_pid() {
	local p keep=()
	for p in "${BENCH_PIDS[@]}"; do
		[ "$p" != "$1" ] && keep+=("$p")
	done
	BENCH_PIDS=("${keep[@]}")
}

# stop_pid PID - SIGTERM, wait (bounded), then SIGKILL
stop_pid() {
	local p=$1 i
	kill "$p" 2>/dev/null
	for i in $(seq 50); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	forget_pid "$p"
}

# bench_snapshot - copy the binaries, so that a rebuild by someone else in
# the middle of a run does not change what is measured
bench_snapshot() {
	mkdir -p "$BIN"
	[ -x "$ROOT/build/sluiced" ] && [ -x "$ROOT/build/sluice" ] ||
		die "build first: make -j2"
	cp -p "$ROOT/build/sluiced" "$ROOT/build/sluice" "$BIN/"
}

port_free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# free_ports N - N free loopback ports in 20000..32000 (outside the
# ephemeral range, so smtp-source's own connections cannot take them)
free_ports() {
	local n=$1 got=0 p tries=0
	while [ $got -lt "$n" ] && [ $tries -lt 2000 ]; do
		tries=$((tries + 1))
		p=$((20000 + RANDOM % 12000))
		port_free "$p" || continue
		$PY -c "import socket,sys; s=socket.socket(); s.bind(('127.0.0.1',$p))" 2>/dev/null || continue
		echo "$p"
		got=$((got + 1))
	done
	[ $got -eq "$n" ]
}

# wait_port PORT SECONDS - until something answers on 127.0.0.1:PORT
wait_port() {
	local i
	for i in $(seq $(( $2 * 20 ))); do
		port_free "$1" || return 0
		sleep 0.05
	done
	return 1
}

# wait_banner PORT SECONDS - until a 220 greeting comes back
wait_banner() {
	$PY - "$1" "$2" <<'EOF'
import socket, sys, time
port, limit = int(sys.argv[1]), float(sys.argv[2])
end = time.time() + limit
while time.time() < end:
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        s.settimeout(5)
        if s.recv(512).startswith(b"220"):
            s.sendall(b"QUIT\r\n"); s.close(); sys.exit(0)
        s.close()
    except OSError:
        pass
    time.sleep(0.05)
sys.exit(1)
EOF
}

# start_sluiced DIR PORT AUTHNETS - a sluiced on a fresh spool/Maildir in DIR
# (AUTHNETS is a libconfig list body, e.g. '"127.0.0.0/8"'); sets SLUICED_PID.
# BENCH_SLUICED_EXTRA, if set, is appended to its configuration.
start_sluiced() {
	local dir=$1 port=$2 nets=$3
	rm -rf "$dir"
	mkdir -p "$dir"
	cat >"$dir/sluiced.conf" <<EOF
hostname = "mx.sluice.test";
listen = [ "127.0.0.1:$port" ];
local_domains = [ "example.test" ];
spool_dir = "$dir/spool";
maildir_root = "$dir/mail";
log = "$dir/sluiced.log";
authorized_networks = [ $nets ];
limits = { sessions_per_ip = 1000; };
${BENCH_SLUICED_EXTRA:-}
EOF
	# The built-in abuse rules stay on, but a benchmark is one client
	# sending far more than a real one would: with BENCH_RAISE_RATES the
	# message-rate thresholds are raised out of reach (the counters still
	# run, so their cost is measured).
	if [ -n "${BENCH_RAISE_RATES:-}" ]; then
		"$BIN/sluiced" -p | awk '/^abuse = \{/,/^\};/' |
			sed -E 's/(messages per [a-z]+ >= )[0-9]+/\11000000000/g' \
			>>"$dir/sluiced.conf"
	fi
	"$BIN/sluiced" -c "$dir/sluiced.conf" >"$dir/stderr" 2>&1 &
	SLUICED_PID=$!
	BENCH_PIDS+=("$SLUICED_PID")
	wait_banner "$port" 10 || die "sluiced on $port did not start: $(cat "$dir/stderr")"
}

# start_postfix DIR PORT - a private Postfix instance on 127.0.0.1:PORT with
# Maildir delivery for example.test into DIR/mail/box/; sets POSTFIX_MASTER.
# BENCH_POSTFIX_EXTRA, if set, is appended to its main.cf (parameters not
# set above: Postfix warns about a parameter given twice).
start_postfix() {
	local dir=$1 port=$2 i
	rm -rf "$dir"
	mkdir -p "$dir/conf" "$dir/queue" "$dir/data" "$dir/mail"
	chown postfix "$dir/data"
	chown 65534:65534 "$dir/mail"
	cat >"$dir/conf/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $dir/queue
data_directory = $dir/data
maillog_file = /dev/stdout
myhostname = mx.postfix.test
mydomain = postfix.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
disable_dns_lookups = yes
smtp_host_lookup = native
relayhost = [127.0.0.1]:9
virtual_mailbox_domains = example.test
virtual_mailbox_base = $dir/mail
virtual_mailbox_maps = static:box/
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
smtpd_client_message_rate_limit = 0
${BENCH_POSTFIX_EXTRA:-}
EOF
	awk -v port="$port" '
		/^[ \t]*#/ || /^[ \t]*$/ || /^[ \t]/ { print; next }
		$1 == "smtp" && $2 == "inet" { $1 = "127.0.0.1:" port }
		NF >= 8 { $5 = "n" }
		{ print }' /etc/postfix/master.cf >"$dir/conf/master.cf"
	postfix -c "$dir/conf" start-fg >"$dir/maillog" 2>&1 &
	BENCH_PIDS+=("$!")
	BENCH_POSTFIX+=("$dir/conf")
	wait_banner "$port" 30 || die "postfix on $port did not start: $(tail -5 "$dir/maillog")"
	POSTFIX_MASTER=$(tr -d ' ' <"$dir/queue/pid/master.pid")
}

stop_postfix() {
	local conf=$1/conf d keep=()
	postfix -c "$conf" stop >/dev/null 2>&1
	for d in "${BENCH_POSTFIX[@]}"; do
		[ "$d" != "$conf" ] && keep+=("$d")
	done
	BENCH_POSTFIX=("${keep[@]}")
}

# start_sink DIR PORT - Postfix's smtp-sink on 127.0.0.1:PORT, printing its
# running counters (-c) to DIR/sink.out and dumping every transaction into
# its own file under DIR/dump/ (-d); sets SINK_PID
start_sink() {
	local dir=$1 port=$2
	rm -rf "$dir"
	mkdir -p "$dir/dump"
	chown 65534:65534 "$dir/dump"
	"$SMTP_SINK" -c -u nobody -d "$dir/dump/m." "127.0.0.1:$port" 1024 \
		>"$dir/sink.out" 2>"$dir/sink.err" &
	SINK_PID=$!
	BENCH_PIDS+=("$SINK_PID")
	wait_port "$port" 10 || die "smtp-sink on $port did not start: $(cat "$dir/sink.err")"
}

# count_files DIR - regular files in DIR (0 if it does not exist)
count_files() {
	if [ -d "$1" ]; then
		find "$1" -maxdepth 1 -type f | wc -l
	else
		echo 0
	fi
}

# median VALUES... - the median (middle of the sorted values)
median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END { if (NR % 2) print v[(NR + 1) / 2];
		      else printf "%.6g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
