"""Intent understanding on the box: what a free-text message most likely asks for.

    from handlers import intents
    match = intents.classify("我想当志愿者")             # whole catalogue
    match = intents.classify(text, among={"cancel", "back", "edit", "person", "help"})
    if match and match.confident: ...                   # act on match.intent
    elif match: ...                                      # ask, offering match.intent + match.alternatives

Examples are data (examples/*.toml, one file per intent); `matcher` explains the method.
"""

from handlers.intents.catalog import CATALOG, FORM_CONTROLS, TOP_LEVEL, Intent, label
from handlers.intents.matcher import Match, classify

__all__ = ["CATALOG", "FORM_CONTROLS", "TOP_LEVEL", "Intent", "Match", "classify", "label"]
