"""Test settings: the real settings with the locmem gateway and Celery run inline."""

from smsnotify.settings import *  # noqa: F403

SMS_GATEWAY = "smsnotify.gateways.locmem.LocmemGateway"
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
SECURE_SSL_REDIRECT = False
TWILIO_ACCOUNT_SID = "AC" + "0" * 32
TWILIO_AUTH_TOKEN = "test-auth-token"
PUBLIC_BASE_URL = "https://sms.example.com"
# A short domain of its own, as production would have (its path-prefix form is tested too).
PUBLIC_SHORT_URL = "https://s.example.com"
# Each test process counts in its own memory (cache.clear() must never flush a shared Redis).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
