# Chromium for the call-centre page's browser test
# (internal/httpapi/browser_test.go, which drives it with chromedp).
# Sourced by scripts/test.sh: installs Debian's chromium when it is missing,
# then exports where it is and where the test saves its screenshots. It
# starts no server: each test run starts and stops its own headless browser.
if [ ! -x /usr/bin/chromium ]; then
  echo "chromium: installing Debian's chromium" >&2
  sudo=
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  # Fonts are only recommended, but screenshots need them; skip the rest of
  # the recommends (printing, notifications) that a headless test never uses.
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    chromium fonts-liberation fonts-dejavu-core >/dev/null
fi
dpkg-query -W -f 'chromium ${Version}\n' chromium
export TAXIETA_CHROMIUM=/usr/bin/chromium
export TAXIETA_ARTIFACTS_DIR=${TAXIETA_ARTIFACTS_DIR:-$root/.artifacts/screenshots}
mkdir -p "$TAXIETA_ARTIFACTS_DIR"
echo "chromium: screenshots go to $TAXIETA_ARTIFACTS_DIR"
