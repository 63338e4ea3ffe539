import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smsnotify.settings")
application = get_wsgi_application()

# The short links' clicks are answered before Django's stack (smsnotify/redirect.py).
from smsnotify.redirect import ShortLinkRedirect  # noqa: E402 - needs the settings configured above

application = ShortLinkRedirect(application)
