"""Settings from the environment: production variables pass check --deploy; a bad gateway stops start-up."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "k3y-" + "x9Z!q2#Lm7$" * 6,
    "ALLOWED_HOSTS": "sms.example.com",
    "DATABASE_URL": "postgres://user:pw@db.example.com:5432/smsnotify",
    "REDIS_URL": "redis://redis.example.com:6379/0",
    "PUBLIC_BASE_URL": "https://sms.example.com",
}


def manage(*args, env_extra=None):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    env.update(env_extra or {}, DJANGO_SETTINGS_MODULE="smsnotify.settings")
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_check_deploy_is_clean_with_production_variables():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env_extra=PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_without_secret_key_refuses_to_start():
    result = manage("check", env_extra={**PRODUCTION, "SECRET_KEY": ""})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_unknown_gateway_fails_at_start_up_naming_the_setting():
    result = manage("check", env_extra={"SMS_GATEWAY": "smsnotify.gateways.nope.NopeGateway"})
    assert result.returncode != 0
    assert "SMS_GATEWAY='smsnotify.gateways.nope.NopeGateway' cannot be imported" in result.stderr


def test_bad_boolean_names_the_variable():
    result = manage("check", env_extra={"DEBUG": "maybe"})
    assert result.returncode != 0
    assert "DEBUG='maybe' is not a boolean" in result.stderr


def test_embedded_defaults_need_no_server(settings):
    from smsnotify import settings as real

    if "DATABASE_URL" in os.environ:
        pytest.skip("DATABASE_URL is set for this run")
    assert real.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert real.CELERY_BROKER_URL == "filesystem://"
    assert real.SMS_GATEWAY == "smsnotify.gateways.sandbox.SandboxGateway"


def test_compose_file_runs_a_worker_per_lane_and_one_beat():
    from django.conf import settings

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    workers = {name: service for name, service in compose["services"].items() if name.startswith("worker-")}
    assert set(compose["services"]) - set(workers) == {"postgres", "redis", "web", "beat"}
    assert "gunicorn" in compose["services"]["web"]["command"]
    assert compose["services"]["beat"]["command"].startswith("celery -A smsnotify beat")
    consumed = {service["command"].split(" -Q ")[1].split()[0] for service in workers.values()}
    assert consumed == {queue.name for queue in settings.CELERY_TASK_QUEUES}  # every queue has its workers


def _shell(code: str, **env) -> str:
    result = manage("shell", "--no-imports", "-c", code, env_extra=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_a_delivery_batch_goes_to_twilio_at_once_unless_the_operator_says_otherwise():
    code = "from django.conf import settings; print(settings.TWILIO_MAX_IN_FLIGHT)"
    assert _shell(code, SMS_DISPATCH_BATCH="60") == "60"
    assert _shell(code, SMS_DISPATCH_BATCH="60", TWILIO_MAX_IN_FLIGHT="20") == "20"


def test_the_twilio_sdk_does_not_log_every_call_unless_asked():
    # Eleven INFO lines (URL, headers) per API call would drown a worker's log at INFO.
    code = "import logging; print(logging.getLogger('twilio.http_client').getEffectiveLevel())"
    assert _shell(code, LOG_LEVEL="INFO") == "30"
    assert _shell(code, LOG_LEVEL="INFO", TWILIO_LOG_LEVEL="INFO") == "20"
