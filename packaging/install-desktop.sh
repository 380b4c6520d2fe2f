#!/usr/bin/env bash
# Adds MaskingNet to this user's application menu (Linux): writes
# ~/.local/share/applications/maskingnet.desktop pointing at this unpacked bundle and installs
# its icon. Run it again after moving the folder; remove both files to undo.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
data="${XDG_DATA_HOME:-$HOME/.local/share}"
mkdir -p "$data/applications" "$data/icons/hicolor/256x256/apps"
cp "$here/maskingnet.png" "$data/icons/hicolor/256x256/apps/maskingnet.png"
sed -e "s|^Exec=maskingnet-app|Exec=\"$here/maskingnet-app\"|" "$here/maskingnet.desktop" \
    > "$data/applications/maskingnet.desktop"
chmod 644 "$data/applications/maskingnet.desktop"
command -v update-desktop-database >/dev/null && update-desktop-database "$data/applications" || true
echo "installed $data/applications/maskingnet.desktop"
