# Source this file to point STASIS_CRIU at the criu that scripts/install-criu installed, when
# STASIS_CRIU is not set already and no criu >= 4 is on PATH. It never installs anything.
#   . scripts/criu-env.sh
if [ -z "${STASIS_CRIU:-}" ]; then
	_stasis_criu="${STASIS_CRIU_PREFIX:-/usr/local/lib/stasis-criu}/criu"
	if ! command -v criu >/dev/null 2>&1 ||
		! criu --version 2>/dev/null | grep -q '^Version: *[4-9]'; then
		if [ -x "$_stasis_criu" ]; then
			STASIS_CRIU=$_stasis_criu
			export STASIS_CRIU
		fi
	fi
	unset _stasis_criu
fi
