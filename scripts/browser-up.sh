#!/usr/bin/env bash
# Finds or installs what the browser tests need and prints the chromedriver path on stdout
# (nothing else goes to stdout), so that callers can write `CHROMEDRIVER=$(scripts/browser-up.sh)`.
#
#   a. chromium and its WebDriver: $CHROMIUM and $CHROMEDRIVER when they are set and executable,
#      else Debian's /usr/bin/chromium and /usr/bin/chromedriver, installed with apt-get
#      (packages chromium and chromium-driver; root or passwordless sudo) when missing. The two
#      must be of one major version, or every session fails with a vague error later;
#   b. a font with Khmer glyphs (one that fontconfig lists for `km`), else Debian's
#      $KHMER_FONT_PACKAGE: without one, headless chromium draws Khmer as empty boxes in
#      screenshots. The pages serve their own Khmer font later; this is the machine's fallback;
#   c. axe-core $AXE_CORE_VERSION from npm into $WEB_TOOLS_DIR, unless that exact version is there:
#      the tests read $WEB_TOOLS_DIR/node_modules/axe-core/axe.min.js from disk and inject it into
#      the page, so nothing is loaded from a CDN.
# Idempotent: when everything is there it installs nothing and takes well under a second.
#
# Environment:
#   CHROMIUM, CHROMEDRIVER  binaries to use instead of /usr/bin/chromium, /usr/bin/chromedriver
#   KHMER_FONT_PACKAGE      the Debian font package for (b) (default fonts-khmeros)
#   WEB_TOOLS_DIR           npm prefix for (c) (default target/web-tools, in the repository)
#   BROWSER_UP_LOG          where apt-get and npm output goes (default /tmp/owso-browser-up.log)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# fd 3 is the real stdout and carries only the driver's path; fd 4 is the real stderr.
exec 3>&1 4>&2 1>&2

readonly AXE_CORE_VERSION=4.14.1
CHROMIUM_BIN=${CHROMIUM:-/usr/bin/chromium}
DRIVER_BIN=${CHROMEDRIVER:-/usr/bin/chromedriver}
FONT_PACKAGE=${KHMER_FONT_PACKAGE:-fonts-khmeros}
WEB_TOOLS=${WEB_TOOLS_DIR:-target/web-tools}
LOG=${BROWSER_UP_LOG:-${TMPDIR:-/tmp}/owso-browser-up.log}

say() { printf 'browser-up: %s\n' "$*" >&4; }
die() {
    say "error: $*"
    exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }
is_root() { [[ $(id -u) == 0 ]]; }
can_sudo() { have sudo && sudo -n true 2>/dev/null; }
as_root() {
    if is_root; then
        "$@"
    elif can_sudo; then
        sudo -n "$@"
    else
        return 1
    fi
}

# apt-get install of the packages named, quietly, its output in the log. The package lists are
# refreshed first only when the install fails without them (a fresh machine has none), so a
# machine that has them installs without touching the network for the lists.
apt_install() {
    is_root || can_sudo || die "installing $* needs root or passwordless sudo; install them yourself (apt-get install $*)"
    say "installing $* from Debian packages (log: $LOG)"
    local install=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@")
    if ! as_root "${install[@]}" >>"$LOG" 2>&1; then
        as_root apt-get update -qq >>"$LOG" 2>&1 || { tail -n 20 "$LOG" >&4; die "apt-get update failed (log: $LOG)"; }
        as_root "${install[@]}" >>"$LOG" 2>&1 || { tail -n 20 "$LOG" >&4; die "apt-get install $* failed (log: $LOG)"; }
    fi
}

major() { grep -oE '[0-9]+\.[0-9.]+' <<<"$1" | head -n 1 | cut -d. -f1; }

# --- a. chromium and chromedriver -----------------------------------------------------------------
missing=()
[[ -x $CHROMIUM_BIN ]] || missing+=(chromium)
[[ -x $DRIVER_BIN ]] || missing+=(chromium-driver)
if ((${#missing[@]})); then
    if [[ -n ${CHROMIUM:-} && ! -x $CHROMIUM_BIN ]]; then die "CHROMIUM=$CHROMIUM is not an executable file"; fi
    if [[ -n ${CHROMEDRIVER:-} && ! -x $DRIVER_BIN ]]; then die "CHROMEDRIVER=$CHROMEDRIVER is not an executable file"; fi
    apt_install "${missing[@]}"
    [[ -x $CHROMIUM_BIN && -x $DRIVER_BIN ]] ||
        die "after installing ${missing[*]}, $CHROMIUM_BIN or $DRIVER_BIN is still missing"
fi
# Debian's chromium is a wrapper script; --version starts no browser.
chromium_version=$("$CHROMIUM_BIN" --version 2>/dev/null) || die "$CHROMIUM_BIN --version failed"
driver_version=$("$DRIVER_BIN" --version 2>/dev/null) || die "$DRIVER_BIN --version failed"
if [[ $(major "$chromium_version") != "$(major "$driver_version")" ]]; then
    die "$CHROMIUM_BIN is '$chromium_version' but $DRIVER_BIN is '$driver_version': they must share a major version"
fi

# --- b. a font with Khmer glyphs --------------------------------------------------------------------
khmer_fonts() { have fc-list && fc-list :lang=km family 2>/dev/null | head -n 1; }
if [[ -z $(khmer_fonts) ]]; then
    apt_install "$FONT_PACKAGE" fontconfig
    [[ -n $(khmer_fonts) ]] || die "installed $FONT_PACKAGE but fontconfig lists no font for Khmer (fc-list :lang=km)"
fi

# --- c. axe-core from npm ---------------------------------------------------------------------------
axe_js=$WEB_TOOLS/node_modules/axe-core/axe.min.js
axe_version() {
    local manifest=$WEB_TOOLS/node_modules/axe-core/package.json
    [[ -f $manifest ]] && grep -oE '"version"[[:space:]]*:[[:space:]]*"[^"]*"' "$manifest" | head -n 1 | cut -d'"' -f4
}
if [[ $(axe_version) != "$AXE_CORE_VERSION" || ! -f $axe_js ]]; then
    have npm || die "npm is needed to fetch axe-core $AXE_CORE_VERSION (Debian: apt-get install npm)"
    mkdir -p "$WEB_TOOLS"
    # Two runs at once (make test beside make screenshots) must not write one prefix together.
    exec 9>"$WEB_TOOLS/.browser-up.lock"
    have flock && flock 9
    if [[ $(axe_version) != "$AXE_CORE_VERSION" || ! -f $axe_js ]]; then
        say "fetching axe-core@$AXE_CORE_VERSION from npm into $WEB_TOOLS (log: $LOG)"
        npm install --prefix "$WEB_TOOLS" --no-audit --no-fund --save-exact --loglevel=error \
            "axe-core@$AXE_CORE_VERSION" >>"$LOG" 2>&1 ||
            { tail -n 20 "$LOG" >&4; die "npm install axe-core@$AXE_CORE_VERSION failed (log: $LOG)"; }
    fi
    [[ -f $axe_js ]] || die "npm installed axe-core but $axe_js is missing"
fi

say "$chromium_version; $driver_version; Khmer font: $(khmer_fonts); axe-core $AXE_CORE_VERSION ($axe_js)"
printf '%s\n' "$DRIVER_BIN" >&3
