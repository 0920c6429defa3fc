#!/usr/bin/env bash
# Installs what maintgate's tests, demo and benchmarks need on a fresh Debian
# machine, and fails loudly when something cannot be had. Safe to run twice.
set -euo pipefail

need_go="1.26"
if ! command -v go >/dev/null 2>&1; then
	echo "deps: go is not installed (need Go >= $need_go at /usr/local/go or on PATH)" >&2
	exit 1
fi

# package:file-that-proves-it-is-installed
wanted=(
	apache2:/usr/sbin/apache2
	libapache2-mod-authnz-external:/usr/lib/apache2/modules/mod_authnz_external.so
	postgresql:/usr/lib/postgresql
	python3-django:/usr/lib/python3/dist-packages/django
	python3-psycopg2:/usr/lib/python3/dist-packages/psycopg2
	python3-mysqldb:/usr/lib/python3/dist-packages/MySQLdb
	mariadb-server:/usr/sbin/mariadbd
	sqlite3:/usr/bin/sqlite3
	curl:/usr/bin/curl
	chromium:/usr/bin/chromium
	apache2-utils:/usr/bin/htpasswd
	redis-server:/usr/bin/redis-server
	gunicorn:/usr/bin/gunicorn
	lintian:/usr/bin/lintian
)
if [ "${MAINTGATE_BENCH_DEPS:-}" != "" ]; then
	wanted+=(wrk:/usr/bin/wrk python3-matplotlib:/usr/lib/python3/dist-packages/matplotlib)
fi
missing=()
for w in "${wanted[@]}"; do
	pkg=${w%%:*} file=${w#*:}
	[ -e "$file" ] || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
	# Root installs; a user with sudo is asked for it; anyone else is told.
	as_root=()
	if [ "$(id -u)" != 0 ]; then
		if ! command -v sudo >/dev/null 2>&1; then
			echo "deps: missing ${missing[*]}; run as root: apt-get install ${missing[*]}" >&2
			exit 1
		fi
		as_root=(sudo)
	fi
	echo "deps: installing ${missing[*]}" >&2
	"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
for w in "${wanted[@]}"; do
	pkg=${w%%:*} file=${w#*:}
	if [ ! -e "$file" ]; then
		echo "deps: $pkg did not install ($file missing)" >&2
		exit 1
	fi
done
(cd "$(dirname "$0")/.." && go mod download)
