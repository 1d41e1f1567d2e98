"""Metadata filters -> a SQL condition on the JSON metadata column.

{"lang": "en"}                      equality
{"tag": {"$in": ["a", "b"]}}        membership
{"year": {"$gte": 2020, "$lt": 2024}}  range ($gt, $gte, $lt, $lte, $ne)
Several keys must all hold.
"""

from __future__ import annotations

import re

OPERATORS = {"$eq": "=", "$ne": "!=", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
_KEY = re.compile(r"^[A-Za-z0-9_\-]+$")


def to_sql(filter: dict | None) -> tuple[str, list]:
    """(condition, params) for a WHERE clause; ("1", []) when there is no filter."""
    if not filter:
        return "1", []
    if not isinstance(filter, dict):
        raise ValueError(f"filter must be a dict like {{'lang': 'en'}}, got {type(filter).__name__}")
    parts: list[str] = []
    params: list = []
    for key, cond in filter.items():
        if not isinstance(key, str) or not _KEY.match(key):
            raise ValueError(f"filter key {key!r}: use letters, digits, '_' or '-'")
        field = f"json_extract(metadata, '$.\"{key}\"')"
        if not isinstance(cond, dict):
            cond = {"$eq": cond}
        if not cond:
            raise ValueError(f"filter {key!r}: an empty condition; give a value or an operator like "
                             "{'$gte': 2020}")
        for op, value in cond.items():
            if op == "$in":
                if not isinstance(value, (list, tuple)) or not value:
                    raise ValueError(f"filter {key!r}: $in takes a non-empty list")
                parts.append(f"{field} IN ({', '.join('?' * len(value))})")
                params.extend(_sql_value(v, key) for v in value)
            elif op in OPERATORS:
                parts.append(f"{field} {OPERATORS[op]} ?")
                params.append(_sql_value(value, key))
            else:
                raise ValueError(f"filter {key!r}: unknown operator {op!r}; "
                                 f"use {', '.join([*OPERATORS, '$in'])}")
    return " AND ".join(parts), params


def _sql_value(value, key: str):
    if isinstance(value, bool):
        return int(value)  # JSON true/false read back from SQLite as 1/0
    if value is None or isinstance(value, (int, float, str)):
        return value
    raise ValueError(f"filter {key!r}: values must be strings, numbers or booleans, got {type(value).__name__}")
