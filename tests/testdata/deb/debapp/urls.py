from django.contrib import admin
from django.http import HttpResponse
from django.urls import path


def page(request):
    return HttpResponse("debapp: the application answered %s\n" % request.path, content_type="text/plain")


urlpatterns = [
    path("admin/", admin.site.urls),
    path("de/map/", page),
    path("", page),
]
