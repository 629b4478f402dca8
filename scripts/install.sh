#!/usr/bin/env bash
# Installs mcrun as a system service, the one way to do it: builds release binaries and
# installs them, the hooks, the systemd units, the mcrun user and group (sysusers.d), the
# service user's home (tmpfiles.d) and /etc/mcrun/mcrun.conf (kept if present), then
# creates the user and reloads systemd. Run from a clone, as root.
#
#   scripts/install.sh [--prefix DIR] [--sysconfdir DIR] [--destdir DIR] [--binaries DIR] [--dry-run]
#   scripts/install.sh --uninstall [--purge] [same options]
#
# Layout (PREFIX defaults to /usr/local, SYSCONFDIR to /etc):
#   PREFIX/bin/mcrun, PREFIX/bin/mcrun-pane-log, PREFIX/bin/mcrun-shim
#   PREFIX/lib/mcrun/hooks/            pane-log and the agent hooks (mcrun finds them
#                                      relative to its own binary)
#   PREFIX/share/man/man1/mcrun.1      if the tree has share/man/man1/mcrun.1
#   PREFIX/share/bash-completion/completions/mcrun, PREFIX/share/zsh/site-functions/_mcrun,
#   PREFIX/share/fish/vendor_completions.d/mcrun.fish
#                                      if the tree has share/completions/{mcrun.bash,_mcrun,mcrun.fish}
#   SYSCONFDIR/systemd/system/mcrun.service, mcrun-tmux.service (ExecStart= pointing at PREFIX)
#   SYSCONFDIR/sysusers.d/mcrun.conf, SYSCONFDIR/tmpfiles.d/mcrun.conf
#   SYSCONFDIR/mcrun/mcrun.conf        never overwritten
#   PREFIX/lib/mcrun/installed-files   what was installed, for --uninstall
#
# --destdir DIR stages everything under DIR (for packaging) and runs nothing there.
# --binaries DIR installs mcrun, mcrun-pane-log and mcrun-shim already built in DIR instead of building.
# --dry-run prints every action and changes nothing.
# --uninstall removes what was installed; the configuration file and the state directory
# (/var/lib/mcrun) stay unless --purge. The mcrun user stays (systemd never removes users).
# Exit status: 0 done, 2 bad usage, 1 a step failed.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
fail_usage() { echo "install.sh: $1; see: scripts/install.sh --help" >&2; exit 2; }

prefix=/usr/local sysconfdir=/etc destdir="" binaries="" dry_run=0 uninstall=0 purge=0
while (($#)); do
    case $1 in
        --prefix|--sysconfdir|--destdir|--binaries)
            (($# >= 2)) && [ -n "$2" ] || fail_usage "$1 needs a value"
            case $1 in
                --prefix) prefix=$2 ;; --sysconfdir) sysconfdir=$2 ;;
                --destdir) destdir=$2 ;; --binaries) binaries=$2 ;;
            esac
            shift 2 ;;
        --dry-run) dry_run=1; shift ;;
        --uninstall) uninstall=1; shift ;;
        --purge) purge=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) fail_usage "unknown option $1" ;;
    esac
done
for dir in "$prefix" "$sysconfdir"; do
    [[ $dir == /* ]] || fail_usage "$dir is not an absolute path"
done
[ -z "$destdir" ] || [[ $destdir == /* ]] || fail_usage "--destdir $destdir is not an absolute path"
((purge == 0 || uninstall == 1)) || fail_usage "--purge only goes with --uninstall"
prefix=${prefix%/} sysconfdir=${sysconfdir%/} destdir=${destdir%/}
[ -n "$prefix" ] || prefix=/
cd "$(dirname "$0")/.."

bindir=$prefix/bin
libdir=$prefix/lib/mcrun
unitdir=$sysconfdir/systemd/system
config=$sysconfdir/mcrun/mcrun.conf
manifest=$libdir/installed-files
statedir=/var/lib/mcrun

# Every action is printed; with --dry-run nothing else happens.
run() {
    printf '+ %s\n' "$*"
    ((dry_run)) || "$@"
}
# Live commands (user creation, systemd) only for a live install into /, not a staging one.
live() { [ -z "$destdir" ]; }
has_systemd() { [ -d /run/systemd/system ]; }

if ((uninstall)); then
    files=()
    if [ -f "$destdir$manifest" ]; then
        mapfile -t files < "$destdir$manifest"
    elif ((purge == 0)); then
        echo "install.sh: $destdir$manifest not found; nothing installed under $prefix" >&2
        exit 1
    fi
    if live && has_systemd; then
        for unit in mcrun.service mcrun-tmux.service; do
            run systemctl disable --now "$unit" || true
        done
    fi
    for file in "${files[@]}"; do
        [ -e "$destdir$file" ] || [ -L "$destdir$file" ] || continue
        run rm -f "$destdir$file"
    done
    run rm -f "$destdir$manifest"
    # Directories only mcrun used, if now empty (deepest first).
    mapfile -t dirs < <({ ((${#files[@]} == 0)) || printf '%s\n' "${files[@]%/*}"; printf '%s\n' "$libdir"; } | sort -ru)
    for dir in "${dirs[@]}"; do
        case $dir in "$libdir"|"$libdir"/*|"$sysconfdir/mcrun") ;; *) continue ;; esac
        [ -d "$destdir$dir" ] && [ -z "$(ls -A "$destdir$dir")" ] && run rmdir "$destdir$dir"
    done
    if ((purge)); then
        run rm -f "$destdir$config"
        [ -d "$destdir$sysconfdir/mcrun" ] && [ -z "$(ls -A "$destdir$sysconfdir/mcrun")" ] && run rmdir "$destdir$sysconfdir/mcrun"
        run rm -rf "$destdir$statedir"
    else
        [ -e "$destdir$config" ] && echo "kept $config and $statedir (--purge removes them)"
    fi
    if live && has_systemd; then run systemctl daemon-reload; fi
    exit 0
fi

# Build (or take prebuilt binaries).
if [ -z "$binaries" ]; then
    run bash scripts/setup.sh
    # One product at a time: a plain release build would also build the test support target.
    for product in mcrun mcrun-pane-log mcrun-shim; do
        run swift build -c release --static-swift-stdlib --product "$product"
    done
    binaries=.build/release
fi
for exe in mcrun mcrun-pane-log mcrun-shim; do
    ((dry_run)) || [ -x "$binaries/$exe" ] || { echo "install.sh: $binaries/$exe is not an executable" >&2; exit 1; }
done

installed=()
# put MODE SOURCE TARGET: install one file, recording it for --uninstall.
put() {
    run install -D -m "$1" "$2" "$destdir$3"
    installed+=("$3")
}
# put_text MODE TARGET TEXT
put_text() {
    printf '+ write %s\n' "$destdir$2"
    if ((dry_run == 0)); then
        install -d "$(dirname "$destdir$2")"
        printf '%s' "$3" > "$destdir$2"
        chmod "$1" "$destdir$2"
    fi
    installed+=("$2")
}

put 0755 "$binaries/mcrun" "$bindir/mcrun"
put 0755 "$binaries/mcrun-pane-log" "$bindir/mcrun-pane-log"
put 0755 "$binaries/mcrun-shim" "$bindir/mcrun-shim"
while IFS= read -r -d '' hook; do
    mode=0644
    [ -x "$hook" ] && mode=0755
    put "$mode" "$hook" "$libdir/$hook"
done < <(find hooks -type f -print0 | sort -z)

# The man page and completions, when the tree has them.
[ -f share/man/man1/mcrun.1 ] && put 0644 share/man/man1/mcrun.1 "$prefix/share/man/man1/mcrun.1"
[ -f share/completions/mcrun.bash ] && put 0644 share/completions/mcrun.bash "$prefix/share/bash-completion/completions/mcrun"
[ -f share/completions/_mcrun ] && put 0644 share/completions/_mcrun "$prefix/share/zsh/site-functions/_mcrun"
[ -f share/completions/mcrun.fish ] && put 0644 share/completions/mcrun.fish "$prefix/share/fish/vendor_completions.d/mcrun.fish"

# The units, with ExecStart= pointing at this prefix's binary.
for unit in mcrun.service mcrun-tmux.service; do
    put_text 0644 "$unitdir/$unit" "$(sed "s|/usr/local/bin/mcrun|$bindir/mcrun|g" "units/$unit")
"
done
put 0644 dist/sysusers.conf "$sysconfdir/sysusers.d/mcrun.conf"
put 0644 dist/tmpfiles.conf "$sysconfdir/tmpfiles.d/mcrun.conf"

# The configuration file is the operator's once it exists.
if [ -e "$destdir$config" ]; then
    echo "kept $destdir$config"
else
    run install -D -m 0644 dist/mcrun.conf "$destdir$config"
fi

put_text 0644 "$manifest" "$(printf '%s\n' "${installed[@]}" "$manifest")
"

if live; then
    run systemd-sysusers "$sysconfdir/sysusers.d/mcrun.conf"
    run systemd-tmpfiles --create "$sysconfdir/tmpfiles.d/mcrun.conf"
    if has_systemd; then run systemctl daemon-reload; fi
    cat <<EOF
Installed. Start the service and add operators (read-only access) to group mcrun:
  systemctl enable --now mcrun.service
  usermod -aG mcrun OPERATOR
EOF
fi
