"""The site's session store: Django's database sessions, with the one read every request with a cookie makes done as
a plain SQL query.

A prediction from a browser with a session reads that session (is it stored and not expired? recognizer.http's
visitor_of asks) before it can say which model serves it. Through the ORM that read cost more than everything the
session's personal model adds to the prediction (about 0.25 ms of query building on an idle core, three times that
on a busy one); one indexed query on the session key costs a tenth of it. Everything else (writing, expiry,
clearing) is Django's own.
"""

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import connections, router
from django.utils import timezone


class _Stored:
    __slots__ = ("session_data",)

    def __init__(self, session_data: str) -> None:
        self.session_data = session_data


class SessionStore(DatabaseSessionStore):
    def _get_session_from_db(self) -> _Stored | None:
        """The stored session's data while it has not expired; None (and the key forgotten, as Django does) for a
        key that names no live stored session, so a forged or expired cookie makes no visitor."""
        connection = connections[router.db_for_read(self.model)]
        table = connection.ops.quote_name(self.model._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT session_data FROM {table} WHERE session_key = %s AND expire_date > %s",
                           [self.session_key, connection.ops.adapt_datetimefield_value(timezone.now())])
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return None
        return _Stored(row[0])
