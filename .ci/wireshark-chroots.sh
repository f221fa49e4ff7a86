#!/usr/bin/env bash
# Wireshark 4.0, 4.4 and 4.6 for the plugin tests (tests/wireshark.py), on any Debian host.
#
# Students install the newest Wireshark (4.4/4.6, Lua 5.4); the course's machines and this host may
# have 4.0 (Lua 5.2). The plugin must run on all of them, so the tests run tshark from the Debian
# release that packages each version: bookworm 4.0, trixie 4.4, forky 4.6. The version this machine
# already has is used as it is; each other one gets a minimal chroot (debootstrap --variant=minbase
# plus tshark, ~300-400 MB, ~40 s) from the package mirror this machine already uses, cached in
# $PROGJAR_WS_CHROOTS (default /var/cache/progjar-lab/wireshark) as <suite>/ with <suite>.stamp
# (the tshark version, written last). A chroot whose stamp is missing or whose tshark does not
# start is rebuilt. A suite that cannot be built leaves <suite>.error: the tests then fail in CI
# and skip locally, naming it. Nothing is mounted here (debootstrap mounts /proc and /sys in the
# target while it runs and removes them itself; anything it leaves is unmounted below).
#
# Root only (debootstrap, chroot); as another user it says so and does nothing.
set -euo pipefail

CACHE=${PROGJAR_WS_CHROOTS:-/var/cache/progjar-lab/wireshark}
WANTED="4.0:bookworm 4.4:trixie 4.6:forky"   # keep in step with tests/wireshark.py VERSIONS
SYSPATH=/usr/sbin:/usr/bin:/sbin:/bin

say() { echo "wireshark-chroots: $*" >&2; }

if [ "$(id -u)" != 0 ]; then
  say "not root: Wireshark 4.4/4.6 chroots not built (their tests skip; CI runs as root)"
  exit 0
fi

# the package mirror this machine uses: deb822 .sources first, then sources.list
mirror=${PROGJAR_DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
  mirror=$(awk 'tolower($1)=="uris:" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
fi
if [ -z "$mirror" ]; then
  mirror=$(awk '$1=="deb" && $0 !~ /security/ {for (i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' \
           /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | head -1 || true)
fi
if [ -z "$mirror" ]; then
  say "no Debian mirror found in /etc/apt (set PROGJAR_DEBIAN_MIRROR)"
  mkdir -p "$CACHE"
  for pair in $WANTED; do echo "no Debian mirror found in /etc/apt" > "$CACHE/${pair#*:}.error"; done
  exit 0
fi

host=$(tshark --version 2>/dev/null | sed -n 's/^TShark (Wireshark) \([0-9]*\.[0-9]*\)\..*/\1/p' | head -1 || true)
[ -z "${PROGJAR_WS_ALL:-}" ] || host=none  # build every version, also the one this machine has (to try the script)

# unmount whatever is still mounted below $1 (deepest first), e.g. after a debootstrap that died
unmount_below() {
  local d m
  d=$(readlink -f "$1" 2>/dev/null) || return 0
  awk -v d="$d" '$2 == d || index($2, d "/") == 1 {print $2}' /proc/mounts | sort -r |
    while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" || true; done
}

build() {  # build <version> <suite>: writes $CACHE/<suite>.stamp on success, <suite>.error on failure
  local v=$1 suite=$2 new="$CACHE/$2.new" log="$CACHE/$2.log" script ver start=$SECONDS
  script=/usr/share/debootstrap/scripts/$suite
  [ -e "$script" ] || script=/usr/share/debootstrap/scripts/sid  # an older debootstrap does not know forky yet
  unmount_below "$new"
  rm -rf --one-file-system "$new"
  {
    debootstrap --variant=minbase "$suite" "$new" "$mirror" "$script" &&
    # forky's Release file may be past its Valid-Until on a snapshot mirror
    echo 'Acquire::Check-Valid-Until "false";' > "$new/etc/apt/apt.conf.d/99progjar-lab" &&
    printf '%s\n' 'path-exclude=/usr/share/doc/*' 'path-exclude=/usr/share/man/*' \
      'path-exclude=/usr/share/locale/*' > "$new/etc/dpkg/dpkg.cfg.d/99progjar-lab" &&
    chroot "$new" env -i PATH=$SYSPATH DEBIAN_FRONTEND=noninteractive apt-get -q update &&
    chroot "$new" env -i PATH=$SYSPATH DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -q --no-install-recommends tshark &&
    chroot "$new" env -i PATH=$SYSPATH apt-get clean
  } >"$log" 2>&1 || true
  unmount_below "$new"
  ver=$(chroot "$new" env -i PATH=$SYSPATH tshark --version 2>/dev/null |
        sed -n 's/^TShark (Wireshark) \([0-9][0-9.]*[0-9]\).*/\1/p' | head -1 || true)
  if [ -z "$ver" ]; then
    echo "$suite: tshark could not be installed from $mirror (log: $log: $(tail -1 "$log"))" > "$CACHE/$suite.error"
    rm -rf --one-file-system "$new"
    return 0
  fi
  case "$ver" in
    "$v".*) ;;
    *) echo "$suite now packages tshark $ver, not $v.x: update WANTED here and VERSIONS in tests/wireshark.py" \
         > "$CACHE/$suite.error"; rm -rf --one-file-system "$new"; return 0 ;;
  esac
  rm -rf "$new/var/lib/apt/lists/"*
  # tshark in the tests must never ask this machine's resolver about anything
  rm -f "$new/etc/resolv.conf"
  rm -rf --one-file-system "$CACHE/$suite"
  mv "$new" "$CACHE/$suite"
  rm -f "$CACHE/$suite.error"
  echo "$ver" > "$CACHE/$suite.stamp"
  say "$suite: tshark $ver in $((SECONDS - start)) s, $(du -sh "$CACHE/$suite" | cut -f1)"
}

ok() {  # ok <suite>: a built chroot whose tshark starts
  [ -s "$CACHE/$1.stamp" ] && [ -d "$CACHE/$1" ] &&
    chroot "$CACHE/$1" env -i PATH=$SYSPATH tshark --version >/dev/null 2>&1
}

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9   # another `make test` on this machine may be building the same chroots

pids=()
for pair in $WANTED; do
  v=${pair%%:*}
  suite=${pair#*:}
  if [ "$v" = "$host" ]; then
    continue  # this machine's own tshark is that version
  fi
  if ok "$suite"; then
    rm -f "$CACHE/$suite.error"
    # leftovers of test runs that were killed (tests/wireshark.py stages files in <chroot>/tmp)
    find "$CACHE/$suite/tmp" -mindepth 1 -maxdepth 1 -name 'progjar-ws-*' -mmin +60 -exec rm -rf {} + 2>/dev/null || true
    continue
  fi
  command -v debootstrap >/dev/null || { say "debootstrap missing"; echo "debootstrap is not installed" > "$CACHE/$suite.error"; continue; }
  say "building $suite (Wireshark $v) from $mirror"
  rm -f "$CACHE/$suite.stamp"
  build "$v" "$suite" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
for pair in $WANTED; do
  suite=${pair#*:}
  if [ -f "$CACHE/$suite.error" ] && ! ok "$suite"; then say "$(cat "$CACHE/$suite.error")"; fi
done
exit 0
