#!/usr/bin/env bash
# The fleet's switch time (issue 14): 100 `maintgate map` processes, each
# with its own directory and config, one redis-server on loopback, and
# rounds of `maintgate on` / `off` from one host. Prints, per command, the
# time from the command's return to the last host answering the new way:
# p50 and max over the rounds; "sweep" is the floor of that measure (every
# host asked once, no change). Raw records: bench/results/fleet.jsonl.
#
#   bench/fleet/run.sh                                   # 100 hosts, 20 rounds
#   MAINTGATE_FLEET_HOSTS=50 MAINTGATE_FLEET_REPEATS=5 bench/fleet/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH=$PATH:/usr/local/go/bin
MAINTGATE_BENCH=1 go test -count=1 -timeout 20m -run '^TestBenchFleet$' -v ./tests/ | grep -E 'TestBenchFleet|rounds:|^(ok|FAIL)'
