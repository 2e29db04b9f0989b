#!/usr/bin/env bash
# Soak: wrk on loopback at concurrency 32 for SECONDS (default 600) mixing image predictions,
# glucose recommendations and /metrics, while an admin reloads the model every 5 s. Reports
# requests, failed requests (non-2xx or socket errors; goal 0), p50/p99 and resident memory at
# start and end (goal: growth < 5 %). Bounded: wrk stops after SECONDS, the server is stopped.
#   bench/run_soak_bench.sh MODEL_RUN_FOLDER IMAGE [BUILD_DIR] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${1:?model run folder (e.g. runs/pneumonia-r18)}
IMAGE=${2:?an image to send (PNG or JPEG)}
BUILD=${3:-build/release}
SECS=${4:-600}
RELOAD_S=${RELOAD_S:-5}  # seconds between admin reloads (0: none, to tell traffic from reload growth)
M="$BUILD/apps/medai/medai"
TMP=$(mktemp -d)
trap 'kill $(cat "$TMP/pid" 2>/dev/null) 2>/dev/null || true; kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT
mkdir -p "$TMP/models"
ln -s "$(realpath "$RUN")" "$TMP/models/model"
TOKEN=$("$M" token create --role clinician --db "$TMP/medai.db")
ADMIN=$("$M" token create --role admin --db "$TMP/medai.db")
case "$IMAGE" in *.png) TYPE=image/png ;; *) TYPE=image/jpeg ;; esac
HIST='timestamp,cgm_mgdl\n'
for i in $(seq 0 11); do HIST+=$(printf '2026-01-01 07:%02d:00,%d\\n' $((i * 5)) $((150 + i))); done
cat > "$TMP/mix.lua" <<LUA
local f = io.open("$IMAGE", "rb"); local image = f:read("*a"); f:close()
local rec = [[{"history": "$HIST", "carbs_g": 30, "settings": {"basal_u_per_h": 1, "cr": 10, "cf": 40, "tdi": 40}}]]
local n = 0
request = function()
  n = n + 1
  local k = n % 10
  if k < 6 then
    return wrk.format("POST", "/v1/models/model/predict", {["Content-Type"] = "$TYPE", ["Authorization"] = "Bearer $TOKEN"}, image)
  elseif k < 9 then
    return wrk.format("POST", "/v1/glucose/recommend", {["Content-Type"] = "application/json", ["Authorization"] = "Bearer $TOKEN"}, rec)
  end
  return wrk.format("GET", "/metrics")
end
LUA
"$M" -q serve --port 0 --models "$TMP/models" --db "$TMP/medai.db" --queue 256 > "$TMP/serve.log" 2>&1 &
echo $! > "$TMP/pid"
for _ in $(seq 300); do grep -q "listening on port" "$TMP/serve.log" && break; sleep 0.1; done
PORT=$(sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "$TMP/serve.log")
rss() { awk '/VmRSS/ {print $2 / 1024}' "/proc/$(cat "$TMP/pid")/status"; }
# Warm-up so start-up allocations are not counted as growth.
wrk -t 2 -c 32 -d 10s --timeout 10s -s "$TMP/mix.lua" "http://127.0.0.1:$PORT" > /dev/null
before=$(rss)
( end=$((SECONDS + SECS)); reloads=0; bad=0
  while [ "$RELOAD_S" -gt 0 ] && [ $SECONDS -lt $end ]; do
    sleep "$RELOAD_S"
    code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $ADMIN" -d '' \
           "http://127.0.0.1:$PORT/v1/admin/models/model/reload")
    reloads=$((reloads + 1)); [ "$code" = 200 ] || bad=$((bad + 1))
  done; echo "$reloads $bad" > "$TMP/reloads" ) &
admin_pid=$!
wrk -t 2 -c 32 -d "${SECS}s" --timeout 10s --latency -s "$TMP/mix.lua" "http://127.0.0.1:$PORT" > "$TMP/wrk.txt"
wait "$admin_pid"
after=$(rss)
reqs=$(awk '/requests in/ {print $1}' "$TMP/wrk.txt")
rps=$(awk '/Requests\/sec/ {print $2}' "$TMP/wrk.txt")
p50=$(awk '$1 == "50%" {print $2}' "$TMP/wrk.txt")
p99=$(awk '$1 == "99%" {print $2}' "$TMP/wrk.txt")
failed=$(awk '/Non-2xx/ {n += $5} /Socket errors/ {gsub(",", ""); n += $4 + $6 + $8 + $10} END {print n + 0}' "$TMP/wrk.txt")
read -r reloads reload_bad < "$TMP/reloads"
printf "soak %ss c=32 (60%% predict, 30%% recommend, 10%% metrics): %s requests, %s req/s, p50 %s, p99 %s, failed %s\n" \
  "$SECS" "$reqs" "$rps" "$p50" "$p99" "$failed"
printf "reloads every %s s: %s (%s failed); RSS %.0f MB -> %.0f MB (%+.1f %%)\n" "$RELOAD_S" "$reloads" "$reload_bad" "$before" "$after" \
  "$(awk -v a="$before" -v b="$after" 'BEGIN {print (b - a) / a * 100}')"
