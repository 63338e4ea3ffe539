"""Pytest plugins (fixture modules) loaded by tests/conftest.py."""
