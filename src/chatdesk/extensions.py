"""Flask extensions, created unbound here and bound to an app in ``create_app``."""

from flask_caching import Cache
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from chatdesk.store import sqlite as _sqlite  # noqa: F401  (registers the pragmas)
from chatdesk.store.models import Base

# Objects stay readable after a commit: a request serialises what it just stored without
# reloading it. Each request has its own session, so nothing goes stale across requests.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
cache = Cache()
# Limits are declared on the routes that need them (sign-in); storage is Redis when configured.
limiter = Limiter(key_func=get_remote_address)
