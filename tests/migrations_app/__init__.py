"""A test-only app whose migrations the migration linter's tests lint.

Added to ``INSTALLED_APPS`` only by the tests that need it (``override_settings``); its
models exist only in its migrations' state. 0002 and 0005 are unsafe, 0003 is the safe
form of 0002, 0004 is unsafe but ignores its rule.
"""
