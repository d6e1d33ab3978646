"""Django's SQLite backend, with each transaction's BEGIN and COMMIT sent straight to the driver's connection.

Django opens a cursor of its own for every BEGIN on SQLite (it stays in autocommit mode and begins transactions
explicitly). That cursor, its wrappers and its checks cost more per transaction than the BEGIN itself: on a
warm `record_event`, one transaction per event, going around them measured 10 to 20 % faster. Its COMMIT runs
inside a timing context that only matters when queries are logged. Whenever the SQL is being watched (DEBUG's
query log, `assertNumQueries`, execute wrappers), BEGIN and COMMIT take Django's own path, so they are seen as
before.

Used as the ENGINE of SQLite databases (see settings); everything else is Django's backend as it is.
"""

from __future__ import annotations

from django.db.backends.sqlite3 import base


class DatabaseWrapper(base.DatabaseWrapper):
    def _start_transaction_under_autocommit(self) -> None:
        if self.queries_logged or self.execute_wrappers:
            super()._start_transaction_under_autocommit()
            return
        # set_autocommit, the only caller, has just checked the connection's health and opened it
        self.validate_thread_sharing()
        with self.wrap_database_errors:
            self.connection.execute("BEGIN" if self.transaction_mode is None else f"BEGIN {self.transaction_mode}")

    def _commit(self) -> None:
        if self.queries_logged or self.connection is None:
            super()._commit()
            return
        with self.wrap_database_errors:
            self.connection.commit()
