"""One typed settings object, read from ``CHATDESK_*`` environment variables (and ``.env``)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from chatdesk.errors import ConfigError

#: Where the project's own demo data lives in a source checkout.
REPO_ROOT = Path(__file__).resolve().parents[2]
MIN_SECRET_CHARS = 32


class Settings(BaseSettings):
    """Everything an operator can set. Defaults give the embedded, offline setup."""

    model_config = SettingsConfigDict(
        env_prefix="CHATDESK_", env_file=".env", extra="ignore", validate_default=True,
        populate_by_name=True,
    )

    env: Literal["development", "production", "testing"] = "development"
    secret_key: SecretStr | None = None
    instance_path: Path = Field(default_factory=lambda: Path.cwd() / "instance")
    database_url: str | None = None
    redis_url: str | None = None
    log_level: str = "INFO"
    log_json: bool = False

    company_name: str = "Larkspur Goods"
    max_message_chars: int = Field(default=4000, ge=1)
    history_turns: int = Field(default=6, ge=0)
    fallback_handoff_streak: int = Field(default=2, ge=1)

    reply_cache_ttl: int = Field(default=3600, ge=0)

    demo_path: Path = REPO_ROOT / "data" / "demo"
    models_dir: Path | None = None
    embedding_backend: Literal["onnx-int8", "onnx", "sentence-transformers"] = "onnx-int8"
    embedding_threads: int = Field(default=1, ge=1)
    # Calibrated for the default embedder on data/demo/calibration* by
    # `python benchmarks/retrieval.py --calibrate` (never on tests/data).
    retrieval_min_score: float = 0.615
    retrieval_lexical_weight: float = Field(default=0.3, ge=0)
    retrieval_lexical_saturation: float = Field(default=8.0, gt=0)
    retrieval_document_weight: float = Field(default=0.5, ge=0)
    retrieval_passage_margin: float = Field(default=0.06, ge=0)
    retrieval_top_k: int = Field(default=3, ge=1)
    # A question this close (cosine) to a curated answer's question gets the curated answer.
    curated_min_similarity: float = Field(default=0.8, gt=0, le=1)

    # Seconds between keep-alive comments on event streams (and database re-reads).
    sse_heartbeat: float = Field(default=15.0, gt=0)

    # An OpenAI-compatible LLM writes the answers when a base URL (or Azure endpoint) and a
    # model are set; otherwise answers come from the knowledge base as they are.
    llm_provider: Literal["openai", "azure"] | None = None
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("CHATDESK_LLM_API_KEY", "OPENAI_API_KEY", "llm_api_key"))
    llm_model: str | None = None
    llm_azure_endpoint: str | None = None
    llm_azure_api_version: str | None = None
    llm_azure_deployment: str | None = None
    # Seconds the customer may wait for the LLM, retries included; then the best answer
    # without it is given instead.
    llm_timeout: float = Field(default=15.0, gt=0)
    llm_max_retries: int = Field(default=1, ge=0)
    llm_temperature: float = Field(default=0.2, ge=0, le=2)
    llm_max_tokens: int = Field(default=400, ge=16)
    llm_tone: str = "friendly, clear and professional"
    llm_max_prompt_tokens: int = Field(default=3000, ge=200)
    llm_history_tokens: int = Field(default=800, ge=0)
    llm_passages: int = Field(default=3, ge=1, le=10)
    llm_breaker_failures: int = Field(default=5, ge=1)
    llm_breaker_cooldown: float = Field(default=30.0, gt=0)

    # The intent model: trained runs are tracked, and versions registered, in MLflow.
    mlflow_tracking_uri: str | None = None  # default: a SQLite file in the instance folder
    intent_model_name: str = "chatdesk-intents"
    # Calibrated confidence needed to give an intent's response template.
    intent_response_confidence: float = Field(default=0.7, gt=0, le=1)
    # With an intent model, an article scores retrieval + weight * P(its intents), and "don't
    # know" is decided on that with its own threshold (calibrated by benchmarks/retrieval.py).
    intent_article_weight: float = Field(default=0.1, ge=0)
    intent_min_score: float = 0.69
    # Continuous training: what `chatdesk train` uses when its flags are absent (the image's
    # `train` role runs it on a schedule with these): the base examples, the held-out examples
    # that decide promotion, what each intent answers, the gain a new version must show, and
    # the out-of-scope rule's weight (docs/intent-model.md).
    train_data: Path | None = None
    train_eval: Path | None = None
    train_responses: Path | None = None
    train_min_gain: float = Field(default=0.0, ge=0, le=1)
    train_oos_recall_weight: float = Field(default=0.5, ge=0, le=1)

    staff_token_ttl: int = Field(default=8 * 3600, ge=60)
    login_rate_limit: str = "10 per minute"
    # What one customer may send: messages per conversation, and new conversations per client
    # address (behind a proxy, set trusted_proxies so the address is the customer's). Empty: no limit.
    message_rate_limit: str = "20 per minute"
    conversation_rate_limit: str = "30 per minute"
    # How many proxies in front of chatdesk set X-Forwarded-For/-Proto (an ingress: 1).
    trusted_proxies: int = Field(default=0, ge=0)
    # "mon-fri 09:00-18:00; sat 10:00-16:00"; empty means the team is always in.
    business_hours: str = ""
    business_timezone: str = "UTC"

    @model_validator(mode="after")
    def _production_needs_a_secret(self) -> Settings:
        advice = ("Generate one with `python -c 'import secrets; print(secrets.token_urlsafe(48))'` "
                  "and set it in the environment (a Kubernetes Secret, for example).")
        if self.env == "production" and self.secret_key is None:
            raise ConfigError(f"CHATDESK_SECRET_KEY is required in production. {advice}")
        if self.secret_key is not None and len(self.secret_key.get_secret_value()) < MIN_SECRET_CHARS:
            raise ConfigError(f"CHATDESK_SECRET_KEY must have at least {MIN_SECRET_CHARS} characters "
                              f"(it signs staff tokens). {advice}")
        return self

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.instance_path / 'chatdesk.db'}"

    @property
    def tracking_uri(self) -> str:
        return self.mlflow_tracking_uri or f"sqlite:///{self.instance_path / 'mlflow.db'}"

    @property
    def models_path(self) -> Path:
        """The embedder's ONNX export (intent models live in the instance's ``intent-models``)."""
        return self.models_dir or self.instance_path / "models"

    def resolved_secret_key(self) -> str:
        """The secret key; in development one is generated once and kept in the instance folder."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        key_file = self.instance_path / "secret_key"
        if key_file.exists():
            return key_file.read_text().strip()
        self.instance_path.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
        return key
