"""Make Django sessions for maintgate's tests, with a real Django.

Run with Debian's /usr/bin/python3 (python3-django 3.2):

    mksessions.py --db sqlite:/tmp/x.db --secret KEY --old-secret OLDKEY

--db is sqlite:/path, postgres://user@host:port/db or
mysql://user:pass@host:port/db (PostgreSQL needs python3-psycopg2, MySQL and
MariaDB need python3-mysqldb). The script migrates the database, creates
users, logs them in the way a browser would (django.test.Client.login, which
runs authenticate() and login()), and prints one JSON object on stdout:

    {"cases": {NAME: {"cookie": VALUE, "user_id": "ID"}, ...},
     "users": {USERNAME: {"id": "ID", "password": PLAIN, "hash": ENCODED}}}

Case names say what maintgate must answer; the Go tests hold the table.
"""

import argparse
import json
import sys
import time
import urllib.parse
from unittest import mock


def database_settings(url):
    if url.startswith("sqlite:"):
        path = url[len("sqlite:"):]
        if path.startswith("//"):
            path = path[2:]
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": path}
    u = urllib.parse.urlsplit(url)
    engines = {
        "postgres": "django.db.backends.postgresql",
        "postgresql": "django.db.backends.postgresql",
        "mysql": "django.db.backends.mysql",
    }
    if u.scheme not in engines:
        sys.exit("mksessions: unsupported database URL scheme %r" % u.scheme)
    return {
        "ENGINE": engines[u.scheme],
        "NAME": u.path.lstrip("/"),
        "USER": urllib.parse.unquote(u.username or ""),
        "PASSWORD": urllib.parse.unquote(u.password or ""),
        "HOST": u.hostname or "",
        "PORT": str(u.port or ""),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--old-secret", required=True)
    args = ap.parse_args()

    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY=args.secret,
        USE_TZ=True,
        TIME_ZONE="Europe/Berlin",
        DATABASES={"default": database_settings(args.db)},
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
        ],
        SESSION_ENGINE="django.contrib.sessions.backends.db",
        PASSWORD_HASHERS=[
            "django.contrib.auth.hashers.PBKDF2PasswordHasher",
            "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
            "django.contrib.auth.hashers.MD5PasswordHasher",
        ],
        ALLOWED_HOSTS=["testserver"],
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    )
    import django

    django.setup()

    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group, User
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import override_settings
    from django.utils import timezone

    call_command("migrate", verbosity=0, interactive=False)

    cases = {}
    users = {}
    signed = "django.contrib.sessions.backends.signed_cookies"

    def user(name, password, superuser=True, staff=None, hasher=None):
        u = User.objects.create_user(name, password=password)
        u.is_superuser = superuser
        u.is_staff = superuser if staff is None else staff
        if hasher:
            u.password = make_password(password, hasher=hasher)
        u.save()
        users[name] = {"id": str(u.pk), "password": password, "hash": u.password}
        return u

    def login(case, u, password):
        c = Client()
        if not c.login(username=u.username, password=password):
            sys.exit("mksessions: login failed for %s" % u.username)
        cases[case] = {"cookie": c.cookies["sessionid"].value, "user_id": str(u.pk)}
        return cases[case]["cookie"]

    admin = user("admin", "admin-pw")
    login("superuser", admin, "admin-pw")

    with override_settings(SESSION_ENGINE=signed):
        login("signed_superuser", admin, "admin-pw")
        # SESSION_COOKIE_AGE is 1209600 s: sign fifteen days ago.
        with mock.patch("time.time", return_value=time.time() - 15 * 86400):
            login("signed_expired", admin, "admin-pw")
    with override_settings(SESSION_ENGINE=signed, SECRET_KEY=args.old_secret):
        login("signed_oldkey_superuser", admin, "admin-pw")

    # Signed (and its _auth_user_hash computed) with a key that is no
    # longer SECRET_KEY; maintgate accepts it only when the key is listed as
    # a fallback.
    with override_settings(SECRET_KEY=args.old_secret):
        login("oldkey_superuser", admin, "admin-pw")

    # Django 3.2 writes the pre-3.1 session format, and a SHA-1
    # _auth_user_hash, when DEFAULT_HASHING_ALGORITHM is 'sha1'.
    with override_settings(DEFAULT_HASHING_ALGORITHM="sha1"):
        login("legacy_superuser", admin, "admin-pw")
    with override_settings(DEFAULT_HASHING_ALGORITHM="sha1", SESSION_ENGINE=signed):
        login("signed_sha1_superuser", admin, "admin-pw")

    # A session big enough that signing.dumps compresses it ('.' prefix).
    key = login("compressed_superuser", admin, "admin-pw")
    s = SessionStore(session_key=key)
    s["blob"] = "maintenance " * 400
    s.save()

    key = login("expired", admin, "admin-pw")
    Session.objects.filter(session_key=key).update(
        expire_date=timezone.now() - timezone.timedelta(hours=1))

    staff = user("staff", "staff-pw", superuser=False, staff=True)
    login("staff", staff, "staff-pw")
    with override_settings(SESSION_ENGINE=signed):
        login("signed_staff", staff, "staff-pw")

    plain = user("plain", "plain-pw", superuser=False, staff=False)
    login("plain", plain, "plain-pw")

    # [session] allow = ["group:qa"]: a member of "qa" (neither staff nor
    # superuser), a member of another group only, through Django's ORM
    # (auth_group, auth_user_groups).
    qa_group = Group.objects.create(name="qa")
    other_group = Group.objects.create(name="other")
    qa = user("qa", "qa-pw", superuser=False, staff=False)
    qa.groups.add(qa_group, other_group)
    login("qa", qa, "qa-pw")
    other = user("other", "other-pw", superuser=False, staff=False)
    other.groups.add(other_group)
    login("other_group", other, "other-pw")

    # Inactive, though superuser, staff and in "qa": no rule lets it pass.
    inactive = user("inactive", "inactive-pw")
    inactive.groups.add(qa_group)
    login("inactive", inactive, "inactive-pw")
    inactive.is_active = False
    inactive.save()

    changed = user("changed", "changed-pw")
    login("password_changed", changed, "changed-pw")
    changed.set_password("changed-pw-2")
    changed.save()
    users["changed"].update(password="changed-pw-2", hash=changed.password)

    gone = user("gone", "gone-pw")
    login("deleted_user", gone, "gone-pw")
    gone.delete()
    del users["gone"]

    sha1 = user("sha1admin", "sha1-pw", hasher="pbkdf2_sha1")
    login("pbkdf2_sha1_superuser", sha1, "sha1-pw")
    user("md5admin", "md5-pw", hasher="md5")

    anon = SessionStore()
    anon["cart"] = [1, 2, 3]
    anon.create()
    cases["anonymous"] = {"cookie": anon.session_key, "user_id": ""}

    json.dump({"cases": cases, "users": users}, sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
