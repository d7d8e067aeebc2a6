from pathlib import Path

import pytest

from chatdesk import Settings, create_app
from chatdesk.errors import ConfigError


def test_production_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="CHATDESK_SECRET_KEY is required in production"):
        Settings(env="production", instance_path=tmp_path)


def test_a_short_secret_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="at least 32 characters"):
        Settings(instance_path=tmp_path, secret_key="short")


def test_settings_come_from_chatdesk_environment_variables(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CHATDESK_ENV", "production")
    monkeypatch.setenv("CHATDESK_SECRET_KEY", "s3cret" * 8)
    monkeypatch.setenv("CHATDESK_DATABASE_URL", "postgresql+psycopg://db/chatdesk")
    monkeypatch.setenv("CHATDESK_MAX_MESSAGE_CHARS", "500")
    settings = Settings(instance_path=tmp_path)
    assert settings.env == "production"
    assert settings.sqlalchemy_url == "postgresql+psycopg://db/chatdesk"
    assert settings.max_message_chars == 500
    assert settings.resolved_secret_key() == "s3cret" * 8


def test_a_dotenv_file_is_read_in_development(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("CHATDESK_COMPANY_NAME=Acme Outdoor\n")
    assert Settings().company_name == "Acme Outdoor"


def test_the_default_is_sqlite_in_the_instance_folder(tmp_path: Path) -> None:
    settings = Settings(instance_path=tmp_path)
    assert settings.sqlalchemy_url == f"sqlite:///{tmp_path / 'chatdesk.db'}"
    assert settings.redis_url is None


def test_development_generates_a_secret_once_and_keeps_it(tmp_path: Path) -> None:
    settings = Settings(instance_path=tmp_path)
    key = settings.resolved_secret_key()
    assert len(key) > 40 and (tmp_path / "secret_key").read_text() == key
    assert Settings(instance_path=tmp_path).resolved_secret_key() == key
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_create_app_takes_its_settings(tmp_path: Path) -> None:
    app = create_app(Settings(instance_path=tmp_path, secret_key="k" * 32, company_name="Acme"))
    assert app.config["SECRET_KEY"] == "k" * 32
    assert app.extensions["chatdesk"].settings.company_name == "Acme"


def test_the_llm_key_falls_back_to_openai_api_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CHATDESK_LLM_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-usual-place")
    key = Settings(instance_path=tmp_path).llm_api_key
    assert key is not None and key.get_secret_value() == "sk-from-the-usual-place"
    monkeypatch.setenv("CHATDESK_LLM_API_KEY", "sk-chatdesk-own")
    key = Settings(instance_path=tmp_path).llm_api_key
    assert key is not None and key.get_secret_value() == "sk-chatdesk-own"
