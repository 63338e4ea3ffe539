"""Settings for smsnotify, read from the environment.

Every variable has an embedded default so that ``make run`` works on a laptop with
nothing installed (SQLite, a filesystem Celery broker, the sandbox SMS gateway).
Production sets DATABASE_URL, REDIS_URL, SECRET_KEY, DEBUG=false, ALLOWED_HOSTS and
PUBLIC_BASE_URL; ``manage.py check --deploy`` is then clean.
"""

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import dj_database_url
from kombu import Queue
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from .env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_str("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is false.")
    SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# The address gateways call back (delivery reports). Behind a TLS-terminating proxy
# request.build_absolute_uri() says http://, which breaks webhook signatures.
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "").rstrip("/")
# Where the texts' short links point (smsnotify/links.py): a short domain of its own
# ("https://s.example.com", served by this app when routed here) or a path of this app
# ("…/s"). Empty: links are sent as written. Served before Django (smsnotify/redirect.py).
PUBLIC_SHORT_URL = env_str(
    "PUBLIC_SHORT_URL",
    f"{PUBLIC_BASE_URL}/s" if PUBLIC_BASE_URL else ("http://127.0.0.1:8000/s" if DEBUG else ""),
).rstrip("/")
if PUBLIC_SHORT_URL and (urlsplit(PUBLIC_SHORT_URL).scheme not in ("http", "https")
                         or not urlsplit(PUBLIC_SHORT_URL).netloc
                         or urlsplit(PUBLIC_SHORT_URL).query or urlsplit(PUBLIC_SHORT_URL).fragment):
    raise ImproperlyConfigured("PUBLIC_SHORT_URL must be an http(s) address with no query, e.g. https://s.example.com")

INSTALLED_APPS = [
    "campaigns.apps.BackOfficeAdminConfig",  # django.contrib.admin with the dashboard and statistics
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "phonenumber_field",
    "django_celery_beat",
    "shop",
    "smsnotify",
    "credits",
    "templates_sms",
    "campaigns",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "shop.middleware.ShopLocaleMiddleware",  # after auth and LocaleMiddleware: the shop's language and zone
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "smsnotify.urls"
WSGI_APPLICATION = "smsnotify.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "smsnotify" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "credits.context_processors.credits",
                "campaigns.context_processors.inbox",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server, the worker and beat share one file: WAL lets readers run beside
    # the writer, IMMEDIATE takes the write lock at BEGIN so that a claim (select, then
    # update) inside atomic() is serialised instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif env_str("DATABASE_PREPARE_THRESHOLD", ""):
    # Django leaves psycopg's server-side prepared statements off so that transaction-mode
    # poolers (PgBouncer before 1.21) work. Reached directly, PostgreSQL then plans the
    # delivery run's repeated statements once per connection.
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = env_int("DATABASE_PREPARE_THRESHOLD", 5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("pl", _("Polish")), ("pt", _("Portuguese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Phone numbers are stored E.164; the shop's country is the region for national input.
PHONENUMBER_DB_FORMAT = "E164"
PHONENUMBER_DEFAULT_FORMAT = "E164"

# --- SMS ---------------------------------------------------------------------------------
SMS_GATEWAY = env_str("SMS_GATEWAY", "smsnotify.gateways.sandbox.SandboxGateway")
SMS_DISPATCH_INTERVAL = env_int("SMS_DISPATCH_INTERVAL", 5)  # seconds between beat scans
SMS_DISPATCH_BATCH = env_int("SMS_DISPATCH_BATCH", 100)  # messages one delivery task claims and records at once
# At most this many messages wait for a worker (queued, rung); the rest of a backlog waits in the
# database. Several seconds of work for the workers, far below SMS_QUEUED_LEASE_SECONDS' worth.
SMS_DISPATCH_MAX_QUEUED = env_int("SMS_DISPATCH_MAX_QUEUED", 20_000)
# How long a provider may keep trying to hand a text over before dropping it, by lane: a sign-up
# code an hour late is worse than none (Twilio's ValidityPeriod, 1 s to 10 h).
SMS_LANE_VALIDITY_SECONDS = {"codes": 600, "service": 3600, "marketing": 4 * 3600}
# What an incoming text means (STOP, START, HELP, YES): read above the core, by campaigns.
SMS_INBOUND_HANDLER = "campaigns.keywords.inbound_handle"
# Before the gateway, in order: each may hold or refuse a batch's messages; the charge goes last
# (it pays only for what will be sent). After the answer, each settles in reverse (refunds).
SMS_DELIVERY_POLICIES = [
    "campaigns.bulk.BulkSendFinishing",  # first, so it settles last (after the refunds)
    "smsnotify.policies.SmsSwitchedOff",
    "campaigns.policies.OptedOut",
    "campaigns.policies.OrderStatusStillCurrent",
    "campaigns.cart_policy.AbandonedCartStillAbandoned",
    "campaigns.date_policy.DateCampaignStillOn",
    "campaigns.policies.MarketingConsentRequired",
    "campaigns.policies.QuietHours",
    "campaigns.policies.FrequencyCap",
    "campaigns.codes.CodeTextsExpire",
    "smsnotify.pacing.SenderPacing",  # after every check that stops a text, so only what leaves uses the rate
    "credits.policies.ChargeCredits",
    "campaigns.codes.CodeTextsForgotten",  # settles first: a code's digits are forgotten once it has left
]
# A code text's digits are blanked in its message once it has left (campaigns.codes.CodeTextsForgotten);
# kept on a laptop, where the sandbox texts nobody and the admin is where a demo reads its codes.
SMS_CODE_TEXTS_FORGOTTEN = env_bool("SMS_CODE_TEXTS_FORGOTTEN", not DEBUG)
SMS_MAX_ATTEMPTS = env_int("SMS_MAX_ATTEMPTS", 6)  # transient failures before giving up
SMS_RETRY_BASE_SECONDS = 30  # backoff: 30 s, 60 s, 120 s … capped below
SMS_RETRY_MAX_SECONDS = 3600
SMS_QUEUED_LEASE_SECONDS = 120  # a queued row older than this lost its doorbell: ring again
SMS_SENDING_LEASE_SECONDS = 300  # a row in "sending" longer than this becomes "unknown"
SMS_LATE_CUTOFF_HOURS = env_int("SMS_LATE_CUTOFF_HOURS", 48)  # past this, a due row expires
SMS_RECONCILE_GRACE_SECONDS = 600  # after this the provider's "no such message" is trusted
# Test texts from the SMS settings page, per shop (counted in Django's cache): enough to try a
# configuration, too few to make the page a sender of its own.
SMS_TEST_TEXTS_PER_MINUTE = env_int("SMS_TEST_TEXTS_PER_MINUTE", 3)
SMS_TEST_TEXTS_PER_DAY = env_int("SMS_TEST_TEXTS_PER_DAY", 20)
# The SMS report's Excel file is written whole before its first byte leaves: past this many rows
# (about a minute's work on two busy cores) the page asks for CSV, which streams as it goes.
SMS_REPORT_XLSX_MAX_ROWS = env_int("SMS_REPORT_XLSX_MAX_ROWS", 200_000)
# Messages API calls a delivery task keeps open at once: a whole batch, so a batch waits for one
# answer time (150-300 ms), not one per 32 calls. Twilio also limits the calls an account has open
# at once (429, retried after backoff): keep this times the delivery processes under that limit.
TWILIO_MAX_IN_FLIGHT = env_int("TWILIO_MAX_IN_FLIGHT", SMS_DISPATCH_BATCH)

TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN", "")
TWILIO_MESSAGING_SERVICE_SID = env_str("TWILIO_MESSAGING_SERVICE_SID", "")
TWILIO_FROM_NUMBER = env_str("TWILIO_FROM_NUMBER", "")
TWILIO_API_BASE_URL = env_str("TWILIO_API_BASE_URL", "")
TWILIO_TIMEOUT = env_int("TWILIO_TIMEOUT", 10)

# --- Credits (the platform's defaults; the operator edits prices in the admin) -------------
SMS_CREDITS_PER_SEGMENT_DOMESTIC = env_int("SMS_CREDITS_PER_SEGMENT_DOMESTIC", 12)
SMS_CREDITS_PER_SEGMENT_INTERNATIONAL = env_int("SMS_CREDITS_PER_SEGMENT_INTERNATIONAL", 30)
CREDITS_MINIMUM_PURCHASE = env_int("CREDITS_MINIMUM_PURCHASE", 300)
CREDITS_CUSTOM_MAX = env_int("CREDITS_CUSTOM_MAX", 1_000_000)  # a typo must not buy 10**12 credits
CREDITS_PRICING_CACHE_SECONDS = env_int("CREDITS_PRICING_CACHE_SECONDS", 10)  # workers see price edits within
CREDITS_PRICE_PER_THOUSAND = {"USD": 1000, "EUR": 900, "GBP": 800, "PLN": 4000, "BRL": 750}  # minor units
CREDITS_PAYMENT_PROVIDERS = env_list("CREDITS_PAYMENT_PROVIDERS", ["credits.payments.sandbox.SandboxPaymentProvider"])
CREDITS_PENDING_PURCHASE_HOURS = env_int("CREDITS_PENDING_PURCHASE_HOURS", 72)  # unpaid transfers expire
CREDITS_SANDBOX_WEBHOOK_SECRET = env_str("CREDITS_SANDBOX_WEBHOOK_SECRET", "")  # "" = derived from SECRET_KEY

# --- Storefront ----------------------------------------------------------------------------
# Back-in-stock sign-ups are limited per visitor's IP address (per shop) and per number, counted in
# Django's cache: Redis when REDIS_URL is set, so every web process counts together.
STOREFRONT_SIGNUPS_PER_IP_PER_HOUR = env_int("STOREFRONT_SIGNUPS_PER_IP_PER_HOUR", 10)
STOREFRONT_SIGNUPS_PER_NUMBER_PER_DAY = env_int("STOREFRONT_SIGNUPS_PER_NUMBER_PER_DAY", 5)
# Storefront accounts' codes (shop/verification.py; the 30 s, 3 an hour per number, 10 minutes and 5
# tries are the rules themselves): codes issued per visitor's IP address and session in an hour, and
# different numbers of one range (all digits but the last two) that get codes in an hour.
STOREFRONT_CODES_PER_IP_PER_HOUR = env_int("STOREFRONT_CODES_PER_IP_PER_HOUR", 10)
STOREFRONT_CODES_PER_SESSION_PER_HOUR = env_int("STOREFRONT_CODES_PER_SESSION_PER_HOUR", 5)
STOREFRONT_CODES_PER_RANGE_PER_HOUR = env_int("STOREFRONT_CODES_PER_RANGE_PER_HOUR", 3)
# Log-in tries per IP address and per number or email in an hour (counted in the cache).
STOREFRONT_LOGINS_PER_IP_PER_HOUR = env_int("STOREFRONT_LOGINS_PER_IP_PER_HOUR", 30)
STOREFRONT_LOGINS_PER_ACCOUNT_PER_HOUR = env_int("STOREFRONT_LOGINS_PER_ACCOUNT_PER_HOUR", 10)
# Behind a proxy every visitor has the proxy's REMOTE_ADDR: trust the address your proxy appends last
# to X-Forwarded-For (only when a proxy you run always sets it; a visitor can write the header too).
TRUST_PROXY_FORWARDED_FOR = env_bool("TRUST_PROXY_FORWARDED_FOR", False)

# --- Celery and the cache ------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "")
# The cache is shared by every web process and worker (rate limits, webhook idempotency tokens):
# Redis when there is one, in a database of its own (clearing it never touches the broker's
# queues); else this process's memory, which is enough for one runserver.
CACHE_URL = env_str("CACHE_URL", "")
if not CACHE_URL and REDIS_URL:
    _broker = urlsplit(REDIS_URL)
    _db = int(_broker.path.strip("/") or 0)
    CACHE_URL = urlunsplit(_broker._replace(path=f"/{_db + 1}"))
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
          if CACHE_URL else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
else:
    # kombu's filesystem transport: a broker that needs no server, for laptops.
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_URL = "filesystem://"
    # the same transport, writing each message whole before a worker can read it (smsnotify/broker.py)
    CELERY_BROKER_TRANSPORT = "smsnotify.broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
    for _folder in ("queue", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
# One queue per lane (outbox.delivery_queue) and one for beat's own tasks, each with its own workers
# (bin/run-all, docker-compose.yml): codes and service texts never wait behind a marketing blast,
# and dispatch never waits behind deliveries.
CELERY_TASK_QUEUES = [Queue(name) for name in ("sms.codes", "sms.service", "sms.marketing", "sms.housekeeping")]
CELERY_TASK_DEFAULT_QUEUE = "sms.housekeeping"
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True  # a task whose worker died is redelivered; tasks are re-run safe
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "dispatch-due-messages": {"task": "smsnotify.dispatch_due", "schedule": float(SMS_DISPATCH_INTERVAL)},
    "recover-stale-messages": {"task": "smsnotify.recover_stale", "schedule": 60.0},
    "poll-delivery-reports": {"task": "smsnotify.poll_reports", "schedule": 10.0},
    # Set-based and idempotent: each run writes what fell due since the last one.
    "date-campaigns": {"task": "campaigns.date_campaigns_run", "schedule": 300.0},
    "abandoned-carts": {"task": "campaigns.abandoned_carts_run", "schedule": 300.0},
    "expire-pending-purchases": {"task": "credits.expire_pending_purchases", "schedule": 300.0},
    "finish-bulk-sends": {"task": "campaigns.bulk_sends_finish", "schedule": 30.0},
}

# --- Email (low-balance alerts when SMS is off, password resets) ------------------------
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "smsnotify <noreply@localhost>")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)  # an alert email must not hold a delivery run for long

# --- Production hardening (every flag follows DEBUG unless set) ----------------------------
if env_bool("TRUST_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # The twilio SDK logs eleven INFO lines (URL and headers) for every API call: at a few hundred
    # texts a second that drowns the workers' log and costs them CPU. Its warnings still show;
    # TWILIO_LOG_LEVEL=INFO brings the lines back when debugging.
    "loggers": {"twilio.http_client": {"level": env_str("TWILIO_LOG_LEVEL", "WARNING")}},
}
