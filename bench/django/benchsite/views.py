from django.http import HttpResponse


def page(request):
    """The application: a small page naming its path."""
    return HttpResponse("django: %s\n" % request.path, content_type="text/plain; charset=utf-8")
