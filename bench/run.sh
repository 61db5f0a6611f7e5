#!/bin/sh
# bench/run.sh BUILD_DIR - `make bench`: fleetd against moto_server, same load, same run.
#
# Starts fleetd (fresh temporary data dir) and moto_server on free loopback
# ports, gives both the same registry (things, a 3-level group tree with the
# things spread over it), then drives each row with bench/loadgen against one
# server and then the other and prints ops/s, the fleetd/moto ratio and the
# errors; the same for CreateCertificateFromCsr (EC P-256 CSR) and
# TestAuthorization (fleetd alone when moto lacks it). Then DescribeThing at 1k
# things against 1M things on fleetd alone, then the MQTT broker rows
# (bench/mqtt.sh: mosquitto bare vs with the fleet plugin), then first boots
# with fleet provisioning against the bare connect rate (bench/firstboot.sh).
# Everything it starts is stopped on exit. Only 127.0.0.1 is ever contacted.
#
# Environment:
#   BENCH_QUICK=1            small smoke version (well under a minute)
#   BENCH_SEED_SECONDS=N     time budget for seeding the 1M things (default 180)
#   BENCH_BIG=N              size of the large registry (default 1000000)
#   FLEETD_HTTP_THREADS=N    passed to fleetd (its default is 4)
#   BENCH_PARTS="..."        which parts to run, any of: registry scale mqtt firstboot (default: all)
set -u

BUILD=${1:?usage: bench/run.sh BUILD_DIR}
BENCH_DIR=$(dirname "$0")
. "$BENCH_DIR/lib.sh"
FLEETD=$BUILD/fleetd
LOADGEN=$BUILD/loadgen
need_bins "$FLEETD" "$LOADGEN"
PARTS=" ${BENCH_PARTS:-registry scale mqtt firstboot} "
part() { case $PARTS in *" $1 "*) return 0 ;; esac; return 1; }
if part registry; then
    command -v moto_server >/dev/null 2>&1 || { echo "bench: moto_server not on PATH" >&2; exit 2; }
    command -v openssl >/dev/null 2>&1 || { echo "bench: openssl not on PATH" >&2; exit 2; }
fi

if [ "${BENCH_QUICK:-0}" = 1 ]; then
    MODE=quick
    THINGS=300          # registry both servers get
    F_DUR=1; F_WARM=0.3 # fleetd: seconds measured, warm-up seconds
    M_DUR=1; M_WARM=0.2 # moto
    SMALL=1000
    BIG=${BENCH_BIG:-20000}
    SEED_SECONDS=${BENCH_SEED_SECONDS:-30}
    FALLBACK=10000
else
    MODE=full
    THINGS=4000
    F_DUR=5; F_WARM=1
    M_DUR=4; M_WARM=0.5
    SMALL=1000
    BIG=${BENCH_BIG:-1000000}
    SEED_SECONDS=${BENCH_SEED_SECONDS:-180}
    FALLBACK=200000
fi
F_CONNS=8; F_THREADS=2   # fleetd: 8 keep-alive connections over 2 loadgen threads
M_CONNS=2; M_THREADS=1   # moto is GIL-bound: more connections only add queueing
HTTP_THREADS=${FLEETD_HTTP_THREADS:-4}

WORK=$(mktemp -d /tmp/fleetd-bench.XXXXXX) || exit 2
OUT=$BUILD/bench-results
mkdir -p "$OUT"
RESULTS=$OUT/results.jsonl
TABLE=$OUT/results.txt
: > "$RESULTS"
FLEETD_PID=
MOTO_PID=
FAILED=0

# shellcheck disable=SC2317 # invoked by trap
cleanup() {
    for p in $FLEETD_PID $MOTO_PID; do
        kill "$p" 2>/dev/null
    done
    for p in $FLEETD_PID $MOTO_PID; do
        wait "$p" 2>/dev/null
    done
    FLEETD_PID=
    MOTO_PID=
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE

# start_fleetd DATADIR LOG: sets FLEETD_PID, FLEETD_CONN
start_fleetd() {
    mkdir -p "$1"
    # FLEETD_BROKER=off: these rows measure the REST API alone
    FLEETD_DATA_DIR=$1 FLEETD_HTTP_PORT=0 FLEETD_HTTP_THREADS=$HTTP_THREADS FLEETD_BROKER=off \
        "$FLEETD" serve > "$2" 2>&1 &
    FLEETD_PID=$!
    FLEETD_CONN=$1/connection.json
    i=0
    while [ $i -lt 200 ]; do
        if [ -s "$FLEETD_CONN" ] && grep -q secretAccessKey "$FLEETD_CONN" && grep -q '}' "$FLEETD_CONN"; then
            return 0
        fi
        kill -0 "$FLEETD_PID" 2>/dev/null || break
        sleep 0.1
        i=$((i + 1))
    done
    echo "bench: fleetd did not start; log $2:" >&2
    tail -n 20 "$2" >&2
    exit 1
}

stop_fleetd() {
    [ -n "$FLEETD_PID" ] || return 0
    kill "$FLEETD_PID" 2>/dev/null
    wait "$FLEETD_PID" 2>/dev/null
    FLEETD_PID=
}

# start_moto LOG: sets MOTO_PID, MOTO_PORT
start_moto() {
    MOTO_PORT=$(free_port)
    moto_server -H 127.0.0.1 -p "$MOTO_PORT" > "$1" 2>&1 &
    MOTO_PID=$!
    i=0
    while [ $i -lt 300 ]; do
        if curl -s -o /dev/null "http://127.0.0.1:$MOTO_PORT/moto-api/" 2>/dev/null; then
            return 0
        fi
        kill -0 "$MOTO_PID" 2>/dev/null || break
        sleep 0.1
        i=$((i + 1))
    done
    echo "bench: moto_server did not start; log $1:" >&2
    tail -n 20 "$1" >&2
    exit 1
}

stop_moto() {
    [ -n "$MOTO_PID" ] || return 0
    kill "$MOTO_PID" 2>/dev/null
    wait "$MOTO_PID" 2>/dev/null
    MOTO_PID=
}

# lg SERVER ARGS...: runs loadgen against fleetd or moto; sets LINE (the JSON
# result, or empty) and records it.
lg() {
    server=$1
    shift
    if [ "$server" = fleetd ]; then
        LINE=$("$LOADGEN" "$@" --conn "$FLEETD_CONN" --label fleetd)
    else
        LINE=$("$LOADGEN" "$@" --target "127.0.0.1:$MOTO_PORT" --label moto)
    fi
    keep_line ""
    alive "$server"
}

alive() {
    if [ "$1" = fleetd ] && ! kill -0 "$FLEETD_PID" 2>/dev/null; then
        echo "bench: fleetd has exited; last log lines:" >&2
        tail -n 20 "$WORK/fleetd.log" >&2
        cp "$WORK"/fleetd*.log "$OUT"/ 2>/dev/null
        exit 1
    fi
    if [ "$1" = moto ] && ! kill -0 "$MOTO_PID" 2>/dev/null; then
        echo "bench: moto_server has exited" >&2
        exit 1
    fi
}

# The group tree: bench-root > bench-l1-{0..3} > bench-l2-{0..3}-{0..3}
# (21 groups, listed parents first), plus 9 flat groups for the Add row: a
# thing may be in 10 groups, so things x 9 new memberships are available.
TREE=bench-root
i=0
while [ $i -lt 4 ]; do TREE="$TREE,bench-l1-$i@bench-root"; i=$((i + 1)); done
i=0
while [ $i -lt 4 ]; do
    j=0
    while [ $j -lt 4 ]; do TREE="$TREE,bench-l2-$i-$j@bench-l1-$i"; j=$((j + 1)); done
    i=$((i + 1))
done
TREE_NAMES=$(printf '%s' "$TREE" | sed 's/@[^,]*//g')
FLAT=bench-add-0
i=1
while [ $i -lt 9 ]; do FLAT="$FLAT,bench-add-$i"; i=$((i + 1)); done

# lg_all SERVER N ARGS...: a setup step that must complete all N requests
lg_all() {
    server=$1
    want=$2
    shift 2
    lg "$server" "$@" --count "$want"
    if [ "$(field "$LINE" ops)" != "$want" ]; then
        echo "bench: $server setup '$1' did $(field "$LINE" ops) of $want requests" >&2
        FAILED=1
    fi
}

# lg_median SERVER ARGS...: three runs (each recorded by lg); LINE is the median
# one by ops/s and RUNS lists the three rates: one short run is at the mercy of
# whatever else the machine is doing.
lg_median() {
    r1=$(lg "$@"; printf '%s' "$LINE")
    r2=$(lg "$@"; printf '%s' "$LINE")
    r3=$(lg "$@"; printf '%s' "$LINE")
    RUNS=""
    for l in "$r1" "$r2" "$r3"; do
        [ "$(field "$l" errors)" = 0 ] || FAILED=1
        RUNS="$RUNS $(printf '%.0f' "$(field "$l" ops_per_sec)")"
    done
    LINE=$(printf '%s\n%s\n%s\n' "$r1" "$r2" "$r3" |
        awk '{ v = $0; sub(/.*"ops_per_sec":/, "", v); sub(/[,}].*/, "", v); print v " " $0 }' |
        sort -n | sed -n '2s/^[^ ]* //p')
}

# cert_setup: the CSR body for CreateCertificateFromCsr, and for TestAuthorization
# a policy, thing t1 and its certificate on fleetd (bench/fleet_setup.py,
# boto3). moto gets the same when it implements TestAuthorization (MOTO_TA=1).
cert_setup() {
    if ! openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/csr.key" \
        -subj /CN=bench-csr -out "$WORK/csr.pem" 2>/dev/null; then
        echo "bench: openssl could not make the EC CSR" >&2
        exit 1
    fi
    python3 -c 'import json, sys
print(json.dumps({"certificateSigningRequest": open(sys.argv[1]).read()}, separators=(",", ":")), end="")' \
        "$WORK/csr.pem" > "$WORK/csr.json"
    mkdir -p "$WORK/authz-fleetd" "$WORK/authz-moto"
    if ! python3 "$BENCH_DIR/fleet_setup.py" authz --conn "$FLEETD_CONN" --out "$WORK/authz-fleetd" > /dev/null; then
        echo "bench: TestAuthorization setup on fleetd failed" >&2
        exit 1
    fi
    cp "$WORK/authz-fleetd/testauth.json" "$WORK/testauth-fleetd.json"
    MOTO_VERSION=$(python3 -c 'import moto; print(moto.__version__)' 2>/dev/null)
    # does moto have the operation at all? (one request; its log says so when not)
    "$LOADGEN" request --method POST --path '/test-authorization?clientId=t1' \
        --body-file "$WORK/testauth-fleetd.json" --target "127.0.0.1:$MOTO_PORT" --count 1 > /dev/null 2>&1
    if grep -q 'test_authorization action has not been implemented' "$WORK/moto.log"; then
        MOTO_TA=0
    else
        MOTO_TA=1
        printf '{"apiEndpoint":"http://127.0.0.1:%s","region":"us-east-1","accountId":"123456789012",%s}\n' \
            "$MOTO_PORT" '"accessKeyId":"testing","secretAccessKey":"testing"' > "$WORK/moto-conn.json"
        if ! python3 "$BENCH_DIR/fleet_setup.py" authz --conn "$WORK/moto-conn.json" --out "$WORK/authz-moto" \
            > /dev/null; then
            echo "bench: TestAuthorization setup on moto failed" >&2
            exit 1
        fi
        cp "$WORK/authz-moto/testauth.json" "$WORK/testauth-moto.json"
    fi
}

setup() { # SERVER CONNS
    lg_all "$1" "$THINGS" seed --prefix bench --attrs --connections "$2"
    lg_all "$1" 21 create-group --groups "$TREE"
    lg_all "$1" 9 create-group --groups "$FLAT"
    lg_all "$1" "$THINGS" add-thing-to-group --spread --things "$THINGS" --prefix bench --groups "$TREE_NAMES" \
        --connections "$2"
}

# Row definitions: name | loadgen arguments (same for both servers).
row_args() {
    case $1 in
    CreateThing) echo "create-thing --prefix new --attrs" ;;
    DescribeThing) echo "describe-thing --prefix bench --things $THINGS" ;;
    ListThings) echo "list-things --max-results 50 --nonempty" ;;
    AddThingToThingGroup) echo "add-thing-to-group --prefix bench --things $THINGS --groups $FLAT" \
        "--count $((THINGS * 9))" ;;
    ListThingsInThingGroup) echo "list-things-in-group --groups bench-root --max-results 50 --nonempty" ;;
    CreateCertificateFromCsr) echo "request --method POST --path /certificates?setAsActive=true" \
        "--body-file $WORK/csr.json --expect \"certificatePem\"" ;;
    TestAuthorization) echo "request --method POST --path /test-authorization?clientId=t1" \
        "--body-file $WORK/testauth-$2.json --expect \"authDecision\":\"ALLOWED\"" ;;
    esac
}
# CreateThing grows the registry, so it runs last; the table keeps the issue's order.
RUN_ORDER="DescribeThing ListThings ListThingsInThingGroup AddThingToThingGroup CreateThing
    CreateCertificateFromCsr TestAuthorization"
TABLE_ORDER="CreateThing DescribeThing ListThings AddThingToThingGroup ListThingsInThingGroup"
CERT_ORDER="CreateCertificateFromCsr TestAuthorization"

: > "$TABLE"
say "fleetd bench ($MODE) - $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
if part registry; then
    say "fleetd: $F_CONNS connections / $F_THREADS loadgen threads, ${F_WARM} s warm-up + ${F_DUR} s per row," \
        "FLEETD_HTTP_THREADS=$HTTP_THREADS"
    say "moto:   $M_CONNS connections / $M_THREADS loadgen thread, ${M_WARM} s warm-up + ${M_DUR} s per row" \
        "(GIL-bound: more connections only queue)"
    say "setup on both: $THINGS things with 2 attributes; groups $(printf '%s' "$TREE_NAMES" | awk -F, '{print NF}')" \
        "(bench-root > 4 > 16) with thing i in group i % 21; 9 flat groups for AddThingToThingGroup"
    say "every request SigV4-signed at send time (service iot) on both servers; moto does not verify"
    say ""

    start_fleetd "$WORK/data-cmp" "$WORK/fleetd.log"
    start_moto "$WORK/moto.log"
    setup fleetd "$F_CONNS"
    setup moto "$M_CONNS"
    if [ $FAILED = 1 ]; then
        say "WARNING: setup had errors (see stderr above)"
    fi

    cert_setup
    for row in $RUN_ORDER; do
        fw=$F_WARM
        mw=$M_WARM
        # every Add is a new membership, so none are spent on warm-up
        [ "$row" = AddThingToThingGroup ] && fw=0 && mw=0
        set -f # the paths hold '?'
        # shellcheck disable=SC2046
        lg fleetd $(row_args "$row" fleetd) --connections "$F_CONNS" --threads "$F_THREADS" \
            --duration "$F_DUR" --warmup "$fw"
        eval "F_$row=\$LINE"
        eval "M_$row="
        if [ "$row" != TestAuthorization ] || [ "$MOTO_TA" = 1 ]; then
            # shellcheck disable=SC2046
            lg moto $(row_args "$row" moto) --connections "$M_CONNS" --threads "$M_THREADS" \
                --duration "$M_DUR" --warmup "$mw"
            eval "M_$row=\$LINE"
        fi
        set +f
    done
    stop_moto

    say "$(printf '%-24s | %12s | %10s | %8s | %-9s | %-13s | %s' row 'fleetd ops/s' 'moto ops/s' ratio 'errors' \
        'things/op' 'p50 ms (fleetd/moto)')"
    say "-------------------------+--------------+------------+----------+-----------+---------------+---------------------"
    ALL50=1
    for row in $TABLE_ORDER; do
        f=$(eval "printf '%s' \"\$F_$row\"")
        m=$(eval "printf '%s' \"\$M_$row\"")
        fo=$(field "$f" ops_per_sec); mo=$(field "$m" ops_per_sec)
        fe=$(field "$f" errors); me=$(field "$m" errors)
        fp=$(field "$f" p50_ms); mp=$(field "$m" p50_ms)
        fi=$(field "$f" items_per_op); mi=$(field "$m" items_per_op)
        line=$(awk -v r="$row" -v fo="${fo:-0}" -v mo="${mo:-0}" -v fe="${fe:-?}" -v me="${me:-?}" \
            -v fp="${fp:-0}" -v mp="${mp:-0}" -v fi="$fi" -v mi="$mi" 'BEGIN {
                ratio = (mo > 0) ? sprintf("%.1fx", fo / mo) : "n/a";
                items = (fi != "" || mi != "") ? sprintf("%.0f / %.0f", fi, mi) : "-";
                printf "%-24s | %12.0f | %10.0f | %8s | %-9s | %-13s | %.2f / %.2f",
                    r, fo, mo, ratio, fe "/" me, items, fp, mp }')
        say "$line"
        ok=$(awk -v fo="${fo:-0}" -v mo="${mo:-0}" -v fe="${fe:-1}" \
            'BEGIN { print (mo > 0 && fo >= 50 * mo && fe == 0) ? 1 : 0 }')
        [ "$ok" = 1 ] || ALL50=0
    done
    say ""
    say "things/op: things returned per list page, on average (fleetd / moto)."
    say "note: moto ignores recursive and maxResults in ListThingsInThingGroup: it returns bench-root's direct"
    say "      members ($((THINGS / 21 + 1)) names) in one response, where fleetd walks the whole subtree 50 per page."
    say "      AddThingToThingGroup: every op is a new (thing, group) membership, at most things x 9 = $((THINGS * 9)) ops"
    say "      (no idempotent re-adds), so on fleetd that row may end before its duration."
    say "      moto's ListThings/DescribeThing scan all things per request (they slow down as the registry grows)."
    say "      fleetd and the load generator share this machine's $(nproc) CPUs (client_cpu_s in the raw results)."
    if [ $ALL50 = 1 ]; then
        say "goal fleetd >= 50x moto on every row above with zero errors: MET"
    else
        say "goal fleetd >= 50x moto on every row above with zero errors: NOT MET"
    fi

    # ---- certificates and authorization (issue 3): no goal, the ratio is reported
    say ""
    say "$(printf '%-24s | %12s | %10s | %8s | %-9s | %s' row 'fleetd ops/s' 'moto ops/s' ratio errors \
        'p50 ms (fleetd/moto)')"
    say "-------------------------+--------------+------------+----------+-----------+---------------------"
    for row in $CERT_ORDER; do
        f=$(eval "printf '%s' \"\$F_$row\"")
        m=$(eval "printf '%s' \"\$M_$row\"")
        fo=$(field "$f" ops_per_sec); fe=$(field "$f" errors); fp=$(field "$f" p50_ms)
        if [ -z "$m" ]; then
            say "$(awk -v r="$row" -v fo="${fo:-0}" -v fe="${fe:-?}" -v fp="${fp:-0}" 'BEGIN {
                printf "%-24s | %12.0f | %10s | %8s | %-9s | %.2f / -", r, fo, "-", "n/a", fe "/-", fp }')"
            continue
        fi
        mo=$(field "$m" ops_per_sec); me=$(field "$m" errors); mp=$(field "$m" p50_ms)
        say "$(awk -v r="$row" -v fo="${fo:-0}" -v mo="${mo:-0}" -v fe="${fe:-?}" -v me="${me:-?}" \
            -v fp="${fp:-0}" -v mp="${mp:-0}" 'BEGIN {
                ratio = (mo > 0) ? sprintf("%.1fx", fo / mo) : "n/a";
                printf "%-24s | %12.0f | %10.0f | %8s | %-9s | %.2f / %.2f", r, fo, mo, ratio, fe "/" me, fp, mp }')"
    done
    say ""
    say "CreateCertificateFromCsr: POST /certificates?setAsActive=true with one EC P-256 CSR (openssl req); each op"
    say "      issues and stores a new certificate (fleetd signs with its EC P-256 CA; moto makes an RSA-2048 key"
    say "      per call and ignores the CSR's key)."
    say "TestAuthorization: POST /test-authorization?clientId=t1, PUBLISH on topic/things/t1/x by a certificate"
    say "      with a 6-statement policy using \${iot:Connection.Thing.ThingName} and thing t1 attached; every"
    say "      answer must say ALLOWED."
    if [ "$MOTO_TA" = 0 ]; then
        say "      moto: not implemented (moto $MOTO_VERSION answers 500 NotImplementedError), so fleetd alone."
    fi
    stop_fleetd
    cp "$WORK/fleetd.log" "$WORK/moto.log" "$OUT"/ 2>/dev/null
fi

# ---- DescribeThing at 1k vs 1M things, fleetd alone -------------------------
if part scale; then
    say ""
    start_fleetd "$WORK/data-scale" "$WORK/fleetd-scale.log"
    lg_all fleetd "$SMALL" seed --prefix s --connections "$F_CONNS"
    lg_median fleetd describe-thing --prefix s --things "$SMALL" --connections "$F_CONNS" --threads "$F_THREADS" \
        --duration "$F_DUR" --warmup "$F_WARM"
    SMALL_LINE=$LINE
    SMALL_RUNS=$RUNS
    T0=$(date +%s)
    lg fleetd seed --start "$SMALL" --count $((BIG - SMALL)) --prefix s --connections "$F_CONNS" \
        --threads "$F_THREADS" --duration "$SEED_SECONDS" --progress
    SEED_LINE=$LINE
    SEEDED=$(field "$SEED_LINE" ops)
    SEED_RATE=$(field "$SEED_LINE" ops_per_sec)
    N=$((SMALL + ${SEEDED:-0}))
    SEED_NOTE="seeded $((N - SMALL)) things in $(($(date +%s) - T0)) s ($(printf '%.0f' "${SEED_RATE:-0}")/s CreateThing)"
    if [ "$N" -lt "$BIG" ]; then
        SEED_NOTE="$SEED_NOTE; FALLBACK: $BIG did not fit in the ${SEED_SECONDS} s budget, measuring at $N things"
        [ "$N" -lt "$FALLBACK" ] && SEED_NOTE="$SEED_NOTE (below the $FALLBACK fallback size)"
    fi
    lg_median fleetd describe-thing --prefix s --things "$N" --connections "$F_CONNS" --threads "$F_THREADS" \
        --duration "$F_DUR" --warmup "$F_WARM"
    BIG_LINE=$LINE
    BIG_RUNS=$RUNS
    stop_fleetd
    cp "$WORK/fleetd-scale.log" "$OUT"/ 2>/dev/null

    so=$(field "$SMALL_LINE" ops_per_sec); bo=$(field "$BIG_LINE" ops_per_sec)
    se=$(field "$SMALL_LINE" errors); be=$(field "$BIG_LINE" errors)
    say "DescribeThing scale (fleetd alone; $SEED_NOTE)"
    say "$(awk -v s="${so:-0}" -v b="${bo:-0}" -v n="$N" -v k="$SMALL" -v se="${se:-?}" -v be="${be:-?}" \
        -v sr="$SMALL_RUNS" -v br="$BIG_RUNS" 'BEGIN {
        printf "  at %d things: %.0f ops/s, median of 3 runs (%s) (errors %s)\n", k, s, substr(sr, 2), se;
        printf "  at %d things: %.0f ops/s, median of 3 runs (%s) (errors %s)\n", n, b, substr(br, 2), be;
        r = (s > 0) ? b / s : 0;
        printf "  ratio %.2f (goal >= 0.8): %s", r, (r >= 0.8 && se == 0 && be == 0) ? "MET" : "NOT MET" }')"
    say ""
fi
# ---- MQTT: mosquitto bare vs with the fleet plugin (issue 4) ---------------------
if part mqtt; then
    BENCH_TABLE=$TABLE BENCH_RESULTS=$RESULTS sh "$BENCH_DIR/mqtt.sh" "$BUILD" || FAILED=1
    say ""
fi
# ---- first boots (fleet provisioning) vs bare connects (issue 5) -------------------
if part firstboot; then
    BENCH_TABLE=$TABLE BENCH_RESULTS=$RESULTS sh "$BENCH_DIR/firstboot.sh" "$BUILD" || FAILED=1
    say ""
fi
say "raw results: $RESULTS; table: $TABLE"
[ $FAILED = 0 ] || { echo "bench: some runs had errors (see above)" >&2; exit 1; }
exit 0
