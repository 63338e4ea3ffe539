"""Django's own admin phrases, translated again by the project.

Django's Polish for these guesses every gender at once ("Usuń wybrane(-nych) klienci",
"został(a)(-ło) pomyślnie zmieniony(-na)(-ne)", "Według pola typ") and its Portuguese gives every
model a masculine article ("O mensagem"). The project's catalogue (LOCALE_PATHS) wins over
Django's for the same msgid, so locale/{pl,pt} phrase them to work for any model name:
"Usuń zaznaczone (klienci)", "Zapisano zmiany: klient „Anna”.".

``makemessages --no-obsolete`` keeps only msgids found in our own sources, so they are named here.
Nothing imports this module at run time: it exists for makemessages (and the test that renders
the admin in Polish, tests/shop/test_django_phrases.py).
"""

from django.utils.translation import gettext_noop, ngettext_lazy

ACTIONS = [
    gettext_noop("Delete selected %(verbose_name_plural)s"),
    gettext_noop("Select all %(total_count)s %(module_name)s"),
    gettext_noop("Are you sure you want to delete the selected %(objects_name)s? All of the following objects and "
                 "their related items will be deleted:"),
    gettext_noop("Deleting the selected %(objects_name)s would result in deleting related objects, but your account "
                 "doesn't have permission to delete the following types of objects:"),
    gettext_noop("Deleting the selected %(objects_name)s would require deleting the following protected related "
                 "objects:"),
]

SAVED = [
    gettext_noop("The {name} “{obj}” was added successfully."),
    gettext_noop("The {name} “{obj}” was added successfully. You may add another {name} below."),
    gettext_noop("The {name} “{obj}” was changed successfully."),
    gettext_noop("The {name} “{obj}” was changed successfully. You may edit it again below."),
    gettext_noop("The {name} “{obj}” was changed successfully. You may add another {name} below."),
    gettext_noop("The %(name)s “%(obj)s” was deleted successfully."),
    gettext_noop("%(name)s with ID “%(key)s” doesn’t exist. Perhaps it was deleted?"),
]
CHANGED_IN_LIST = ngettext_lazy("%(count)s %(name)s was changed successfully.",
                                "%(count)s %(name)s were changed successfully.", "count")

WIDGETS = [
    gettext_noop(" By %(filter_title)s "),  # a list filter's title (admin/filter.html)
    gettext_noop("Add another %(verbose_name)s"),
    gettext_noop("Add another %(model)s"),
    gettext_noop("Change selected %(model)s"),
    gettext_noop("Delete selected %(model)s"),
    gettext_noop("View selected %(model)s"),
    gettext_noop("In case you’ve forgotten, you are:"),
]
