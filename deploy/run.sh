#!/usr/bin/env bash
# `make run`: a local broker, botwatch's topics, live synthetic traffic, and the
# consumer printing flags as they happen. Ctrl-C stops the consumer, the
# generator and the broker, leaving no process behind.
set -uo pipefail

export BOTWATCH_BOOTSTRAP="${BOTWATCH_BOOTSTRAP:-127.0.0.1:9092}"
export BOTWATCH_METRICS_ADDR="${BOTWATCH_METRICS_ADDR:-127.0.0.1}"
port="${BOTWATCH_METRICS_PORT:-9108}"
generator=""
consumer=""

cleanup() {
  trap - INT TERM EXIT
  echo
  echo "stopping..."
  [ -n "$generator" ] && kill -TERM "$generator" 2>/dev/null && wait "$generator" 2>/dev/null
  [ -n "$consumer" ] && kill -TERM "$consumer" 2>/dev/null && wait "$consumer" 2>/dev/null
  botwatch broker stop
}
trap cleanup INT TERM EXIT

botwatch broker start || exit 1
botwatch topics create >/dev/null || exit 1

# a live stream: 200 tweets/s from 2,000 accounts, labels for 30% of them
botwatch generate --accounts 2000 --tweets 2000000 --rate "${RATE:-200}" --label-delay 3600 &
generator=$!

echo "botwatch: metrics at http://$BOTWATCH_METRICS_ADDR:$port/metrics — flags below (Ctrl-C stops everything)"
botwatch consume --print-flags --metrics-port "$port" 2> >(grep -v " INFO " >&2) &
consumer=$!
wait "$consumer"
