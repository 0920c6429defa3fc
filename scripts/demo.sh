#!/usr/bin/env bash
# maintgate demo: a real Apache httpd on 127.0.0.1 with maintgate in front of
# a small backend standing in for the application, all in a temporary
# directory. Nothing outside it is changed, apart from installing missing
# Debian packages.
#
#   sudo scripts/demo.sh          start, print what to try, wait for Ctrl-C
#   sudo scripts/demo.sh stop     stop a demo started from another terminal
#   DEMO_SELFTEST=1 scripts/demo.sh
#                                 non-interactive: maintenance on -> 302,
#                                 off -> 200, one site on -> only its
#                                 vhosts 302, the panel's API behind
#                                 Apache, then stop; exit 0 on success
#
# Besides the vhost on DEMO_PORT (no site: the server-wide switch), two
# sites on the next free ports: shop (two vhosts, as :80 and :443 would be)
# and blog, each naming itself with Define MAINTGATE_SITE
# (tests/testdata/httpd.conf.in, MG_SITES). The control panel (`maintgate
# panel`) runs beside them, under /maintgate/ of the first vhost
# (apache-conf/maintgate-panel.conf, MG_PANEL), with an htpasswd user.
#
# Environment: DEMO_PORT (default 8080, or the next free port),
# DEMO_VARIANT=503 (the 503 snippet instead of the 302 one),
# MAINTGATE_BINARY (use this binary instead of building one with go).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
pointer=${TMPDIR:-/tmp}/maintgate-demo.dir   # where a running demo lives

say() { printf '%s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

apache_bin() {
    for b in /usr/sbin/apache2 /usr/sbin/httpd; do
        [ -x "$b" ] && { echo "$b"; return; }
    done
    command -v apache2 || true
}

# stop_demo DIR: stop Apache (which stops the map process), the backend, and
# remove the directory.
stop_demo() {
    local dir=$1
    [ -d "$dir" ] || return 0
    if [ -f "$dir/httpd.conf" ]; then
        "$(apache_bin)" -f "$dir/httpd.conf" -k stop 2>/dev/null || true
        for _ in $(seq 50); do
            [ -f "$dir/httpd.pid" ] && kill -0 "$(cat "$dir/httpd.pid" 2>/dev/null)" 2>/dev/null || break
            sleep 0.1
        done
        [ -f "$dir/httpd.pid" ] && kill -9 "$(cat "$dir/httpd.pid" 2>/dev/null)" 2>/dev/null || true
    fi
    for p in backend panel; do
        [ -f "$dir/$p.pid" ] && kill "$(cat "$dir/$p.pid")" 2>/dev/null || true
    done
    rm -rf "$dir"
    [ "$(cat "$pointer" 2>/dev/null)" = "$dir" ] && rm -f "$pointer"
    return 0
}

if [ "${1:-}" = stop ]; then
    [ -f "$pointer" ] || die "no demo is running ($pointer is missing)"
    stop_demo "$(cat "$pointer")"
    say "demo stopped"
    exit 0
fi
[ $# -eq 0 ] || die "usage: $0 [stop]"

# --- 1. What the demo needs, installed when missing (Debian, as root).
missing=()
[ -n "$(apache_bin)" ] || missing+=(apache2)
[ -f /usr/lib/apache2/modules/mod_authnz_external.so ] || missing+=(libapache2-mod-authnz-external)
command -v curl >/dev/null || missing+=(curl)
command -v htpasswd >/dev/null || missing+=(apache2-utils)   # the panel's login
if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" -eq 0 ] || die "missing ${missing[*]}; run as root to install them"
    say "installing ${missing[*]} ..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ "$(id -u)" -eq 0 ] || die "run as root: Apache's children switch to www-data, and the demo uses loopback aliases"
apache=$(apache_bin)
python=$(command -v /usr/bin/python3 || command -v python3 || true)
[ -n "$python" ] || die "python3 is needed for the demo backend"
if [ -f "$pointer" ] && [ -d "$(cat "$pointer")" ]; then
    die "a demo is already running in $(cat "$pointer"); stop it with: $0 stop"
fi

# --- 2. A directory for everything; readable by www-data (Apache's children
# serve the page and read the state map from it).
dir=$(mktemp -d "${TMPDIR:-/tmp}/maintgate-demo.XXXXXX")
chmod 755 "$dir"
echo "$dir" > "$pointer"
cleanup() { stop_demo "$dir"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$dir/state" "$dir/www/static" "$dir/page" "$dir/app/de/map" "$dir/app/admin" "$dir/app/staff"

# --- 3. maintgate.
if [ -n "${MAINTGATE_BINARY:-}" ]; then
    install -m 755 "$MAINTGATE_BINARY" "$dir/maintgate"
else
    command -v go >/dev/null || die "go is needed to build maintgate (https://go.dev/dl/), or set MAINTGATE_BINARY"
    say "building maintgate ..."
    # Stamped as make build stamps it, so `mg version` names what runs.
    version=$(git -C "$repo" describe --tags --always --dirty 2>/dev/null || echo devel)
    (cd "$repo" && CGO_ENABLED=0 go build -trimpath -ldflags "-X main.version=$version" -o "$dir/maintgate" ./cmd/maintgate)
fi
mg="$dir/maintgate"
head -c 32 /dev/urandom > "$dir/token.key"
chmod 640 "$dir/token.key"
chgrp www-data "$dir/token.key" 2>/dev/null || true
# The authz checker's record of failed passwords (maintgate-authz.conf).
install -d -o www-data -m 700 "$dir/state/authz"
cp "$repo/apache-conf/maintenance.html" "$repo/apache-conf/maintenance.json" "$dir/page/"
cat > "$dir/maintgate.toml" <<EOF
# maintgate demo configuration (see apache-conf/maintgate.toml for every key)
flag_file = "$dir/state/maintenance"
state_map = "$dir/state/state.map"
allow_paths = ["/static/", "/media/", "/maintenance.html", "/maintenance.json", "/robots.txt", "/healthz"]
whitelist_file = "$dir/whitelist.txt"
stats_file = "$dir/state/stats.prom"
admin_paths = ["/admin/"]
whitelist = ["127.0.0.2"]
page_template = "$repo/apache-conf/maintenance.html.tmpl"
page_file = "$dir/page/maintenance.html"

[log]
level = "debug"
format = "console"

[token]
key_file = "$dir/token.key"

# Two sites with switches of their own (maintgate on --site shop).
[sites.shop]
[sites.blog]
EOF
printf '# one IP or CIDR a line (edit it in the panel)\n' > "$dir/whitelist.txt"
# The state map must exist before Apache starts (AH00526 otherwise).
"$mg" off -config "$dir/maintgate.toml" >/dev/null

# --- 4. The backend: static files served by python3 standing in for the app.
free_port() {
    local p=$1
    while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
    echo "$p"
}
for p in "" de/map admin staff; do
    printf '<!DOCTYPE html><title>app</title><h1>The application: /%s</h1>\n' "$p" > "$dir/app/$p/index.html"
done
echo "ok" > "$dir/app/healthz"
echo "body { font-family: sans-serif; }" > "$dir/www/static/app.css"
backend_port=$(free_port 18000)
"$python" -m http.server "$backend_port" --bind 127.0.0.1 --directory "$dir/app" > "$dir/backend.log" 2>&1 &
echo $! > "$dir/backend.pid"

# --- 5. Apache, with the shipped snippets: the configuration the Apache
# tests run, tests/testdata/httpd.conf.in, rendered for this directory (the
# same placeholders as renderHTTPDConf in tests/harness_test.go).
port=$(free_port "${DEMO_PORT:-8080}")
shop_port=$(free_port $((port + 1)))
shop_alt_port=$(free_port $((shop_port + 1)))
blog_port=$(free_port $((shop_alt_port + 1)))
panel_port=$(free_port $((blog_port + 1)))
defines=$'Define MG_USER\nDefine MG_SKIP_STATIC\nDefine MG_AUTHZ\nDefine MG_SITES\nDefine MG_PANEL'
defines+=$'\nDefine MAINTGATE_PANEL_URL http://127.0.0.1:'"$panel_port/"
[ "${DEMO_VARIANT:-}" = 503 ] && defines+=$'\nDefine MG_503'
HTTPD_DIR=$dir HTTPD_PORT=$port HTTPD_BACKEND=127.0.0.1:$backend_port HTTPD_BIN=$mg \
HTTPD_SHOP_PORT=$shop_port HTTPD_SHOP_ALT_PORT=$shop_alt_port HTTPD_BLOG_PORT=$blog_port \
HTTPD_CONFIG=$dir/maintgate.toml HTTPD_REPO=$repo HTTPD_DEFINES=$defines HTTPD_SERVER= \
"$python" - "$repo/tests/testdata/httpd.conf.in" > "$dir/httpd.conf" <<'PY'
import os, re, sys
def value(m):
    name = "HTTPD_" + m.group(1)
    if name not in os.environ:
        sys.exit("demo: %s: no value for %s" % (sys.argv[1], m.group(1)))
    return os.environ[name]
sys.stdout.write(re.sub(r"@([A-Z_]+)@", value, open(sys.argv[1]).read()))
PY
"$apache" -f "$dir/httpd.conf" -k start || { cat "$dir/error.log" >&2; die "Apache did not start"; }

# --- 5b. The control panel: HTTP Basic against a bcrypt htpasswd file
# (htpasswd -B), the audit log beside it.
panel_user=admin
panel_pw=$(head -c 12 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 12)
htpasswd -cbB "$dir/panel.htpasswd" "$panel_user" "$panel_pw" 2>/dev/null
cat >> "$dir/maintgate.toml" <<EOF

# The control panel (maintgate panel), behind Apache at /maintgate/.
[panel]
listen = "127.0.0.1:$panel_port"
auth = ["htpasswd"]
htpasswd_file = "$dir/panel.htpasswd"
audit_log = "$dir/audit.log"
EOF
"$mg" panel -config "$dir/maintgate.toml" > "$dir/panel.log" 2>&1 &
echo $! > "$dir/panel.pid"
base="http://127.0.0.1:$port"
shop="http://127.0.0.1:$shop_port" shop_alt="http://127.0.0.1:$shop_alt_port" blog="http://127.0.0.1:$blog_port"
for _ in $(seq 100); do
    curl -fsS -o /dev/null "$base/healthz" 2>/dev/null && break
    sleep 0.1
done
curl -fsS -o /dev/null "$base/healthz" || { cat "$dir/error.log" >&2; die "Apache does not answer on $base"; }
for _ in $(seq 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/maintgate/assets/panel.css")" = 200 ] && break
    sleep 0.1
done

status() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

# --- 6. The self-test, for scripts and CI.
if [ "${DEMO_SELFTEST:-}" = 1 ]; then
    fail=0
    check() { # want got what
        if [ "$1" = "$2" ]; then say "ok    $3: $2"; else say "FAIL  $3: got $2, want $1"; fail=1; fi
    }
    check 200 "$(status "$base/de/map/")" "maintenance off, /de/map/"
    # The walkthrough's alias puts -config before the command.
    check 0 "$("$mg" -config "$dir/maintgate.toml" status >/dev/null; echo $?)" "maintgate -config FILE status"
    if [ -z "${MAINTGATE_BINARY:-}" ]; then
        check "maintgate $version" "$("$mg" version | cut -d' ' -f1,2)" "maintgate version"
    fi
    # The next request is gated at once: `on` writes the state map, and the
    # map process re-reads the flag before it answers.
    "$mg" on -config "$dir/maintgate.toml" --message "Demo maintenance" >/dev/null
    want=302; [ "${DEMO_VARIANT:-}" = 503 ] && want=503
    check "$want" "$(status "$base/de/map/")" "maintenance on, /de/map/"
    check 200 "$(status "$base/admin/")" "maintenance on, /admin/"
    check 200 "$(status --interface 127.0.0.2 "$base/de/map/")" "maintenance on, whitelisted 127.0.0.2"
    "$mg" off -config "$dir/maintgate.toml" >/dev/null
    check 200 "$(status "$base/de/map/")" "maintenance off again, /de/map/"
    "$mg" on -config "$dir/maintgate.toml" --site shop >/dev/null
    check "$want" "$(status "$shop/de/map/")" "site shop on, shop /de/map/"
    check "$want" "$(status "$shop_alt/de/map/")" "site shop on, shop's second vhost /de/map/"
    check 200 "$(status "$blog/de/map/")" "site shop on, blog /de/map/"
    check 200 "$(status "$base/de/map/")" "site shop on, the vhost without a site /de/map/"
    "$mg" off -config "$dir/maintgate.toml" --site shop >/dev/null
    check 200 "$(status "$shop/de/map/")" "site shop off, shop /de/map/"
    # The panel, through Apache, as a script uses it.
    check 401 "$(status "$base/maintgate/api/status")" "panel without a login"
    check 403 "$(status -u "$panel_user:wrong" "$base/maintgate/api/status")" "panel with a wrong password"
    check 200 "$(status -u "$panel_user:$panel_pw" -d '{"message":"from the panel"}' "$base/maintgate/api/on")" "panel api/on"
    check "$want" "$(status "$base/de/map/")" "maintenance on from the panel, /de/map/"
    check 401 "$(status "$base/maintgate/")" "the panel's path during maintenance (the panel's own sign-in, not the gate)"
    check 200 "$(status -u "$panel_user:$panel_pw" -d '{}' "$base/maintgate/api/off")" "panel api/off"
    check 200 "$(status "$base/de/map/")" "maintenance off from the panel, /de/map/"
    # Console logs without colour codes in Apache's error log.
    colour=none; grep -q $'\e\[' "$dir/error.log" && colour="ANSI escapes"
    check none "$colour" "colour codes in error.log"
    [ $fail = 0 ] || { tail -n 30 "$dir/error.log" >&2; exit 1; }
    say "demo self-test passed"
    exit 0
fi

# --- 7. What to try.
token=$("$mg" token issue -config "$dir/maintgate.toml" --ttl 8h --label demo 2>/dev/null | head -n 1)
cat <<EOF

maintgate demo is running: $base  (Apache $($apache -v | sed -n 's/^Server version: //p'))
  directory: $dir
  backend:   python3 http.server on 127.0.0.1:$backend_port
  logs:      $dir/error.log (Apache and maintgate), $dir/access.log

Try, in another terminal:

  alias mg='$mg -config $dir/maintgate.toml'
  curl -I $base/de/map/                       # 200: maintenance is off
  mg on --message "Upgrading the database" --until 30m
  curl -I $base/de/map/                       # 302 to /maintenance.html
  curl -I $base/admin/                        # 200: the admin stays reachable
  curl -I --interface 127.0.0.2 $base/de/map/ # 200: 127.0.0.2 is whitelisted
  curl -I -H 'Accept: application/json' $base/de/map/   # 503 with a JSON body
  curl -i "$base/maintgate-bypass?token=$token"   # sets the bypass cookie
  curl -I -b 'maintgate_bypass=$token' $base/de/map/   # 200, Cache-Control: private
  curl -I $base/staff/                        # 401: HTTP Basic via maintgate authz
  curl -I -u any:thing --interface 127.0.0.2 $base/staff/   # 200 (whitelisted)
  mg status
  touch $dir/state/maintenance; rm $dir/state/maintenance   # works too

  Sites: shop on $shop and $shop_alt, blog on $blog
  mg on --site shop --message "The shop moves house"
  curl -I $shop/de/map/                       # 302: shop is down, on both its vhosts
  curl -I $blog/de/map/                       # 200: blog stays up
  mg on --site shop --allow-path /webhook     # open one path of shop for this window
  touch $dir/state/maintenance.blog           # a site's flag by hand works too
  mg status                                   # every site, its state and window
  mg off --site shop; rm $dir/state/maintenance.blog
  mg off
  kill \$(cat $dir/backend.pid)                # backend down: 503 "temporarily unavailable"
  open $base/maintenance.html in a browser

  The control panel: $base/maintgate/   (user $panel_user, password $panel_pw)
  curl -u '$panel_user:$panel_pw' $base/maintgate/api/status
  curl -u '$panel_user:$panel_pw' -d '{"message":"Back soon","until":"30m"}' $base/maintgate/api/on
  curl -u '$panel_user:$panel_pw' -d '{}' $base/maintgate/api/off
  audit log: $dir/audit.log, panel log: $dir/panel.log

Stop with Ctrl-C here, or: $0 stop
EOF
while [ -d "$dir" ] && [ -f "$dir/httpd.pid" ]; do sleep 1; done
