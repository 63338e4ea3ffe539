"""A test database copied from a migrated template, for mutation runs.

mutmut starts a pytest session per mutant, and each session would migrate a fresh SQLite
database: about 6 s, most of what a mutant costs. bin/mutation migrates one file once and names
it in SMSNOTIFY_TEST_DB_TEMPLATE; each session then copies it into its in-memory test database
(SQLite's backup API, as Django's own parallel runner does). Ordinary test runs are untouched.
"""

import os
import sqlite3

import pytest

TEMPLATE = os.environ.get("SMSNOTIFY_TEST_DB_TEMPLATE")

if TEMPLATE:

    @pytest.fixture(scope="session")
    def django_db_setup(django_db_blocker):
        from django.conf import settings
        from django.db import connection

        assert connection.vendor == "sqlite", "a template database is only for the SQLite unit tests"
        with django_db_blocker.unblock():
            test_name = connection.creation._get_test_db_name()
            connection.close()
            connection.settings_dict["NAME"] = test_name
            settings.DATABASES[connection.alias]["NAME"] = test_name
            connection.connect()
            source = sqlite3.connect(f"file:{TEMPLATE}?mode=ro", uri=True)
            try:
                source.backup(connection.connection)
            finally:
                source.close()
        # Nothing to tear down: the in-memory database ends with the process.
