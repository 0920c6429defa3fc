#!/bin/sh
# Builds dist/maintgate_VERSION_ARCH.deb with dpkg-deb alone: no debhelper,
# no fakeroot (--root-owner-group makes every file root:root), no Go module
# beyond the project's own. Run through `make deb`.
#
#   packaging/build-deb.sh BINARY VERSION OUTDIR
#
# BINARY is the static binary `make build` made, stamped with VERSION (git
# describe). The package version is VERSION in Debian's syntax (see
# debversion below). Everything the package holds comes from the
# repository: apache-conf/ (two lines of the conf and one of the toml are
# changed for the package's paths, checked below), packaging/, docs/.
set -eu

bin=$1 version=$2 out=$3
repo=$(cd "$(dirname "$0")/.." && pwd)
pkg=$repo/packaging

die() { echo "build-deb: $*" >&2; exit 1; }
[ -x "$bin" ] || die "$bin: no such binary (make build first)"
command -v dpkg-deb >/dev/null || die "dpkg-deb is missing (Debian package dpkg)"

# debversion turns git describe into a Debian version, which must start
# with a digit and sort in commit order:
#   v1.2.3            -> 1.2.3
#   v1.2.3-4-gabc1234 -> 1.2.3+4.gabc1234
#   abc1234 (no tag)  -> 0~git20261203101500.abc1234 (the commit's time)
#   ...-dirty         -> ...+dirty
debversion() {
	v=$1 suffix=
	case $v in *-dirty) v=${v%-dirty} suffix=+dirty ;; esac
	# A tag is v1.2 or 1.2.3 (a dot); a bare hash may start with a digit.
	if echo "$v" | grep -Eq '^v?[0-9]+\.[0-9]'; then
		v=${v#v}
		echo "$v" | sed -E 's/-([0-9]+)-g([0-9a-f]+)$/+\1.g\2/; s/-/~/g' | tr -d '\n'
	else
		when=$(git -C "$repo" log -1 --format=%cd --date=format:%Y%m%d%H%M%S 2>/dev/null || echo 0)
		printf '0~git%s.%s' "$when" "$v"
	fi
	printf '%s\n' "$suffix"
}
debver=$(debversion "$version")
arch=$(dpkg --print-architecture)
# Who answers for the package (control and changelog): DEB_MAINTAINER.
maintainer=${DEB_MAINTAINER:-maintgate developers <maintgate@users.noreply.github.com>}

root=$(mktemp -d "${TMPDIR:-/tmp}/maintgate-deb.XXXXXX")
chmod 755 "$root"
trap 'rm -rf "$root"' EXIT
umask 022

# subst FILE FROM TO: replace the line FROM by TO, exactly once, or fail:
# a shipped file that changed must not silently lose a package path.
subst() {
	n=$(grep -cxF -- "$2" "$1" || true)
	[ "$n" = 1 ] || die "$1: expected the line '$2' once, found it $n times"
	awk -v from="$2" -v to="$3" '$0 == from { print to; next } { print }' "$1" > "$1.new"
	mv "$1.new" "$1"
}

d=$root
install -d "$d/DEBIAN" "$d/usr/bin" "$d/etc/maintgate" "$d/etc/apache2/conf-available" \
	"$d/etc/apache2/maintgate" "$d/etc/logrotate.d" "$d/usr/lib/systemd/system" \
	"$d/usr/share/maintgate/www" "$d/usr/share/man/man8" "$d/usr/share/doc/maintgate" \
	"$d/usr/share/bash-completion/completions"

install -m 755 "$bin" "$d/usr/bin/maintgate"

# The server-wide Apache part: the package's binary, and the map run as
# maintgate:maintgate, not as root.
conf=$d/etc/apache2/conf-available/maintgate.conf
install -m 644 "$repo/apache-conf/maintgate.conf" "$conf"
subst "$conf" '    Define MAINTGATE_BIN /usr/local/bin/maintgate' '    Define MAINTGATE_BIN /usr/bin/maintgate'
subst "$conf" 'RewriteMap maintgate "prg:${MAINTGATE_BIN} map -config ${MAINTGATE_CONFIG}"' \
	'#RewriteMap maintgate "prg:${MAINTGATE_BIN} map -config ${MAINTGATE_CONFIG}"'
subst "$conf" '#RewriteMap maintgate "prg:${MAINTGATE_BIN} map -config ${MAINTGATE_CONFIG}" maintgate:maintgate' \
	'RewriteMap maintgate "prg:${MAINTGATE_BIN} map -config ${MAINTGATE_CONFIG}" maintgate:maintgate'

# The vhost snippets, as they are (the panel's too, when present).
for f in "$repo"/apache-conf/maintgate-*.conf; do
	install -m 644 "$f" "$d/etc/apache2/maintgate/"
done

# The config: the example, with the token key the postinst makes.
toml=$d/etc/maintgate/maintgate.toml
install -m 644 "$repo/apache-conf/maintgate.toml" "$toml"
subst "$toml" 'key_file = ""' 'key_file = "/etc/maintgate/token.key"   # made by the package (0640 root:maintgate)'
subst "$toml" '#            chmod 640 /etc/maintgate/token.key; chgrp www-data /etc/maintgate/token.key' \
	'#            chmod 640 /etc/maintgate/token.key; chgrp maintgate /etc/maintgate/token.key'
install -m 644 "$repo/apache-conf/maintenance.html.tmpl" "$d/etc/maintgate/"
# The pages: copied to /var/www/maintgate by the postinst when absent
# (maintgate on/off render maintenance.html there; dpkg must not own it).
install -m 644 "$repo/apache-conf/maintenance.html" "$repo/apache-conf/maintenance.json" "$d/usr/share/maintgate/www/"

install -m 644 "$pkg/maintgate.logrotate" "$d/etc/logrotate.d/maintgate"
install -m 644 "$pkg/maintgate-panel.service" "$d/usr/lib/systemd/system/"
install -m 644 "$pkg/maintgate.bash-completion" "$d/usr/share/bash-completion/completions/maintgate"
gzip -9n < "$pkg/maintgate.8" > "$d/usr/share/man/man8/maintgate.8.gz"
install -d "$d/usr/share/lintian/overrides"
install -m 644 "$pkg/debian/lintian-overrides" "$d/usr/share/lintian/overrides/maintgate"

# Documentation: the README and the contract, the copyright, a changelog.
doc=$d/usr/share/doc/maintgate
install -m 644 "$pkg/debian/copyright" "$doc/copyright"
gzip -9n < "$repo/README.md" > "$doc/README.md.gz"
for f in "$repo"/docs/*.md; do
	[ -e "$f" ] && gzip -9n < "$f" > "$doc/$(basename "$f").gz"
done
when=$(git -C "$repo" log -1 --format=%cD 2>/dev/null || date -R)
printf 'maintgate (%s) unstable; urgency=medium\n\n  * Built from git %s.\n\n -- %s  %s\n' \
	"$debver" "$version" "$maintainer" "$when" | gzip -9n > "$doc/changelog.gz"

# Control files.
size=$(du -sk --exclude=DEBIAN "$d" | cut -f1)
sed -e "s/@VERSION@/$debver/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" -e "s|@MAINTAINER@|$maintainer|" "$pkg/debian/control.in" > "$d/DEBIAN/control"
for s in postinst prerm postrm; do
	install -m 755 "$pkg/debian/$s" "$d/DEBIAN/$s"
done
(cd "$d" && find etc -type f | sort | sed 's|^|/|') > "$d/DEBIAN/conffiles"
(cd "$d" && find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | sort | xargs md5sum) > "$d/DEBIAN/md5sums"

mkdir -p "$out"
deb=$out/maintgate_${debver}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$d" "$deb" >/dev/null
echo "$deb"
