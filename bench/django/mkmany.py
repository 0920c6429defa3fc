"""Makes many real Django sessions fast, for the memory benchmark:

    /usr/bin/python3 bench/django/mkmany.py --db /path/db.sqlite3 \
        --secret SECRET_KEY --count 100000 --keys keys.txt

Migrates a fresh SQLite database, creates one active superuser, and writes
COUNT database sessions logged in as that user: session data encoded and
signed by Django's own SessionStore.encode (what login() saves), the
_auth_user_hash from the user's get_session_auth_hash(), expiring in two
weeks; rows inserted in bulk. The session keys go to --keys, one a line.
"""
import argparse
import os
import secrets
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--keys", required=True)
    args = ap.parse_args()

    from django.conf import settings

    settings.configure(
        SECRET_KEY=args.secret,
        USE_TZ=True,
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": args.db}},
        INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions"],
        SESSION_ENGINE="django.contrib.sessions.backends.db",
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    )
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone

    start = time.time()
    call_command("migrate", verbosity=0, interactive=False)
    admin = User.objects.create_superuser("admin", password="admin-pw")
    data = {
        "_auth_user_id": str(admin.pk),
        "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
        "_auth_user_hash": admin.get_session_auth_hash(),
    }
    store = SessionStore()
    expire = timezone.now() + timezone.timedelta(days=14)
    keys = []
    batch = []
    with transaction.atomic():
        for _ in range(args.count):
            key = secrets.token_hex(16)  # 32 characters of [0-9a-f], as Django's keys
            keys.append(key)
            batch.append(Session(session_key=key, session_data=store.encode(data), expire_date=expire))
            if len(batch) == 5000:
                Session.objects.bulk_create(batch)
                batch = []
        Session.objects.bulk_create(batch)
    with open(args.keys, "w") as f:
        f.write("\n".join(keys) + "\n")
    print("mkmany: %d sessions in %.1f s" % (args.count, time.time() - start), file=sys.stderr)


if __name__ == "__main__":
    main()
