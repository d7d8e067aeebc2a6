"""Readiness: can this process serve replies right now?"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import text

from chatdesk.extensions import cache, db
from chatdesk.services import knowledge
from chatdesk.services.runtime import current_runtime


def _check(name: str, checks: dict[str, Any], probe: Any) -> None:
    started = time.perf_counter()
    try:
        detail = probe()
        checks[name] = {"ok": True, **(detail or {})}
    except Exception as error:  # a readiness probe reports, it does not raise
        checks[name] = {"ok": False, "error": f"{type(error).__name__}: {error}"}
    checks[name]["ms"] = round((time.perf_counter() - started) * 1000, 2)


def _database() -> dict[str, Any]:
    db.session.execute(text("SELECT 1"))
    return {"backend": db.engine.dialect.name}


def _cache() -> dict[str, Any]:
    cache.set("chatdesk:readyz", "1", timeout=10)
    if cache.get("chatdesk:readyz") != "1":
        raise RuntimeError("the cache did not return what was stored")
    return {"backend": type(cache.cache).__name__}


def _knowledge() -> dict[str, Any]:
    index = knowledge.current_index()
    return {"version": index.version, "chunks": len(index),
            "embedder": current_runtime().embedder().name}


#: Without these no reply can be stored or made. A cache that is down only slows replies, and an
#: intent model that failed to load leaves the previous one (or retrieval alone) answering, so
#: they are reported but do not take the process out of a load balancer.
CRITICAL = ("database", "knowledge")


def _intent_model() -> dict[str, Any]:
    runtime = current_runtime()
    serving = runtime.intents.current(db.session(), runtime.settings, runtime.embedder())
    if runtime.intents.error:
        raise RuntimeError(runtime.intents.error)
    return {"version": serving.version if serving is not None else None}


def readiness() -> dict[str, Any]:
    checks: dict[str, Any] = {}
    _check("database", checks, _database)
    _check("cache", checks, _cache)
    _check("knowledge", checks, _knowledge)
    _check("intent_model", checks, _intent_model)
    ready = all(checks[name]["ok"] for name in CRITICAL)
    degraded = [name for name, check in checks.items() if not check["ok"] and name not in CRITICAL]
    return {"ready": ready, "degraded": degraded, "checks": checks}
