"""Turn markdown, HTML and plain-text files into titled sections of sentences and bullets."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from bs4 import BeautifulSoup
from markdown_it import MarkdownIt
from markdown_it.token import Token

SUPPORTED_SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".txt": "text",
                      ".html": "html", ".htm": "html"}

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(£$€])")
_SPACES = re.compile(r"\s+")
_LINK = "\ue000"
_REFERENCE = re.compile(r"https?://|(?<![\w/])/[a-z0-9][\w-]*/[\w/#-]+")


@dataclass(frozen=True)
class Unit:
    """A sentence of a paragraph, or one bullet of a list."""

    text: str
    bullet: bool = False
    has_link: bool = False

    @property
    def refers_elsewhere(self) -> bool:
        """It points at another page ("see /kb/returns")."""
        return self.has_link or bool(_REFERENCE.search(self.text))


@dataclass
class Section:
    heading: str
    units: list[Unit] = field(default_factory=list)


@dataclass
class ParsedDocument:
    title: str
    sections: list[Section]


class UnsupportedFormat(ValueError):
    pass


def slugify(text: str) -> str:
    """Lower-case words joined by hyphens: an article's slug, and a section's URL anchor
    (the article page gives each heading this id, and sources link to it)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def split_sentences(paragraph: str) -> list[str]:
    text = _SPACES.sub(" ", paragraph).strip()
    return [part for part in _SENTENCE_END.split(text) if part]


def parse_file(path: Path) -> tuple[str, ParsedDocument]:
    """Parse one file by its suffix; returns the format name and the document."""
    kind = SUPPORTED_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise UnsupportedFormat(f"{path}: unsupported file type {path.suffix!r}")
    return kind, parse_text(decode_document(path.read_bytes()), kind, fallback_title=_title_from_name(path))


def decode_document(raw: bytes) -> str:
    """A file's text: UTF-8, without a byte-order mark (Windows editors write one, and it would
    hide a first heading) or NUL characters (they carry nothing, and PostgreSQL cannot store them).
    Anything that is not UTF-8 raises ``UnicodeDecodeError``."""
    return raw.decode("utf-8-sig").replace("\x00", "")


def parse_text(text: str, kind: str, fallback_title: str) -> ParsedDocument:
    parser = {"markdown": parse_markdown, "html": parse_html, "text": parse_plain}[kind]
    return parser(text, fallback_title)


def _title_from_name(path: Path) -> str:
    return path.stem.replace("-", " ").replace("_", " ").strip().capitalize()


def _inline_text(token: Token) -> str:
    """The plain text of an inline token; each link's text starts with ``_LINK`` (a private mark)."""
    parts: list[str] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content.replace(_LINK, ""))
        elif child.type == "link_open":
            parts.append(_LINK)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return "".join(parts).strip()


def _unit(text: str, bullet: bool = False) -> Unit:
    return Unit(text.replace(_LINK, ""), bullet=bullet, has_link=_LINK in text)


def parse_markdown(text: str, fallback_title: str) -> ParsedDocument:
    tokens = MarkdownIt("commonmark").parse(text)
    title = ""
    sections: list[Section] = []
    current: Section | None = None
    in_list = 0
    pending_heading: str | None = None
    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            pending_heading = token.tag
        elif token.type == "inline" and pending_heading is not None:
            heading = _inline_text(token).replace(_LINK, "")
            if pending_heading == "h1" and not title:
                title = heading
                current = Section(heading="")
            else:
                current = Section(heading=heading)
            sections.append(current)
            pending_heading = None
        elif token.type in ("bullet_list_open", "ordered_list_open"):
            in_list += 1
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            in_list -= 1
        elif token.type == "inline" and tokens[index - 1].type == "paragraph_open":
            if current is None:
                current = Section(heading="")
                sections.append(current)
            content = _inline_text(token)
            if in_list:
                current.units.append(_unit(_SPACES.sub(" ", content), bullet=True))
            else:
                current.units.extend(_unit(s) for s in split_sentences(content))
    return ParsedDocument(title=title or fallback_title, sections=[s for s in sections if s.units])


def parse_html(text: str, fallback_title: str) -> ParsedDocument:
    soup = BeautifulSoup(text, "html.parser")
    for tag in soup(["script", "style", "nav", "footer", "header"]):
        tag.decompose()
    title_tag = soup.find("title")
    title = title_tag.get_text(" ", strip=True) if title_tag else ""
    sections: list[Section] = [Section(heading="")]
    for element in soup.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "li"]):
        content = _SPACES.sub(" ", element.get_text(" ", strip=True))
        if not content:
            continue
        if element.name == "h1" and not title:
            title = content
        elif element.name.startswith("h"):
            sections.append(Section(heading=content))
        elif element.name == "li":
            sections[-1].units.append(Unit(content, bullet=True))
        elif element.find_parent("li") is None:
            sections[-1].units.extend(Unit(s) for s in split_sentences(content))
    return ParsedDocument(title=title or fallback_title, sections=[s for s in sections if s.units])


def parse_plain(text: str, fallback_title: str) -> ParsedDocument:
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    title = fallback_title
    if paragraphs and "\n" not in paragraphs[0] and len(paragraphs[0]) <= 120:
        title = paragraphs.pop(0).lstrip("# ").strip()
    section = Section(heading="")
    for paragraph in paragraphs:
        lines = paragraph.splitlines()
        if all(line.lstrip().startswith(("- ", "* ", "• ")) for line in lines):
            section.units.extend(Unit(line.lstrip()[2:].strip(), bullet=True) for line in lines)
        else:
            section.units.extend(Unit(s) for s in split_sentences(paragraph))
    return ParsedDocument(title=title, sections=[section] if section.units else [])
