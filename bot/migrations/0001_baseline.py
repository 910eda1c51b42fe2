"""Version 1: the data as the code wrote it when schema versions began (November 2026, with the
`withdrawn` case status). Nothing to change: a database without a version was made by that code."""


def up(db) -> None:
    pass
