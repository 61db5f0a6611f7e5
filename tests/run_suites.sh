#!/bin/sh
# run_suites.sh BUILDDIR LABEL RESULTS
#
# Runs every test suite of one build directory and appends one line per suite
#     <label> <suite> <passed> <failed>
# to RESULTS (tests/summary.sh turns them into the final table). Suites:
#   unit               BUILDDIR/check_unit (Check: "N%: Checks: N, Failures: N, Errors: N")
#   fuzz:<name>        BUILDDIR/fuzz-replay/<name> tests/fuzz/corpus/<name>/ ("replay: N passed, N failed")
#   integration        tests/integration/run.py with FLEETD_BIN=BUILDDIR/fleetd
#   mqtt               tests/mqtt/run.py with FLEETD_BIN=BUILDDIR/fleetd: fleetd starts the Debian
#                      mosquitto with BUILDDIR/mosquitto_fleet.so. For a sanitizer build fleetd
#                      preloads its libasan into mosquitto (the ASan plugin cannot load otherwise),
#                      so the plugin runs instrumented; the plain build adds a valgrind run.
# A suite that is missing, crashes or prints no count is recorded as failed.
# Every suite runs even when an earlier one fails. The exit status is 0 once
# the results are recorded (so that `make test` goes on to the ASan build and
# the summary; tests/summary.sh is the gate), 2 on a usage error; set
# RUN_SUITES_STRICT=1 to exit 1 when any suite failed.

if [ $# -ne 3 ]; then
    echo "usage: $0 BUILDDIR LABEL RESULTS" >&2
    exit 2
fi

abspath() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s/%s\n' "$(pwd)" "$1" ;; esac; }
BUILD=$(abspath "$1")
LABEL=$2
RESULTS=$(abspath "$3")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
cd "$ROOT" || exit 2
mkdir -p "$(dirname "$RESULTS")"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/run_suites.XXXXXX") || exit 2
trap 'rm -rf "$TMP"' EXIT INT TERM
any_failed=0

# record SUITE PASSED FAILED
record() {
    echo "$LABEL $1 $2 $3" >> "$RESULTS"
    echo "== [$LABEL] $1: $2 passed, $3 failed"
    [ "$3" -eq 0 ] || any_failed=1
}

# run LOGFILE CMD...: runs CMD, shows its output as it comes, keeps it in
# LOGFILE, and leaves CMD's exit status in $rc.
run() {
    log=$1
    shift
    { "$@" 2>&1; echo $? > "$log.rc"; } | tee "$log"
    rc=$(cat "$log.rc" 2>/dev/null || echo 1)
}

# counts "passed failed" from a "<word>: N passed, N failed" line (the last one)
counts_from() {
    sed -n "s/^$1: \([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*/\1 \2/p" "$2" | tail -n 1
}

# ---- unit (Check) ------------------------------------------------------------
echo "== [$LABEL] unit: $BUILD/check_unit"
if [ -x "$BUILD/check_unit" ]; then
    run "$TMP/unit" "$BUILD/check_unit"
    line=$(sed -n 's/.*[0-9]*%: Checks: \([0-9][0-9]*\), Failures: \([0-9][0-9]*\), Errors: \([0-9][0-9]*\).*/\1 \2 \3/p' \
        "$TMP/unit" | tail -n 1)
    if [ -n "$line" ]; then
        set -- $line
        failed=$(($2 + $3))
        passed=$(($1 - failed))
        [ "$rc" -eq 0 ] || [ "$failed" -gt 0 ] || failed=1
        record unit "$passed" "$failed"
    else
        echo "unit: no Check summary line (exit status $rc)"
        record unit 0 1
    fi
else
    echo "unit: $BUILD/check_unit is missing"
    record unit 0 1
fi

# ---- fuzz corpus replays -----------------------------------------------------
nfuzz=0
for bin in "$BUILD"/fuzz-replay/*; do
    [ -f "$bin" ] && [ -x "$bin" ] || continue
    name=$(basename "$bin")
    nfuzz=$((nfuzz + 1))
    corpus="$ROOT/tests/fuzz/corpus/$name"
    echo "== [$LABEL] fuzz:$name: $bin $corpus/"
    if [ ! -d "$corpus" ]; then
        echo "fuzz:$name: corpus directory $corpus is missing"
        record "fuzz:$name" 0 1
        continue
    fi
    run "$TMP/fuzz-$name" "$bin" "$corpus/"
    line=$(counts_from replay "$TMP/fuzz-$name")
    if [ -n "$line" ]; then
        set -- $line
        failed=$2
        [ "$rc" -eq 0 ] || [ "$failed" -gt 0 ] || failed=1
        record "fuzz:$name" "$1" "$failed"
    else
        echo "fuzz:$name: no \"replay: N passed, N failed\" line (exit status $rc)"
        record "fuzz:$name" 0 1
    fi
done
[ "$nfuzz" -gt 0 ] || echo "== [$LABEL] fuzz: no replay binaries in $BUILD/fuzz-replay"

# ---- integration ---------------------------------------------------------------
echo "== [$LABEL] integration: FLEETD_BIN=$BUILD/fleetd"
if [ -x "$BUILD/fleetd" ]; then
    FLEETD_BIN="$BUILD/fleetd" run "$TMP/itest" "$PYTHON" "$ROOT/tests/integration/run.py"
    line=$(counts_from integration "$TMP/itest")
    if [ -n "$line" ]; then
        set -- $line
        failed=$2
        [ "$rc" -eq 0 ] || [ "$failed" -gt 0 ] || failed=1
        record integration "$1" "$failed"
    else
        echo "integration: no \"integration: N passed, N failed\" line (exit status $rc)"
        record integration 0 1
    fi
else
    echo "integration: $BUILD/fleetd is missing"
    record integration 0 1
fi

# ---- mqtt ----------------------------------------------------------------------
echo "== [$LABEL] mqtt: FLEETD_BIN=$BUILD/fleetd, plugin $BUILD/mosquitto_fleet.so"
if [ -x "$BUILD/fleetd" ] && [ -f "$BUILD/mosquitto_fleet.so" ]; then
    FLEETD_BIN="$BUILD/fleetd" run "$TMP/mqtt" "$PYTHON" "$ROOT/tests/mqtt/run.py"
    line=$(counts_from mqtt "$TMP/mqtt")
    if [ -n "$line" ]; then
        set -- $line
        failed=$2
        [ "$rc" -eq 0 ] || [ "$failed" -gt 0 ] || failed=1
        record mqtt "$1" "$failed"
    else
        echo "mqtt: no \"mqtt: N passed, N failed\" line (exit status $rc)"
        record mqtt 0 1
    fi
else
    echo "mqtt: $BUILD/fleetd or $BUILD/mosquitto_fleet.so is missing"
    record mqtt 0 1
fi

[ "${RUN_SUITES_STRICT:-0}" = 1 ] && exit $any_failed
exit 0
