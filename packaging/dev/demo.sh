#!/usr/bin/env bash
# The main job on one machine: a collector (SQLite) and an enrolled agent, then its events and violations.
# Everything lives in ./demo/ (removed and rebuilt on each run).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=bootstrap.sh
source "$repo/packaging/dev/bootstrap.sh"
cd "$repo"

demo="$repo/demo"
rm -rf "$demo"
mkdir -p "$demo"
export MAMORI_DATA_DIR="$demo/collector"
agent_state="$demo/agent"
# Two free loopback ports: telemetry (mutual TLS) and enrollment (server TLS).
read -r tport eport < <(python - <<'PY'
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
PY
)

echo "== 1. collector を初期化 (SQLite, $MAMORI_DATA_DIR)"
mamori-collector init --host 127.0.0.1,localhost --listen "127.0.0.1:$tport" --enroll-listen "127.0.0.1:$eport"
token="$(mamori-collector token create --segment mynumber --department 情報政策課 2>/dev/null)"

echo "== 2. collector を起動"
mamori-collector serve >"$demo/collector.log" 2>&1 &
collector_pid=$!
agent_pid=""
cleanup() {
  [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null || true
  kill "$collector_pid" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 100); do
  grep -q "serving telemetry" "$demo/collector.log" && break
  sleep 0.1
done

echo "== 3. この端末を登録 (マイナンバー利用事務系 / 情報政策課)"
mamori-agent --state-dir "$agent_state" enroll --collector "127.0.0.1:$eport" --token "$token" \
  --ca-cert "$MAMORI_DATA_DIR/ca.crt"

echo "== 4. agent を起動 (端末の点検結果とイベントを送信)"
mamori-agent --state-dir "$agent_state" run >"$demo/agent.log" 2>&1 &
agent_pid=$!
# Wait until the posture checks of this machine have reached the collector (at most a minute).
for _ in $(seq 60); do
  n=$(mamori-collector events list --kind check.result --json | python -c 'import json,sys; print(len(json.load(sys.stdin)))')
  [ "$n" -ge 11 ] && break
  sleep 1
done
echo "   (このデモは agent をシェルから停止するため、サービス管理外の停止として OPS-004 が記録されます)"
kill -TERM "$agent_pid"
wait "$agent_pid" || true
agent_pid=""
sleep 1

echo "== 5. 端末一覧"
mamori-collector agents list
echo
echo "== 6. イベント一覧"
mamori-collector events list --limit 20
echo
echo "== 7. 違反一覧 (この端末の実際の点検結果から)"
mamori-collector violations list
echo
echo "== 8. 概況"
mamori-collector summary
echo
echo "(logs: $demo/collector.log, $demo/agent.log; data: $demo)"
