"""Intent understanding on the box: what a free-text message most likely asks for.

    from handlers import intents
    match = intents.classify("我想当志愿者")             # whole catalogue
    match = intents.classify(text, among={"cancel", "back", "edit", "person", "help"})
    if match and match.confident: ...                   # act on match.intent
    elif match: ...                                      # ask, offering match.intent + match.alternatives

Examples are data (examples/*.toml, one file per intent); `matcher` explains the method. They
are read and indexed on first use, not at import (`preload()` does it ahead, for the web app).
"""

from handlers.intents.catalog import FORM_CONTROLS, Intent, catalog, label, top_level
from handlers.intents.matcher import Match, classify

__all__ = ["FORM_CONTROLS", "Intent", "Match", "catalog", "classify", "label", "preload", "top_level"]


def preload() -> None:
    """Read the examples and build the index now (a web worker, before its first message)."""
    from handlers.intents.matcher import index

    index()
