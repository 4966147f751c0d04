#!/usr/bin/env bash
# Runs a command and samples its RssAnon and RssFile (/proc/PID/status) every 5 ms: wall time, peak
# anonymous memory and peak mapped-file pages. `bash benches/peak_memory.sh papermap rank ...`
start=$(date +%s.%N); "$@" >/dev/null 2>/dev/null & pid=$!; anon=0; file=0
while kill -0 $pid 2>/dev/null; do
  if s=$(cat /proc/$pid/status 2>/dev/null); then
    a=$(echo "$s" | awk '/RssAnon/{print $2}'); f=$(echo "$s" | awk '/RssFile/{print $2}')
    [ -n "$a" ] && [ "$a" -gt "$anon" ] && anon=$a; [ -n "$f" ] && [ "$f" -gt "$file" ] && file=$f
  fi; sleep 0.005; done
wait $pid; rc=$?; end=$(date +%s.%N)
echo "rc $rc wall $(echo "$end - $start" | bc) s, peak anonymous $((anon/1024)) MB, peak file-backed $((file/1024)) MB"
