"""Identity resolution runs nightly (before the analytics refresh, which is registered later).

Imported from ``CustomersConfig.ready()``.
"""

import logging

from guanxi.tasks import schedule_job

log = logging.getLogger("guanxi.identity")


@schedule_job("nightly")
def resolve_identities_nightly():
    from guanxi.customers.resolution import resolve_identities

    result = resolve_identities()
    log.info("identity resolution: %s", result)
    return result
