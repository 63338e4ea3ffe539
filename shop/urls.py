"""The storefront's public pages, under /store/<shop slug>/."""

from django.urls import path

from .storefront import views

app_name = "storefront"
urlpatterns = [
    path("<slug:shop_slug>/products/<int:product_id>/", views.product_page, name="product"),
]
