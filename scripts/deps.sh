#!/bin/sh
# deps.sh - install the Debian packages sluice needs to build and test.
# As root it runs apt-get itself; otherwise it prints the exact command.
set -eu

PKGS="make gcc pkg-config libc6-dev
libevent-dev libssl-dev libc-ares-dev libconfig-dev libcmocka-dev libcrypt-dev
libsqlite3-dev
clang libclang-rt-14-dev
python3 python3-pytest python3-pytest-xdist python3-aiosmtpd swaks nmap postfix dnsmasq-base
msmtp dovecot-core chromium chromium-driver python3-selenium
openssl curl procps strace"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "deps: missing Debian packages:$missing"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: run as root:"
	echo "  echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections"
	echo "  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y$missing"
	exit 1
fi
# Postfix is a test peer only: never let the package start a system MTA.
echo "postfix postfix/main_mailer_type select No configuration" |
	debconf-set-selections
export DEBIAN_FRONTEND=noninteractive
# Peers for the tests only: no package may start a system service.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq
apt-get install -y -qq $missing
