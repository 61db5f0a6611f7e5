# bench/lib.sh - shell functions the bench scripts share (bench/run.sh,
# bench/mqtt.sh, bench/firstboot.sh), sourced with `. "$BENCH_DIR/lib.sh"`.
# POSIX sh. Defines functions only; what a function reads from its caller
# (TABLE, WORK, FLEETD, PLUGIN) is named in its comment.

# need_bins FILE...: exit 2 unless every FILE is executable
need_bins() {
    for b in "$@"; do
        [ -x "$b" ] || { echo "bench: $b is missing (run make first)" >&2; exit 2; }
    done
}

# need_plugin BUILD: sets PLUGIN to the absolute path of BUILD's mosquitto_fleet.so; exit 2 without it
need_plugin() {
    PLUGIN=$(cd "$1" 2>/dev/null && pwd)/mosquitto_fleet.so
    [ -f "$PLUGIN" ] || { echo "bench: $PLUGIN is missing (make $1/mosquitto_fleet.so)" >&2; exit 2; }
}

# bench_output BUILD NAME: sets OUT (BUILD/bench-results), TABLE and RESULTS. A part run alone
# writes NAME-results.txt/.jsonl afresh; under bench/run.sh it appends to BENCH_TABLE/BENCH_RESULTS.
bench_output() {
    OUT=$1/bench-results
    mkdir -p "$OUT"
    TABLE=${BENCH_TABLE:-$OUT/$2-results.txt}
    RESULTS=${BENCH_RESULTS:-$OUT/$2-results.jsonl}
    [ -n "${BENCH_TABLE:-}" ] || : > "$TABLE"
    [ -n "${BENCH_RESULTS:-}" ] || : > "$RESULTS"
}

# say TEXT...: prints a line of the table and appends it to TABLE
say() { printf '%s\n' "$*" | tee -a "$TABLE"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

# field JSONLINE NAME: a number field of loadgen's or mqttgen's compact result line
field() { printf '%s\n' "$1" | sed -n "s/.*\"$2\":\([-0-9.eE+]*\).*/\1/p"; }

# keep_line [MESSAGE]: appends LINE (a result line) to RESULTS; sets FAILED=1, and prints MESSAGE
# when given, if LINE is empty or counts errors
keep_line() {
    [ -n "$LINE" ] && printf '%s\n' "$LINE" >> "$RESULTS"
    if [ -z "$LINE" ] || [ "$(field "$LINE" errors)" != 0 ]; then
        [ -z "${1:-}" ] || echo "$1" >&2
        # shellcheck disable=SC2034 # the caller's
        FAILED=1
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port PORT: until something accepts on 127.0.0.1:PORT (10 s)
wait_port() {
    python3 - "$1" <<'EOF'
import socket, sys, time
end = time.time() + 10
while time.time() < end:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.5).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
EOF
}

# record KEY VALUE / median KEY / runs KEY: medians over interleaved rounds, kept in WORK/values
record() { printf '%s %s\n' "$1" "${2:-0}" >> "$WORK/values"; }
median() {
    awk -v k="$1" '$1 == k { print $2 }' "$WORK/values" | sort -g |
        awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else print v[int((NR + 1) / 2)] }'
}
runs() { awk -v k="$1" '$1 == k { printf "%s%.0f", sep, $2; sep = "/" }' "$WORK/values"; }

is_mosquitto() { [ "$(cat "/proc/$1/comm" 2>/dev/null)" = mosquitto ]; }

# start_fleet_broker LOG: fleetd (FLEETD) with its broker (the plugin PLUGIN, EC device keys, MQTT on a
# free loopback port), data in WORK/data, output to LOG. Sets FLEETD_PID, CONN (connection.json),
# FLEET_PORT (the broker's TLS port) and FLEET_LOG. Exits 1 when it does not come up.
start_fleet_broker() {
    FLEET_LOG=$1
    mkdir -p "$WORK/data"
    FLEETD_DATA_DIR=$WORK/data FLEETD_HTTP_PORT=0 FLEETD_BROKER=on FLEETD_BROKER_PLUGIN=$PLUGIN \
        FLEETD_MQTT_PORT=0 FLEETD_MQTT_BIND=127.0.0.1 FLEETD_DEVICE_KEY_TYPE=ec \
        "$FLEETD" serve > "$FLEET_LOG" 2>&1 &
    FLEETD_PID=$!
    CONN=$WORK/data/connection.json
    i=0
    while [ $i -lt 300 ]; do
        grep -q mqttPort "$CONN" 2>/dev/null && grep -q '}' "$CONN" && [ -s "$WORK/data/broker/broker.pid" ] && break
        kill -0 "$FLEETD_PID" 2>/dev/null || break
        sleep 0.1
        i=$((i + 1))
    done
    FLEET_PORT=$(sed -n 's/.*"mqttPort": *\([0-9]*\).*/\1/p' "$CONN" 2>/dev/null)
    if [ -z "$FLEET_PORT" ] || ! wait_port "$FLEET_PORT"; then
        echo "bench: fleetd with its broker did not start; log:" >&2
        tail -n 20 "$FLEET_LOG" "$WORK/data/broker/mosquitto.log" >&2
        exit 1
    fi
    fleet_broker_pid > /dev/null
}

# fleet_broker_pid: the pid of the broker fleetd supervises, read each time (fleetd may have
# restarted it); exits 1 when it is not running
fleet_broker_pid() {
    p=$(cat "$WORK/data/broker/broker.pid" 2>/dev/null)
    if [ -n "$p" ] && is_mosquitto "$p"; then
        printf '%s' "$p"
    else
        echo "bench: fleetd's broker is not running; log:" >&2
        tail -n 20 "$WORK/data/broker/mosquitto.log" "$FLEET_LOG" >&2
        exit 1
    fi
}
