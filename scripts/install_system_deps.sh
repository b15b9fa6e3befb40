#!/usr/bin/env bash
# Install the Debian packages that headless Qt (napari under Xvfb) needs, only when some are missing.
set -euo pipefail

packages=(xvfb xauth libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0
          libxcb-xinerama0 libxcb-xfixes0 libxcb-shape0 libxcb-xkb1 libxkbcommon-x11-0 libxcb-cursor0
          libegl1 libgl1 libdbus-1-3 libfontconfig1)

missing=()
for pkg in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_system_deps: missing ${missing[*]} and no apt-get here; install them by hand" >&2
    exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "install_system_deps: need root or sudo for: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
fi
echo "install_system_deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
