"""The Connect entry point makes its Chime SDK Voice client only when a take-back transfer needs it."""

from __future__ import annotations

from typing import Any

from switchboard.lambda_runtime import LazyClient


class _Client:
    def __init__(self) -> None:
        self.meta = "meta"

    def update_sip_media_application_call(self, **kwargs: Any) -> dict[str, Any]:
        return {"asked": kwargs}


def test_nothing_is_made_until_first_use_and_then_once() -> None:
    made: list[_Client] = []

    def create() -> _Client:
        made.append(_Client())
        return made[-1]

    client: Any = LazyClient(create)
    assert made == []

    assert client.update_sip_media_application_call(TransactionId="t") == {"asked": {"TransactionId": "t"}}
    assert client.meta == "meta"
    assert len(made) == 1


def test_the_connect_entry_point_makes_no_chime_client_at_import(monkeypatch: Any) -> None:
    import importlib

    import botocore.session

    monkeypatch.setenv("TABLE_NAME", "switchboard")
    monkeypatch.setenv("SIP_MEDIA_APPLICATION_ID", "sma-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    made: list[str] = []
    original = botocore.session.Session.create_client

    def counting(self: Any, service_name: str, *args: Any, **kwargs: Any) -> Any:
        made.append(service_name)
        return original(self, service_name, *args, **kwargs)

    monkeypatch.setattr(botocore.session.Session, "create_client", counting)
    import connect_lambda.app

    module = importlib.reload(connect_lambda.app)

    assert "chime-sdk-voice" not in made
    assert module.app is not None
    assert module.app.calls._client.meta.service_model.service_name == "chime-sdk-voice"
    assert made.count("chime-sdk-voice") == 1
