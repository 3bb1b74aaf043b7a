"""Intent understanding on the box: what a free-text message most likely asks for.

    from handlers import intents
    match = intents.classify("我想当志愿者")             # whole catalogue
    match = intents.classify(text, among={"cancel", "back", "edit", "person", "help"})
    if match and match.confident: ...                   # act on match.intent
    elif match: ...                                      # ask, offering match.intent + match.alternatives

Examples are data (examples/*.toml, one file per intent); `matcher` explains the method. They
are read and indexed on first use, not at import (`preload()` does it ahead, for the web app).
"""

from handlers.intents import catalog as _catalog
from handlers.intents.catalog import FORM_CONTROLS, Intent, label
from handlers.intents.matcher import Match, classify

__all__ = ["CATALOG", "FORM_CONTROLS", "TOP_LEVEL", "Intent", "Match", "classify", "label", "preload"]


def preload() -> None:
    """Read the examples and build the index now (a web worker, before its first message)."""
    from handlers.intents.matcher import index

    index()


def __getattr__(name: str):
    if name in ("CATALOG", "TOP_LEVEL"):  # loaded on first use (catalog.__getattr__)
        return getattr(_catalog, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
