#!/usr/bin/env bash
# Installs the Debian packages the tests need, when root and missing, then the Wireshark versions
# the plugin is tested on (.ci/wireshark-chroots.sh). Idempotent.
set -euo pipefail
need=()
command -v tshark    >/dev/null || need+=(tshark)
command -v tcpdump   >/dev/null || need+=(tcpdump)
command -v dnsmasq   >/dev/null || need+=(dnsmasq-base)
command -v luac5.2   >/dev/null || need+=(lua5.2)
command -v luac5.4   >/dev/null || need+=(lua5.4)
command -v pdftotext >/dev/null || need+=(poppler-utils)
command -v ip        >/dev/null || need+=(iproute2)
command -v ethtool   >/dev/null || need+=(ethtool)
ls /usr/lib/*/libpango-1.0.so.0 >/dev/null 2>&1 || need+=(libpango-1.0-0 libpangoft2-1.0-0)
fc-list 2>/dev/null | grep -qi dejavu || need+=(fonts-dejavu-core)
command -v debootstrap >/dev/null || need+=(debootstrap)  # Wireshark 4.0/4.4/4.6 chroots, below
command -v chromium  >/dev/null || need+=(chromium)  # the class page's layout test (headless, nothing fetched)
# the reporter's compiled fast path (optional: without them the pure-Python analysis does all)
command -v gcc       >/dev/null || need+=(gcc)
inc=$("${PY:-python3}" -c 'import sysconfig; print(sysconfig.get_paths()["include"])' 2>/dev/null || true)
[ -n "$inc" ] && [ -e "$inc/Python.h" ] || need+=(python3-dev)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "deps: missing ${need[*]} (not root: install them yourself; tests that need them will skip)" >&2
  else
    echo "deps: installing ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
fi
# the plugin is tested on Wireshark 4.0, 4.4 and 4.6: the versions this machine lacks, in chroots
bash "$(dirname "$0")/wireshark-chroots.sh"
