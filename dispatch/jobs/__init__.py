"""Background work as dramatiq jobs: snapshot -> one job per batch -> finalize.

:mod:`.broker` builds the broker from ``DISPATCH_BROKER_URL``; :mod:`.tasks` declares
the actors on it; :mod:`.queue` sends messages only after the transaction they
depend on commits; :mod:`.preflight` checks the settings a channel needs before work
starts; :mod:`.worker` runs workers (in this process for the embedded
broker, or supervised worker processes for Redis and RabbitMQ).
"""
