"""Normalized SQL made readable in the admin: a line break before each main clause,
keywords and placeholders highlighted, long lines wrapped by CSS (``dbopt-sql``).

Presentation only: the text is escaped first, so nothing in a query can become markup.
"""

from __future__ import annotations

import re

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

CLAUSES = (
    r"SELECT|FROM|WHERE|GROUP BY|ORDER BY|HAVING|LIMIT|OFFSET|VALUES|SET|RETURNING|"
    r"(?:LEFT |RIGHT |FULL |INNER |CROSS )?(?:OUTER )?JOIN|UNION(?: ALL)?|ON CONFLICT"
)
KEYWORDS = (
    r"SELECT|FROM|WHERE|AND|OR|NOT|IN|IS|NULL|AS|ON|JOIN|LEFT|RIGHT|FULL|INNER|OUTER|CROSS|"
    r"GROUP|ORDER|BY|HAVING|LIMIT|OFFSET|INSERT|INTO|VALUES|UPDATE|SET|DELETE|RETURNING|"
    r"DISTINCT|CASE|WHEN|THEN|ELSE|END|EXISTS|UNION|ALL|ASC|DESC|WITH|COUNT|LIKE|ILIKE|"
    r"BETWEEN|CONFLICT|DO|NOTHING|FOR|SAVEPOINT|RELEASE|ROLLBACK|BEGIN|COMMIT|CREATE|ALTER|"
    r"TABLE|INDEX|DROP|ADD|COLUMN|CONSTRAINT|PRIMARY|KEY|FOREIGN|REFERENCES|UNIQUE|DEFAULT"
)
_BREAK = re.compile(rf"\s+(?=(?:{CLAUSES})\b)")
_KEYWORD = re.compile(rf"\b(?:{KEYWORDS})\b")
_PLACEHOLDER = re.compile(r"(?<![\w&#])\?")


def highlight_sql(sql: str) -> SafeString:
    broken = _BREAK.sub("\n", sql.strip())
    html = str(escape(broken))
    html = _KEYWORD.sub(lambda m: f'<b class="dbopt-kw">{m.group(0)}</b>', html)
    html = _PLACEHOLDER.sub('<i class="dbopt-ph">?</i>', html)
    return mark_safe(html)  # noqa: S308 - escaped above; only our tags added
