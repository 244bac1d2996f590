#!/usr/bin/env bash
# Refresh the committed subset of the French state design system (DSFR) that the services serve
# (no CDN at run time). Run after changing DSFR_VERSION; commit the result.
set -euo pipefail
DSFR_VERSION=1.15.3
here=$(cd "$(dirname "$0")" && pwd)
target="$here/../../shared/ts_shared/web/static/dsfr"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# --ignore-scripts: the package's preinstall script only checks for a project generator we do not use.
(cd "$work" && npm install --silent --no-audit --no-fund --ignore-scripts "@gouvfr/dsfr@$DSFR_VERSION" >/dev/null)
dist="$work/node_modules/@gouvfr/dsfr/dist"
rm -rf "$target" && mkdir -p "$target/fonts" "$target/utility/icons"
cp "$dist/dsfr.min.css" "$dist/dsfr.module.min.js" "$dist/dsfr.nomodule.min.js" "$target/"
cp "$dist"/fonts/*.woff2 "$dist"/fonts/*.woff "$target/fonts/"
cp -r "$dist/favicon" "$dist/icons" "$target/"
cp "$dist/utility/icons/icons.min.css" "$target/utility/icons/"
cp "$work/node_modules/@gouvfr/dsfr/LICENSE.md" "$target/LICENSE.md"
echo "$DSFR_VERSION" > "$target/VERSION"
echo "DSFR $DSFR_VERSION copied to $target ($(du -sh "$target" | cut -f1))"
