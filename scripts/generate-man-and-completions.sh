#!/usr/bin/env bash
# Regenerates what the install script installs beside the binaries, from the commands
# themselves: share/man/man1/mcrun.1 (swift-argument-parser's generate-manual, from every
# command's help) and share/completions/ (mcrun --generate-completion-script).
# Run it after changing a command and commit the results; a test fails while they are stale.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --product mcrun
# swift-argument-parser's generate-manual tool (what its plugin runs), built from the
# package's own checkout of it: no network, no release build.
swift build --product generate-manual
bin=$(swift build --show-bin-path)
mkdir -p share/man/man1 share/completions
"$bin/mcrun" --generate-completion-script bash >share/completions/mcrun.bash
"$bin/mcrun" --generate-completion-script zsh >share/completions/_mcrun
"$bin/mcrun" --generate-completion-script fish >share/completions/mcrun.fish
# The page's date is the last commit's, so regenerating an unchanged tree changes nothing.
"$bin/generate-manual" "$bin/mcrun" --output-directory share/man/man1 \
    --date "$(git log -1 --format=%cs 2>/dev/null || date +%F)" --authors "the mcrun authors"
echo "wrote share/man/man1/mcrun.1 and share/completions/{mcrun.bash,_mcrun,mcrun.fish}"
