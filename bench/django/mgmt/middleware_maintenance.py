"""The original setup's MaintenanceModeMiddleware, written again from its
description (origin: "Maintenance Mode Setup"), as the baseline maintgate is
measured against.

During maintenance (the flag file exists) it lets through static and media
files, the maintenance page, the admin area (also behind a language prefix),
whitelisted IPs and CIDR blocks (the client IP read from X-Forwarded-For
behind the proxy), and superusers when allow_admin is on; everything else is
redirected to /maintenance.html, with the same log lines.

It is kept cheap where the original's description leaves room: settings are
parsed once at start (the original reads its whitelist from a model edited in
the admin), and the flag is one os.path.exists per request.
"""
import ipaddress
import logging
import os
import re

from django.conf import settings
from django.http import HttpResponseRedirect

logger = logging.getLogger("mgmt")

ALWAYS_ALLOWED = ("/static/", "/media/", "/maintenance.html")
ADMIN = re.compile(r"^/(?:[a-z]{2}(?:-[a-z]+)?/)?admin/")


class MaintenanceModeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.flag_file = settings.MAINTENANCE_FLAG_FILE
        self.allow_admin = settings.MAINTENANCE_ALLOW_ADMIN
        self.networks = []
        for entry in settings.MAINTENANCE_WHITELIST:
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                logger.warning("[MaintenanceMode] Invalid whitelist entry %r skipped", entry)

    def __call__(self, request):
        if not os.path.exists(self.flag_file):
            return self.get_response(request)
        path = request.path
        if path.startswith(ALWAYS_ALLOWED):
            return self.get_response(request)
        if ADMIN.match(path):
            logger.debug("[MaintenanceMode] Allowing admin access (path: %s)", path)
            return self.get_response(request)
        ip = self.client_ip(request)
        if self.whitelisted(ip):
            logger.debug("[MaintenanceMode] Allowing whitelisted IP %s (path: %s)", ip, path)
            return self.get_response(request)
        user = getattr(request, "user", None)
        if self.allow_admin and user is not None and user.is_authenticated and user.is_superuser:
            logger.debug("[MaintenanceMode] Allowing access for superuser %s from IP %s (path: %s)", user.get_username(), ip, path)
            return self.get_response(request)
        logger.info("[MaintenanceMode] Redirecting IP %s to maintenance page (path: %s)", ip, path)
        return HttpResponseRedirect("/maintenance.html")

    @staticmethod
    def client_ip(request):
        # "With Proxy/Load Balancer: IP is read from X-Forwarded-For header".
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
        if forwarded:
            return forwarded.split(",")[0].strip()
        return request.META.get("REMOTE_ADDR", "")

    def whitelisted(self, ip):
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(addr in net for net in self.networks)
