#!/usr/bin/env bash
# Install the Debian packages Atelier needs when their command is missing.
# Arguments: COMMAND=PACKAGE pairs, e.g. mosquitto=mosquitto mosquitto_sub=mosquitto-clients
set -euo pipefail
missing=()
for pair in "$@"; do
    cmd=${pair%%=*}
    pkg=${pair#*=}
    if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$cmd" ] && [ ! -x "/usr/bin/$cmd" ]; then
        missing+=("$pkg")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "Installing Debian packages: ${missing[*]}"
sudo=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo=sudo; else
        echo "Atelier needs: ${missing[*]}. Install them as root: apt-get install ${missing[*]}" >&2
        exit 1
    fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "Atelier needs: ${missing[*]}. This is not a Debian system; install them with your package manager." >&2
    exit 1
fi
if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"; }; then
    echo "Could not install ${missing[*]}. Install them by hand: apt-get install ${missing[*]}" >&2
    exit 1
fi
