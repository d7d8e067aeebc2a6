"""chatdesk: a self-hosted customer-service chatbot platform."""

from chatdesk.app import create_app
from chatdesk.config import Settings

__version__ = "0.1.0"
__all__ = ["Settings", "__version__", "create_app"]
