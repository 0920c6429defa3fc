"""Settings of the benchmark's Django project: the original setup's
maintenance middleware in a stock Django project (startproject's middleware
list), configured from the environment by scripts/bench.sh and
tests/bench_apache_test.go.

    MAINTENANCE_FLAG_FILE   the flag file (present = maintenance on)
    MAINTENANCE_WHITELIST   IPs and CIDR blocks, comma-separated
    MAINTENANCE_ALLOW_ADMIN 1 (default) lets superusers through
    MAINTENANCE_LOG         the middleware's log file (mgmt.log)
    BENCH_DB                the SQLite database (sessions, users)
    BENCH_SECRET_KEY        SECRET_KEY
"""
import os

BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SECRET_KEY = os.environ.get("BENCH_SECRET_KEY", "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
DEBUG = False
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "mgmt",
]

# startproject's list, with the maintenance middleware after the
# authentication middleware (it reads request.user), as in the original.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "mgmt.middleware_maintenance.MaintenanceModeMiddleware",
]

ROOT_URLCONF = "benchsite.urls"
WSGI_APPLICATION = "benchsite.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("BENCH_DB", os.path.join(BASE_DIR, "bench.sqlite3")),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True
TIME_ZONE = "UTC"

MAINTENANCE_FLAG_FILE = os.environ.get("MAINTENANCE_FLAG_FILE", "/data/var/mcc/apache/.maintenance_mode")
MAINTENANCE_WHITELIST = [s.strip() for s in os.environ.get("MAINTENANCE_WHITELIST", "").split(",") if s.strip()]
MAINTENANCE_ALLOW_ADMIN = os.environ.get("MAINTENANCE_ALLOW_ADMIN", "1") == "1"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(message)s"}},
    "handlers": {
        "mgmt": {
            "class": "logging.FileHandler",
            "filename": os.environ.get("MAINTENANCE_LOG", os.devnull),
            "formatter": "plain",
        },
    },
    "loggers": {"mgmt": {"handlers": ["mgmt"], "level": "INFO", "propagate": False}},
}
