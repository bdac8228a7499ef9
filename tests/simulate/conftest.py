import pytest

from guanxi.simulate.generator import generate_store


@pytest.fixture(scope="session")
def store():
    """A mid-sized simulated store shared by the read-only tests (about a second to make)."""
    return generate_store(4000, seed=11)


@pytest.fixture(scope="session")
def duck(store):
    """A DuckDB connection with the store's tables registered as l, e, c, p."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("l", store.order_lines)
    con.register("e", store.events)
    con.register("c", store.customers)
    con.register("p", store.products)
    return con
