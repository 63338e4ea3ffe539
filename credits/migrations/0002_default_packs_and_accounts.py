"""The default packs (1,000 / 2,000 / 5,000 credits) and an account for every existing shop."""

from django.db import migrations

# Minor units. 1,000 credits cost the same as CREDITS_PRICE_PER_THOUSAND; bigger packs are cheaper per credit.
PACKS = [
    ("1,000 credits", 1000, {"USD": 1000, "EUR": 900, "GBP": 800, "PLN": 4000, "BRL": 750}),
    ("2,000 credits", 2000, {"USD": 1900, "EUR": 1700, "GBP": 1500, "PLN": 7600, "BRL": 1425}),
    ("5,000 credits", 5000, {"USD": 4500, "EUR": 4000, "GBP": 3600, "PLN": 18000, "BRL": 3375}),
]


def forwards(apps, schema_editor):
    CreditPack = apps.get_model("credits", "CreditPack")
    CreditAccount = apps.get_model("credits", "CreditAccount")
    Shop = apps.get_model("shop", "Shop")
    if not CreditPack.objects.exists():
        for position, (name, credits, prices) in enumerate(PACKS):
            CreditPack.objects.create(name=name, credits=credits, prices=prices, position=position)
    CreditAccount.objects.bulk_create(
        [CreditAccount(shop=shop) for shop in Shop.objects.filter(credit_account__isnull=True)]
    )


class Migration(migrations.Migration):
    dependencies = [("credits", "0001_initial")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
