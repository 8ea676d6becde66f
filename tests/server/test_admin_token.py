"""The admin token (docs/protocol.md "Admin token"): generated once, shown once on stderr,
kept as a digest; a configured token wins. The live restart is in tests/live."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from server.admin_token import admin_digest, digest, matches
from server.config import Settings
from server.store import Store


async def test_generated_once_shown_once_and_kept(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str],
                                                  caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(db=str(tmp_path / "t.db"), admin_token="")
    caplog.set_level(logging.INFO)
    store = await Store.open(settings.db)
    try:
        kept = await admin_digest(settings, store)
    finally:
        await store.close()
    shown = capsys.readouterr().err
    token = shown.split("shown only this once:", 1)[1].split()[0]
    assert matches(token, kept)
    assert not matches(token + "x", kept)
    assert token not in caplog.text  # the structured log never carries it
    assert "admin.token_generated" in caplog.text

    store = await Store.open(settings.db)  # a restart
    try:
        assert await admin_digest(settings, store) == kept
    finally:
        await store.close()
    assert capsys.readouterr().err == ""  # shown only at the first start
    assert "admin.token_stored" in caplog.text


async def test_a_configured_token_wins(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    store = await Store.open(str(tmp_path / "t.db"))
    try:
        chosen = Settings(db=str(tmp_path / "t.db"), admin_token="my-own")
        assert await admin_digest(chosen, store) == digest("my-own")
        assert await store.secret_digest("admin_token") is None  # nothing generated
    finally:
        await store.close()
    assert capsys.readouterr().err == ""
