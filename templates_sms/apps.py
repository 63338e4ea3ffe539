from django.apps import AppConfig


class TemplatesSmsConfig(AppConfig):
    name = "templates_sms"
    verbose_name = "SMS templates"
