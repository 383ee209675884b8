#!/usr/bin/env bash
# System packages the tests need: Debian's Chromium (the browser check of the built book).
# Installed with apt-get when running as root; otherwise the command fails and says what to install.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian chromium for the browser test ..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
    command -v chromium >/dev/null 2>&1 && exit 0
fi
echo "error: the tests need Chromium. Install it (Debian: 'sudo apt-get install chromium') and rerun 'make test'." >&2
exit 1
