#!/bin/sh
# summary.sh RESULTS
#
# Reads the "<label> <suite> <passed> <failed>" lines tests/run_suites.sh
# appended, prints one row per suite and build, and ends with exactly one line
#     TOTAL: N passed, N failed
# Exits non-zero when anything failed or RESULTS is missing or empty.

if [ $# -ne 1 ]; then
    echo "usage: $0 RESULTS" >&2
    exit 2
fi
if [ ! -s "$1" ]; then
    echo "summary: no results in ${1} (no suite ran)"
    echo "TOTAL: 0 passed, 1 failed"
    exit 1
fi

awk '
    NF == 4 && $3 ~ /^[0-9]+$/ && $4 ~ /^[0-9]+$/ {
        if (!header++) {
            printf "%-8s %-28s %8s %8s\n", "build", "suite", "passed", "failed"
            printf "%-8s %-28s %8s %8s\n", "-----", "-----", "------", "------"
        }
        printf "%-8s %-28s %8d %8d%s\n", $1, $2, $3, $4, ($4 > 0 ? "   <-- FAILED" : "")
        p += $3; f += $4; next
    }
    NF > 0 { bad++ ; printf "summary: malformed line: %s\n", $0 }
    END {
        if (!header) f++
        f += bad
        printf "TOTAL: %d passed, %d failed\n", p, f
        exit (f > 0 ? 1 : 0)
    }
' "$1"
