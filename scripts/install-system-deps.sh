#!/usr/bin/env bash
# Installs the Debian packages the tests need (real PostgreSQL, Redis, Chromium, a Japanese font,
# systemd-analyze) when missing.
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)  # checks deploy/systemd units
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi
# A Japanese font, so the Japanese pages' screenshots (docs/screenshots/ja-*) show text, not boxes.
fc-list 2>/dev/null | grep -qi "IPAGothic\|Noto Sans CJK" || missing+=(fonts-ipafont-gothic)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi
