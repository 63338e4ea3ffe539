"""The storefront's public pages, under /store/<slug>/."""

from django.urls import path

from .storefront import accounts, views

app_name = "storefront"
urlpatterns = [
    path("<slug:shop_slug>/products/<int:product_id>/", views.product_page, name="product"),
    path("<slug:shop_slug>/account/", accounts.account, name="account"),
    path("<slug:shop_slug>/account/signup/", accounts.signup, name="signup"),
    path("<slug:shop_slug>/account/signup/verify/", accounts.verify, name="verify"),
    path("<slug:shop_slug>/account/login/", accounts.login, name="login"),
    path("<slug:shop_slug>/account/logout/", accounts.logout, name="logout"),
    path("<slug:shop_slug>/account/number/", accounts.change_number, name="change-number"),
    path("<slug:shop_slug>/account/email/", accounts.verify_email, name="verify-email"),
    path("<slug:shop_slug>/account/reset/", accounts.reset, name="reset"),
    path("<slug:shop_slug>/account/reset/confirm/", accounts.reset_confirm, name="reset-confirm"),
]
