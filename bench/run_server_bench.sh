#!/usr/bin/env bash
# Load on `medai serve` from wrk over loopback: image predict throughput and p50/p99 latency at
# concurrency 1, 8 and 32, with dynamic batching on and off, failed requests, resident memory.
#   bench/run_server_bench.sh MODEL_RUN_FOLDER IMAGE [BUILD_DIR] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${1:?model run folder (e.g. runs/pneumonia-r18)}
IMAGE=${2:?an image to send (PNG or JPEG)}
BUILD=${3:-build/release}
SECS=${4:-10}
TMP=$(mktemp -d)
trap 'kill $(cat "$TMP/pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$TMP"' EXIT
mkdir -p "$TMP/models"
ln -s "$(realpath "$RUN")" "$TMP/models/model"
TOKEN=$("$BUILD/apps/medai/medai" token create --role clinician --db "$TMP/medai.db")
case "$IMAGE" in *.png) TYPE=image/png ;; *) TYPE=image/jpeg ;; esac
cat > "$TMP/post.lua" <<LUA
local f = io.open("$IMAGE", "rb"); wrk.body = f:read("*a"); f:close()
wrk.method = "POST"
wrk.headers["Content-Type"] = "$TYPE"
wrk.headers["Authorization"] = "Bearer $TOKEN"
LUA
rss() { awk '/VmRSS/ {print $2 / 1024}' "/proc/$(cat "$TMP/pid")/status"; }
printf "%-9s %5s %10s %10s %10s %8s %8s\n" batching conc "req/s" "p50 ms" "p99 ms" failed "RSS MB"
for mode in on off; do
  extra=""; [ "$mode" = off ] && extra="--no-batching"
  "$BUILD/apps/medai/medai" -q serve --port 0 --models "$TMP/models" --db "$TMP/medai.db" --queue 256 $extra \
    > "$TMP/serve.log" 2>&1 &
  echo $! > "$TMP/pid"
  for _ in $(seq 200); do grep -q "listening on port" "$TMP/serve.log" && break; sleep 0.1; done
  PORT=$(sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "$TMP/serve.log")
  before=$(rss)
  for c in 1 8 32; do
    t=2; [ "$c" -lt 2 ] && t=1
    wrk -t $t -c $c -d "${SECS}s" --timeout 10s --latency -s "$TMP/post.lua" "http://127.0.0.1:$PORT/v1/models/model/predict" > "$TMP/wrk.txt"
    rps=$(awk '/Requests\/sec/ {print $2}' "$TMP/wrk.txt")
    p50=$(awk '$1 == "50%" {print $2}' "$TMP/wrk.txt")
    p99=$(awk '$1 == "99%" {print $2}' "$TMP/wrk.txt")
    bad=$(awk '/Non-2xx/ {n += $5} /Socket errors/ {gsub(",", ""); n += $4 + $6 + $8 + $10} END {print n + 0}' "$TMP/wrk.txt")
    printf "%-9s %5d %10s %10s %10s %8s %8.0f\n" "$mode" "$c" "$rps" "$p50" "$p99" "$bad" "$(rss)"
    echo "$mode $c $rps" >> "$TMP/rps"
  done
  echo "rss before load: ${before} MB (batching $mode)"
  kill "$(cat "$TMP/pid")"; wait "$(cat "$TMP/pid")" 2>/dev/null || true
done
awk '{r[$1" "$2] = $3} END {for (c in r) {}; split("1 8 32", cs, " "); for (i = 1; i <= 3; i++) \
  printf "concurrency %s: batching on / off throughput ratio %.2fx\n", cs[i], r["on " cs[i]] / r["off " cs[i]]}' "$TMP/rps"
