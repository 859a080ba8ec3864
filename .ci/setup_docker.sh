#!/bin/sh
# Make Docker usable for the sandbox tests: install Debian's docker.io (and debootstrap),
# start dockerd when no daemon answers, and build the sandbox images.
# Idempotent: when all of that is already done it only checks (a second or two).
# Needs root. Usage: .ci/setup_docker.sh   (from anywhere; PYTHON overrides the interpreter)
set -eu
cd "$(dirname "$0")/.."

need=""
command -v dockerd >/dev/null 2>&1 || need="$need docker.io"
command -v debootstrap >/dev/null 2>&1 || need="$need debootstrap"
if [ -n "$need" ]; then
    echo "setup_docker: installing$need" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
    # A daemon that died leaves its pid file behind, and dockerd refuses to start over it.
    for pidfile in /var/run/docker.pid /var/run/docker/containerd/containerd.pid; do
        if [ -f "$pidfile" ] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
            rm -f "$pidfile"
        fi
    done
    echo "setup_docker: starting dockerd (log: /var/log/dockerd.log)" >&2
    # setsid + nohup: the daemon must outlive this script and the CI step that ran it.
    nohup setsid dockerd >/var/log/dockerd.log 2>&1 </dev/null &
    i=0
    until docker info >/dev/null 2>&1; do
        i=$((i + 1))
        if [ "$i" -gt 60 ]; then
            echo "setup_docker: dockerd did not come up in 60 s; last log lines:" >&2
            tail -n 20 /var/log/dockerd.log >&2
            exit 1
        fi
        sleep 1
    done
fi

if [ -z "${PYTHON:-}" ]; then
    if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
# Builds the debootstrap base image and the sandbox image only when they are missing.
"$PYTHON" -m sandboxes.build
