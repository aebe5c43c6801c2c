"""A database error names the statement but never its values: the logs must not carry the TOTP
secrets, hashes or personal data a failed write was about to store."""
from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from platform_kit.db import Database


def test_a_failed_statement_does_not_show_its_parameters(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(OperationalError) as failed:
        with database.transaction() as session:
            session.execute(text("UPDATE users SET totp_secret = :secret"), {"secret": "JBSWY3DPEHPK3PXP"})
    assert "UPDATE users" in str(failed.value) and "JBSWY3DPEHPK3PXP" not in str(failed.value)
