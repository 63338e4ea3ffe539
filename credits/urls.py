from django.urls import path

from . import views

app_name = "credits"
urlpatterns = [
    path("<slug:provider>/", views.payment_webhook, name="payment-webhook"),
]
