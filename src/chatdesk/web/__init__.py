"""The pages the app serves: the customer chat page, the knowledge-base articles it cites, and the
agents' console (a static page: it signs in and talks to the staff API from the browser)."""

from __future__ import annotations

import html
import re

from flask import Blueprint, Flask, abort, render_template
from markdown_it import MarkdownIt

from chatdesk.retrieval.parsing import slugify
from chatdesk.services import knowledge
from chatdesk.services.runtime import current_settings

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static",
               static_url_path="/assets")

# Articles are rendered without raw HTML: an ingested file cannot inject script into the page.
_markdown = MarkdownIt("commonmark", {"html": False}).enable("table")


def _heading_ids(page: str) -> str:
    """Give h2/h3 ids so a source link can point at the section it quotes."""

    def add_id(match: re.Match[str]) -> str:
        text = html.unescape(re.sub(r"<[^>]+>", "", match.group(2)))  # as the heading was written
        return f'<{match.group(1)} id="{slugify(text)}">{match.group(2)}</{match.group(1)}>'

    return re.sub(r"<(h[23])>(.*?)</h[23]>", add_id, page)


@bp.context_processor
def _company() -> dict[str, str]:
    return {"company": current_settings().company_name}


@bp.get("/")
def chat() -> str:
    return render_template("chat.html")


@bp.get("/console")
def console() -> str:
    return render_template("console.html")


@bp.get("/kb")
def articles() -> str:
    return render_template("articles.html", documents=knowledge.list_documents())


@bp.get("/kb/<slug>")
def article(slug: str) -> str:
    document = knowledge.get_document(slug)
    if document is None:
        abort(404, f"There is no article {slug!r}.")
    body = document.body if document.format != "text" else document.body.replace("\n", "  \n")
    rendered = _heading_ids(_markdown.render(body)) if document.format != "html" else None
    return render_template("article.html", document=document, html=rendered)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
