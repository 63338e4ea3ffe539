import pytest

from shop.models import Customer, MarketingConsent
from tests.factories import CustomerFactory, fund, make_merchant, make_shop


@pytest.fixture
def funded(db):
    shop = make_shop(name="Funded")
    fund(shop, 1000)
    return shop


@pytest.fixture
def merchant(client, funded):
    client.force_login(make_merchant(funded))
    return client


def consenting(shop, **kwargs):
    return CustomerFactory(shop=shop, marketing_consent=MarketingConsent.GRANTED, **kwargs)


def customers_of(shop):
    return Customer.objects.filter(shop=shop)
