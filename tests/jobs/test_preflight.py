"""The preflight names every setting a channel needs that cannot work, writing nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from dispatch import batchformat as bf
from dispatch.config import load_settings
from dispatch.db.types import Channel
from dispatch.errors import ConfigurationError
from dispatch.jobs import preflight
from dispatch.transports.channels import email_transport, post_transport


def _env(tmp_path: Path, **over: str) -> dict[str, str]:
    _, recipient = bf.generate_identity()
    env = {"DISPATCH_VAR_DIR": str(tmp_path / "var"), "DISPATCH_PRINTHOUSE_RECIPIENT": recipient}
    env.update({f"DISPATCH_{k.upper()}": v for k, v in over.items()})
    return env


def test_a_working_configuration_passes_and_no_check_writes_a_key(tmp_path: Path) -> None:
    settings = load_settings(_env(tmp_path))

    assert preflight.problems(settings, preflight.CHANNELS) == {}
    assert not settings.signing_key_file.exists()  # checked, not created
    email_transport(settings).close()
    assert not settings.signing_key_file.exists()  # e-mail never needs it
    post = post_transport(settings)
    assert settings.signing_key_file.exists() and post.recipient.startswith("age1")


@pytest.mark.parametrize(
    ("over", "channel", "line"),
    [
        ({"printhouse_recipient": ""}, Channel.POST, "DISPATCH_PRINTHOUSE_RECIPIENT: no print"),
        (
            {"printhouse_recipient": "age1notakey"},
            Channel.POST,
            "DISPATCH_PRINTHOUSE_RECIPIENT: ",
        ),
        ({"outbox_url": "s3://"}, Channel.POST, "DISPATCH_OUTBOX_URL: expected s3://bucket"),
        ({"mailer_url": "smtp://"}, Channel.EMAIL, "DISPATCH_MAILER_URL: "),
        ({"mailer_url": "maildir://"}, Channel.EMAIL, "DISPATCH_MAILER_URL: expected maildir"),
    ],
)
def test_a_setting_that_cannot_work_is_named_in_one_line(
    tmp_path: Path, over: dict[str, str], channel: Channel, line: str
) -> None:
    found = preflight.problems(load_settings(_env(tmp_path, **over)), preflight.CHANNELS)

    assert set(found) == {channel}
    message = str(found[channel])
    assert message.startswith(f"configuration: {line}")
    assert "\n" not in message


def test_an_unreadable_signing_key_is_named(tmp_path: Path) -> None:
    key = tmp_path / "signing.pem"
    key.write_text("not a key")
    settings = load_settings(_env(tmp_path, signing_key_file=str(key)))

    with pytest.raises(ConfigurationError, match="DISPATCH_SIGNING_KEY_FILE: "):
        preflight.require(settings, [Channel.POST])
    preflight.require(settings, [Channel.EMAIL])  # e-mail does not need it
