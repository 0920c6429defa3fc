"""Prepare debapp for TestDeb: migrate its database, create a superuser,
log them in as a browser would, and print the session cookie's value.

    DEBAPP_SECRET=... DEBAPP_DB=/path/db.sqlite3 python3 mkadmin.py
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "debapp.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

call_command("migrate", verbosity=0, interactive=False)
User.objects.create_superuser("admin", "admin@example.org", "debapp-admin-pw")
c = Client()
if not c.login(username="admin", password="debapp-admin-pw"):
    sys.exit("mkadmin: login failed")
print(c.cookies[settings.SESSION_COOKIE_NAME].value)
