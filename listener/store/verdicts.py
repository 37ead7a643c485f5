"""The verdict in SQL: a person's marks over the scorer's verdict, the compound for older items."""

from __future__ import annotations

from dataclasses import dataclass

from listener.store.base import Queries

# The verdict decides where there is one; an item judged before verdicts existed falls back on
# VADER's compound against the thresholds (the parameter).
# A person's mark (`listener mark`, table marks) wins over the scorer's verdict, everywhere.
MARKED_SENTIMENT = ("COALESCE((SELECT value FROM marks WHERE marks.item_id = items.id AND marks.field = 'sentiment'),"
                    " items.sentiment)")
MARKED_COMPLAINT = ("COALESCE((SELECT CAST(value AS INTEGER) FROM marks WHERE marks.item_id = items.id"
                    " AND marks.field = 'complaint'), items.complaint)")
NEGATIVE = f"({MARKED_SENTIMENT} = 'negative' OR {MARKED_COMPLAINT} = 1 OR ({MARKED_SENTIMENT} IS NULL AND items.compound <= ?))"
POSITIVE = f"({MARKED_SENTIMENT} = 'positive' OR ({MARKED_SENTIMENT} IS NULL AND items.compound >= ?))"


@dataclass(frozen=True)
class VerdictSQL:
    """The verdict's SQL for one query: with no mark in the database (most of the time), the plain
    columns, so a scan of many rows makes no look-up in `marks` per row."""

    sentiment: str
    complaint: str
    negative: str  # takes the threshold as its one parameter
    positive: str


def verdict_sql(db: Queries) -> VerdictSQL:
    if db.execute("SELECT 1 FROM marks LIMIT 1").fetchone():
        return VerdictSQL(MARKED_SENTIMENT, MARKED_COMPLAINT, NEGATIVE, POSITIVE)
    return VerdictSQL("items.sentiment", "items.complaint",
                      "(items.sentiment = 'negative' OR items.complaint = 1"
                      " OR (items.sentiment IS NULL AND items.compound <= ?))",
                      "(items.sentiment = 'positive' OR (items.sentiment IS NULL AND items.compound >= ?))")
