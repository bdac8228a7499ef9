"""Test-session environment, loaded as a plugin (-p) before pytest-django imports settings."""

import os
import tempfile

os.environ.setdefault("GUANXI_DATA_DIR", tempfile.mkdtemp(prefix="guanxi-test-"))
os.environ.setdefault("SECRET_KEY", "test-only-secret-key")
os.environ.setdefault("GUANXI_JOBS_IMMEDIATE", "1")
# Tests never reach a real relay unless a test starts its own SMTP sink and points at it.
os.environ.setdefault("EMAIL_URL", "smtp://127.0.0.1:2525")
