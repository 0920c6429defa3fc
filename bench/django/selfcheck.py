"""Checks that the benchmark's MaintenanceModeMiddleware does what the
original setup describes, before scripts/bench.sh measures it:

    /usr/bin/python3 bench/django/selfcheck.py

Prints "selfcheck: ok" and exits 0, or names the first rule that fails.
"""
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

tmp = tempfile.mkdtemp(prefix="mg-django-check-")
flag = os.path.join(tmp, "maintenance")
os.environ.update({
    "DJANGO_SETTINGS_MODULE": "benchsite.settings",
    "BENCH_DB": os.path.join(tmp, "db.sqlite3"),
    "MAINTENANCE_FLAG_FILE": flag,
    "MAINTENANCE_WHITELIST": "192.168.1.100, 10.0.0.0/8",
})

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

call_command("migrate", verbosity=0, interactive=False)
User.objects.create_superuser("admin", password="admin-pw")
User.objects.create_user("staff", password="staff-pw", is_staff=True)


def want(status, path, what, client=None, **extra):
    c = client or Client()
    r = c.get(path, **extra)
    if r.status_code != status or (status == 302 and r["Location"] != "/maintenance.html"):
        sys.exit("selfcheck: %s: %s got %d %s, want %d" % (what, path, r.status_code, r.get("Location", ""), status))


want(200, "/de/map/", "maintenance off")
open(flag, "w").close()
want(302, "/de/map/", "maintenance on")
want(302, "/", "maintenance on, home")
for p in ("/static/x.css", "/media/a.png", "/admin/", "/de/admin/", "/pt-br/admin/login/"):
    want(200, p, "always allowed")
want(302, "/administrator/", "not the admin prefix")
want(200, "/de/map/", "whitelisted IP", REMOTE_ADDR="192.168.1.100")
want(200, "/de/map/", "whitelisted CIDR", REMOTE_ADDR="10.9.8.7")
want(200, "/de/map/", "whitelisted client behind the proxy", HTTP_X_FORWARDED_FOR="10.1.1.1, 127.0.0.1")
want(302, "/de/map/", "other client behind the proxy", HTTP_X_FORWARDED_FOR="203.0.113.7")
su = Client()
su.login(username="admin", password="admin-pw")
want(200, "/de/map/", "superuser", client=su)
st = Client()
st.login(username="staff", password="staff-pw")
want(302, "/de/map/", "staff, not superuser", client=st)
os.remove(flag)
want(200, "/de/map/", "maintenance off again")
print("selfcheck: ok")
