from django.urls import path, re_path

from benchsite import views

urlpatterns = [
    re_path(r"^(?:[a-z]{2}(?:-[a-z]+)?/)?admin/", views.page),
    path("", views.page),
    re_path(r"^.*$", views.page),
]
