"""What no text column can hold: one definition for the edge of the site and the activity records."""

import re

# NUL (PostgreSQL refuses it in text) and lone surrogates (not encodable in UTF-8).
UNSTORABLE_TEXT = re.compile("[\x00\ud800-\udfff]")
