#!/usr/bin/env bash
# System packages the book and the tests need, installed with apt-get when running as root:
#   fashion-mnist  Debian's dataset-fashion-mnist (chapters 5-7 fine-tune on it)
#   photos         Debian's mate-backgrounds (its twelve nature photographs: chapter 9's held-out photos)
#   chromium       Debian's Chromium (the browser check of the built book, tests only)
# Usage: tools/system-deps.sh [fashion-mnist] [photos] [chromium]   (no argument: all three)
# Anything missing that cannot be installed stops with a message saying what to do.
set -euo pipefail
wanted=("$@")
[ ${#wanted[@]} -eq 0 ] && wanted=(fashion-mnist photos chromium)

have_fashion_mnist() {
    local f=train-images-idx3-ubyte.gz
    for d in "${PVQ_FASHION_MNIST:-}" /usr/share/datasets/fashion-mnist "$HOME/.cache/pvq/fashion-mnist"; do
        [ -n "$d" ] && [ -f "$d/$f" ] && return 0
    done
    return 1
}

have_photos() {
    local d="${PVQ_PHOTOS:-/usr/share/backgrounds/mate/nature}"
    [ -f "$d/Dune.jpg" ] && [ -f "$d/YellowFlower.jpg" ]
}

missing=()
for dep in "${wanted[@]}"; do
    case "$dep" in
        fashion-mnist) have_fashion_mnist || missing+=(dataset-fashion-mnist) ;;
        photos) have_photos || missing+=(mate-backgrounds) ;;
        chromium) command -v chromium >/dev/null 2>&1 || missing+=(chromium fonts-dejavu-core) ;;
        *) echo "error: unknown dependency '$dep' (known: fashion-mnist, photos, chromium)" >&2; exit 2 ;;
    esac
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian packages: ${missing[*]} ..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    exit 0
fi
echo "error: missing system packages: ${missing[*]}." >&2
echo "  Debian/Ubuntu: sudo apt-get install ${missing[*]}" >&2
case " ${missing[*]} " in
    *" dataset-fashion-mnist "*)
        echo "  Fashion-MNIST without root: .venv/bin/python -c 'import pvq.finetune.data as d; d.download_fashion_mnist()'" >&2
        echo "  (needs a network) or put the four IDX .gz files in a folder named by \$PVQ_FASHION_MNIST." >&2 ;;
esac
case " ${missing[*]} " in
    *" mate-backgrounds "*)
        echo "  The photos without root: copy mate-backgrounds' usr/share/backgrounds/mate/nature/*.jpg (e.g. from" >&2
        echo "  \`apt-get download mate-backgrounds\` and \`dpkg -x\`) to a folder named by \$PVQ_PHOTOS." >&2 ;;
esac
exit 1
