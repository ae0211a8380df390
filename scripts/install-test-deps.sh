#!/usr/bin/env bash
# Installs what the integration tests need and the Go toolchain does not
# bring: nginx (Debian's nginx-light) for nginx_test.go and redis-server
# (Debian's redis-server) for asynchttpredis. A no-op when both are already
# installed. Needs root (or sudo) and Debian's apt. No system service is
# left running: the tests start their own servers on free ports.
set -euo pipefail

PKGS=()
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
	PKGS+=(nginx-light)
fi
if ! command -v redis-server >/dev/null 2>&1 && [ ! -x /usr/bin/redis-server ]; then
	PKGS+=(redis-server)
fi
if [ ${#PKGS[@]} -eq 0 ]; then
	exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO="sudo -n"
	else
		echo "install-test-deps: ${PKGS[*]} missing and not root; skipping" >&2
		exit 0
	fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-test-deps: ${PKGS[*]} missing and no apt-get; skipping" >&2
	exit 0
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
# --no-install-recommends keeps it small; the package's own postinst may
# try to start a system nginx on port 80 (redis-server's on 6379): policy-rc.d forbids that where we
# can write it (root), and a failed start must not fail the install.
POLICY=/usr/sbin/policy-rc.d
ADDED_POLICY=""
if [ "$(id -u)" -eq 0 ] && [ ! -e "$POLICY" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$POLICY"
	chmod +x "$POLICY"
	ADDED_POLICY=1
fi
cleanup() { if [ -n "$ADDED_POLICY" ]; then rm -f "$POLICY"; fi; }
trap cleanup EXIT
$SUDO apt-get install -y -qq --no-install-recommends "${PKGS[@]}" >/dev/null
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ]
