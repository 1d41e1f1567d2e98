"""Metadata filters -> a SQL condition on the JSON metadata column.

{"lang": "en"}                      equality
{"tag": {"$in": ["a", "b"]}}        membership
{"year": {"$gte": 2020, "$lt": 2024}}  range ($gt, $gte, $lt, $lte, $ne)
Several keys must all hold. A filter is bounded before SQLite sees it: at most MAX_FILTER_KEYS keys and
MAX_FILTER_VALUES values in all, and integers within SQLite's 64 bits.
"""

from __future__ import annotations

import re

OPERATORS = {"$eq": "=", "$ne": "!=", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
_KEY = re.compile(r"^[A-Za-z0-9_\-]+$")
MAX_FILTER_KEYS = 64  # keys of one filter (each a condition SQLite parses)
MAX_FILTER_VALUES = 900  # values in all, $in lists included (SQLite binds at most 999 before 3.32)
INT64 = (-(2**63), 2**63 - 1)


def to_sql(filter: dict | None) -> tuple[str, list]:
    """(condition, params) for a WHERE clause; ("1", []) when there is no filter."""
    if not filter:
        return "1", []
    if not isinstance(filter, dict):
        raise ValueError(f"filter must be a dict like {{'lang': 'en'}}, got {type(filter).__name__}")
    if len(filter) > MAX_FILTER_KEYS:
        raise ValueError(f"a filter holds {len(filter)} keys; at most {MAX_FILTER_KEYS}")
    parts: list[str] = []
    params: list = []
    for key, cond in filter.items():
        if not isinstance(key, str) or not _KEY.match(key):
            raise ValueError(f"filter key {key!r}: use letters, digits, '_' or '-'")
        field = f"json_extract(metadata, '$.\"{key}\"')"
        if not isinstance(cond, dict):
            cond = {"$eq": cond}
        if not cond:
            raise ValueError(f"filter {key!r}: an empty condition; give a value or an operator like {{'$gte': 2020}}")
        for op, value in cond.items():
            if (
                len(params) + (len(value) if op == "$in" and isinstance(value, (list, tuple)) else 1)
                > MAX_FILTER_VALUES
            ):
                raise ValueError(
                    f"a filter holds more than {MAX_FILTER_VALUES} values (at filter {key!r}); "
                    f"at most {MAX_FILTER_VALUES} in all, $in lists included"
                )
            if op == "$in":
                if not isinstance(value, (list, tuple)) or not value:
                    raise ValueError(f"filter {key!r}: $in takes a non-empty list")
                parts.append(f"{field} IN ({', '.join('?' * len(value))})")
                params.extend(_sql_value(v, key) for v in value)
            elif op in OPERATORS:
                parts.append(f"{field} {OPERATORS[op]} ?")
                params.append(_sql_value(value, key))
            else:
                raise ValueError(f"filter {key!r}: unknown operator {op!r}; use {', '.join([*OPERATORS, '$in'])}")
    return " AND ".join(parts), params


def _sql_value(value, key: str):
    if isinstance(value, bool):
        return int(value)  # JSON true/false read back from SQLite as 1/0
    if isinstance(value, int) and not INT64[0] <= value <= INT64[1]:
        raise ValueError(
            f"filter {key!r}: {value} is beyond the 64-bit integers SQLite compares ({INT64[0]} to {INT64[1]})"
        )
    if value is None or isinstance(value, (int, float, str)):
        return value
    raise ValueError(f"filter {key!r}: values must be strings, numbers or booleans, got {type(value).__name__}")
